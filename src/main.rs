//! The `ogrom` binary: parse configuration, start logging, run the subcommand.

use std::process::ExitCode;

use ogrom::config::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse_or_exit();
    let stdout_is_output = matches!(cli.command, Command::Schema | Command::Token(_));
    if let Err(error) = ogrom::run::init_telemetry(&cli.log, stdout_is_output) {
        eprintln!("error: {error:#}");
        return ExitCode::from(2);
    }
    match ogrom::run::main(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(message = "ogrom failed", error = format!("{error:#}"));
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
