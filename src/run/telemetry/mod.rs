//! Run layer: logging. Structured JSON lines in the ecs-logging layout on stdout (or plain
//! text for people), filtered by `OGROM_LOG`, and optionally shipped to logstash.
//!
//! The JSON line is built by `json`; `logstash` queues and ships it. Shipping works
//! with either console format, so `text` for people and logstash for the pipeline combine.

mod console;
mod json;
mod logstash;

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use self::console::Console;
use self::json::{JsonLayer, LineSink};
use self::logstash::Shipper;
use crate::config::{LogArgs, LogFormat};

/// Handle on the process's logging: counters for metrics and a flush for shutdown.
/// The default ships nothing and counts zero (for tests that need a handle).
#[derive(Debug, Clone, Default)]
pub struct Logs {
    /// Present when logstash is configured.
    shipper: Option<Shipper>,
    /// Present when JSON lines go to stdout.
    console: Option<Console>,
}

impl Logs {
    /// Whether lines are shipped to logstash.
    pub fn shipping(&self) -> bool {
        self.shipper.is_some()
    }

    /// Lines written to logstash.
    pub fn shipped(&self) -> u64 {
        self.shipper.as_ref().map_or(0, Shipper::shipped)
    }

    /// Lines dropped because the logstash queue was full.
    pub fn dropped(&self) -> u64 {
        self.shipper.as_ref().map_or(0, Shipper::dropped)
    }

    /// Lines dropped because stdout fell behind (see `console`).
    pub fn console_dropped(&self) -> u64 {
        self.console.as_ref().map_or(0, Console::dropped)
    }

    /// Lines waiting for logstash now.
    pub fn queued(&self) -> u64 {
        self.shipper.as_ref().map_or(0, Shipper::queued)
    }

    /// Whether the connection to logstash is up.
    pub fn connected(&self) -> bool {
        self.shipper.as_ref().is_some_and(Shipper::connected)
    }

    /// Writes out what was logged before the call: stdout, and logstash unless `within`
    /// passes first (logstash may be down; shutdown must not hang on it).
    pub async fn flush(&self, within: Duration) {
        if let Some(console) = self.console.clone() {
            let _ = tokio::task::spawn_blocking(move || console.flush(within)).await;
        }
        // Nowhere to report a stdout that cannot be written.
        let _ = std::io::stdout().flush();
        if let Some(shipper) = &self.shipper {
            shipper.flush(within).await;
        }
    }
}

/// Installs the global subscriber and, with `logstash_addr`, starts the shipper (so it must
/// run inside the tokio runtime). A bad filter is a configuration error. Commands whose
/// stdout is their product (`schema`, `token`) log to stderr instead.
pub fn init(args: &LogArgs, to_stderr: bool) -> anyhow::Result<Logs> {
    let filter = EnvFilter::try_new(&args.log)
        .map_err(|e| anyhow::anyhow!("invalid OGROM_LOG filter {:?}: {e}", args.log))?;
    let shipper = match &args.logstash_addr {
        Some(address) => Some(Shipper::spawn(
            address.clone(),
            args.logstash_queue as usize,
        )?),
        None => None,
    };
    let mut sinks: Vec<LineSink> = Vec::new();
    let mut console = None;
    if args.log_format == LogFormat::Json {
        if to_stderr {
            sinks.push(stderr());
        } else {
            let stdout = Console::spawn(std::io::stdout())?;
            let lines = stdout.clone();
            sinks.push(Arc::new(move |line: &[u8]| lines.write(line)));
            console = Some(stdout);
        }
    }
    if let Some(shipper) = shipper.clone() {
        sinks.push(Arc::new(move |line: &[u8]| shipper.ship(line.to_vec())));
    }
    let json = (!sinks.is_empty()).then(|| JsonLayer::new(args.service_name.clone(), sinks));
    let text = (args.log_format == LogFormat::Text).then(|| {
        tracing_subscriber::fmt::layer().with_writer(move || -> Box<dyn std::io::Write> {
            if to_stderr {
                Box::new(std::io::stderr())
            } else {
                Box::new(std::io::stdout())
            }
        })
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(json)
        .with(text)
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))?;
    Ok(Logs { shipper, console })
}

/// Writes each line to stderr in one call on the locked stream, so lines from concurrent
/// threads never interleave. For the commands whose stdout is their product: they log
/// little, and exit right after.
fn stderr() -> LineSink {
    // A console that cannot be written has nowhere to report it: the line is lost.
    Arc::new(|line: &[u8]| {
        let _ = std::io::stderr().lock().write_all(line);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(filter: &str) -> LogArgs {
        LogArgs {
            log_format: LogFormat::Json,
            log: filter.to_owned(),
            service_name: "ogrom".to_owned(),
            logstash_addr: None,
            logstash_queue: 10,
        }
    }

    #[test]
    fn a_bad_filter_is_an_error_naming_ogrom_log() {
        let error = init(&args("ogrom=notalevel"), false).expect_err("a bad filter");

        assert!(error.to_string().contains("OGROM_LOG"), "{error}");
    }

    #[tokio::test]
    async fn default_handle_ships_nothing_and_flushes_at_once() {
        let logs = Logs::default();

        tokio::time::timeout(
            Duration::from_millis(100),
            logs.flush(Duration::from_secs(5)),
        )
        .await
        .expect("flush without logstash returns at once");

        assert!(!logs.shipping() && !logs.connected());
        assert_eq!((logs.shipped(), logs.dropped(), logs.queued()), (0, 0, 0));
    }
}
