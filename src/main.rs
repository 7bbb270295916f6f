//! The `ogrom` binary: parse configuration, start logging, run the subcommand.

use std::process::ExitCode;

use ogrom::config::{Cli, Command};

/// mimalloc instead of glibc's malloc: a request allocates and frees many small objects
/// across worker threads, which glibc spent 18% of a home feed's CPU on (perf), and its
/// per-thread arenas kept the resident memory of a burst long after it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse_or_exit();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Command::Serve(args) = &cli.command
        && let Some(threads) = args.worker_threads
    {
        runtime.worker_threads(threads.into());
    }
    match runtime.enable_all().build() {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> ExitCode {
    // `schema` is offline and logs nothing: its stdout is the product, and the exit status of
    // `schema diff` is its verdict.
    if let Command::Schema(args) = &cli.command {
        return ogrom::run::schema::main(args);
    }
    // `healthcheck` logs nothing either: the container engine runs it every few seconds and
    // reads its exit status.
    if let Command::Healthcheck(args) = &cli.command {
        return ogrom::run::healthcheck::main(args).await;
    }
    let stdout_is_output = matches!(cli.command, Command::Token(_));
    let logs = match ogrom::run::init_telemetry(&cli.log, stdout_is_output) {
        Ok(logs) => logs,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::from(2);
        }
    };
    match ogrom::run::main(cli, logs).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
