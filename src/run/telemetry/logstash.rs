//! Run layer: ships JSON log lines to logstash (its `tcp` input with the `json_lines` codec).
//!
//! Logging hands each line to a bounded queue without waiting; one background task writes
//! the queue to a TCP connection and reconnects with backoff. A slow or absent logstash so
//! costs dropped lines, counted, and never a stalled request.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// First pause after a failed connection; doubled after each further failure.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between connection attempts: how stale logs may get once logstash is back.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A peer that takes no byte for this long is treated as dead, so the connection is
/// replaced instead of holding the queue forever.
const WRITE_STALL: Duration = Duration::from_secs(30);
/// Lines taken from the queue for one write: large enough to amortise syscalls.
const BATCH_BYTES: usize = 64 * 1024;

/// What travels through the queue.
enum Item {
    /// One JSON line, newline-terminated.
    Line(Vec<u8>),
    /// Answered once every line queued before it is written.
    Flush(oneshot::Sender<()>),
}

/// Shared by the handle, the layer and the task; read by metrics.
#[derive(Debug, Default)]
struct Counters {
    /// Lines the queue took; with `shipped`, gives the lines waiting.
    accepted: AtomicU64,
    shipped: AtomicU64,
    dropped: AtomicU64,
    connected: AtomicBool,
}

/// The sending side of the shipper: cheap to clone, never blocks on `ship`.
#[derive(Debug, Clone)]
pub(super) struct Shipper {
    queue: mpsc::Sender<Item>,
    counters: Arc<Counters>,
}

impl Shipper {
    /// Starts the task writing to `address` (`host:port`, resolved again on each connect
    /// since the address behind a name may change). Needs a tokio runtime.
    pub(super) fn spawn(address: String, capacity: usize) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| anyhow::anyhow!("logstash shipping needs the tokio runtime: {e}"))?;
        let (queue, lines) = mpsc::channel(capacity.max(1));
        let counters = Arc::new(Counters::default());
        runtime.spawn(run(address, lines, Arc::clone(&counters)));
        Ok(Self { queue, counters })
    }

    /// Queues one line; drops and counts it when the queue is full. Never logs: it runs
    /// inside the logging layer, where an event would recurse.
    pub(super) fn ship(&self, line: Vec<u8>) {
        match self.queue.try_send(Item::Line(line)) {
            Ok(()) => self.counters.accepted.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.counters.dropped.fetch_add(1, Ordering::Relaxed),
        };
    }

    /// Waits until every line queued before the call is written, or `within` passes
    /// (logstash may be down). Returns whether everything was written.
    pub(super) async fn flush(&self, within: Duration) -> bool {
        let (done, written) = oneshot::channel();
        let wait = async {
            self.queue.send(Item::Flush(done)).await.ok()?;
            written.await.ok()
        };
        matches!(tokio::time::timeout(within, wait).await, Ok(Some(())))
    }

    pub(super) fn shipped(&self) -> u64 {
        self.counters.shipped.load(Ordering::Relaxed)
    }

    pub(super) fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// Lines accepted and not yet written, including one the task may hold in hand.
    pub(super) fn queued(&self) -> u64 {
        let accepted = self.counters.accepted.load(Ordering::Relaxed);
        accepted.saturating_sub(self.shipped())
    }

    pub(super) fn connected(&self) -> bool {
        self.counters.connected.load(Ordering::Relaxed)
    }
}

/// The task: connect, write until the connection fails, reconnect. Ends when every sender
/// is gone and everything queued is written.
async fn run(address: String, mut queue: mpsc::Receiver<Item>, counters: Arc<Counters>) {
    let mut batch = Batch::default();
    let mut backoff = MIN_BACKOFF;
    // State changes are logged once each: a down logstash must not add a line per attempt.
    // Once down is reported, only a connection (reported as such, then lost) changes it.
    let mut reported_down = false;
    loop {
        let stream = match connect(&address).await {
            Ok(stream) => stream,
            Err(error) => {
                if !reported_down {
                    tracing::warn!(message = "logstash unreachable; retrying", %address, %error);
                    reported_down = true;
                }
                if queue.is_closed() && queue.is_empty() {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = MIN_BACKOFF;
        counters.connected.store(true, Ordering::Relaxed);
        tracing::info!(message = "logstash connected", %address);
        let outcome = ship(&stream, &mut queue, &mut batch, &counters).await;
        counters.connected.store(false, Ordering::Relaxed);
        match outcome {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(message = "logstash connection lost; reconnecting", %address, %error);
                reported_down = true;
            }
        }
    }
}

/// Resolves `address` afresh and connects, giving up after `CONNECT_TIMEOUT`.
async fn connect(address: &str) -> io::Result<TcpStream> {
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await {
        Ok(connected) => connected,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
    }
}

/// Writes the queue to one connection until it fails (the unwritten lines stay in `batch`
/// for the next one) or the queue is closed and drained.
async fn ship(
    stream: &TcpStream,
    queue: &mut mpsc::Receiver<Item>,
    batch: &mut Batch,
    counters: &Counters,
) -> io::Result<()> {
    loop {
        if batch.bytes.is_empty() {
            // Idle: also watch the socket, so a logstash restart is noticed (and reported)
            // now rather than by losing the next line into a dead connection.
            tokio::select! {
                item = queue.recv() => match item {
                    Some(item) => batch.push(item),
                    None => return Ok(()),
                },
                ready = stream.readable() => {
                    ready?;
                    check_open(stream)?;
                    continue;
                }
            }
        }
        // A line and logstash's close may arrive together; the socket's readiness is only
        // known once the runtime has polled for I/O, which yielding lets it do first.
        tokio::task::yield_now().await;
        check_open(stream)?;
        while batch.bytes.len() < BATCH_BYTES {
            match queue.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let (written, outcome) = write(stream, &batch.bytes).await;
        let lines = batch.consume(written);
        counters.shipped.fetch_add(lines, Ordering::Relaxed);
        outcome?;
    }
}

/// Fails when the peer has closed the connection. Logstash never sends anything, so
/// readable means closed (a read of 0) or an error; stray bytes are discarded.
fn check_open(stream: &TcpStream) -> io::Result<()> {
    let mut scratch = [0u8; 256];
    match stream.try_read(&mut scratch) {
        Ok(0) => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "closed by logstash",
        )),
        Ok(_) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::WouldBlock => Ok(()),
        Err(error) => Err(error),
    }
}

/// Writes `bytes`, returning how many were written even on failure, so that the lines
/// already sent are not sent twice.
async fn write(stream: &TcpStream, bytes: &[u8]) -> (usize, io::Result<()>) {
    let mut written = 0;
    while written < bytes.len() {
        match tokio::time::timeout(WRITE_STALL, stream.writable()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return (written, Err(error)),
            Err(_) => {
                let stalled = io::Error::new(io::ErrorKind::TimedOut, "logstash takes no data");
                return (written, Err(stalled));
            }
        }
        match stream.try_write(&bytes[written..]) {
            Ok(0) => return (written, Err(io::ErrorKind::WriteZero.into())),
            Ok(n) => written += n,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return (written, Err(error)),
        }
    }
    (written, Ok(()))
}

/// Lines taken from the queue and not yet written, kept across connections.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    /// Offset just past each line in `bytes`, so a failed write keeps whole lines only.
    ends: VecDeque<usize>,
    /// Flush requests, each answered once `bytes` up to its offset are written.
    flushes: Vec<(usize, oneshot::Sender<()>)>,
}

impl Batch {
    fn push(&mut self, item: Item) {
        match item {
            Item::Line(line) => {
                self.bytes.extend_from_slice(&line);
                if !line.ends_with(b"\n") {
                    self.bytes.push(b'\n');
                }
                self.ends.push_back(self.bytes.len());
            }
            // Nothing before it is pending: answered at once (a gone waiter is fine).
            Item::Flush(done) if self.bytes.is_empty() => {
                let _ = done.send(());
            }
            Item::Flush(done) => self.flushes.push((self.bytes.len(), done)),
        }
    }

    /// Forgets the lines wholly within the first `written` bytes and answers the flushes
    /// they complete. A line written in part stays, to be sent whole on the next
    /// connection. Returns the number of lines written.
    fn consume(&mut self, written: usize) -> u64 {
        let mut lines = 0;
        let mut done = 0;
        while let Some(&end) = self.ends.front().filter(|&&end| end <= written) {
            self.ends.pop_front();
            done = end;
            lines += 1;
        }
        self.bytes.drain(..done);
        for end in &mut self.ends {
            *end -= done;
        }
        for (offset, waiter) in std::mem::take(&mut self.flushes) {
            if offset <= done {
                let _ = waiter.send(());
            } else {
                self.flushes.push((offset - done, waiter));
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use serde_json::Value;
    use tokio::net::TcpListener;

    use super::*;

    fn line(n: u64) -> Vec<u8> {
        format!("{{\"message\":\"line {n}\",\"n\":{n}}}\n").into_bytes()
    }

    /// An address where nothing listens: bound, then released.
    async fn closed_address() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        listener.local_addr().expect("address").to_string()
    }

    /// Accepts one connection and reads `count` JSON lines from it.
    async fn receive(listener: &TcpListener, count: usize) -> Vec<Value> {
        let read = async {
            let (stream, _) = listener.accept().await.expect("accept");
            let mut bytes = Vec::new();
            while bytes.iter().filter(|&&b| b == b'\n').count() < count {
                stream.readable().await.expect("readable");
                let mut chunk = [0u8; 4096];
                match stream.try_read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => bytes.extend_from_slice(&chunk[..n]),
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                    Err(error) => panic!("read failed: {error}"),
                }
            }
            let lines = bytes.split(|&b| b == b'\n').filter(|line| !line.is_empty());
            lines
                .map(|line| serde_json::from_slice(line).expect("a JSON line"))
                .collect()
        };
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("the lines arrive in time")
    }

    fn numbers(lines: &[Value]) -> Vec<u64> {
        lines.iter().filter_map(|line| line["n"].as_u64()).collect()
    }

    #[tokio::test]
    async fn ships_lines_in_order_as_json_lines() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        let shipper = Shipper::spawn(address, 1000).expect("spawn");

        for n in 0..200 {
            shipper.ship(line(n));
        }

        assert!(
            shipper.flush(Duration::from_secs(5)).await,
            "flush timed out"
        );
        let lines = receive(&listener, 200).await;
        assert_eq!(numbers(&lines), (0..200).collect::<Vec<_>>());
        assert_eq!(lines[7]["message"], "line 7");
        assert_eq!(
            (shipper.shipped(), shipper.dropped(), shipper.queued()),
            (200, 0, 0)
        );
        assert!(shipper.connected());
    }

    #[tokio::test]
    async fn full_queue_drops_lines_without_waiting_when_logstash_is_down() {
        let capacity = 100;
        let sent = 10_000;
        let shipper = Shipper::spawn(closed_address().await, capacity as usize).expect("spawn");

        let started = Instant::now();
        for n in 0..sent {
            shipper.ship(line(n));
        }
        let sending = started.elapsed();

        assert!(sending < Duration::from_secs(1), "sending took {sending:?}");
        // The task may hold one line taken from the queue besides the queue's own.
        let dropped = shipper.dropped();
        assert!(dropped > 0);
        assert!(
            (sent - capacity - 1..=sent - capacity).contains(&dropped),
            "dropped {dropped}"
        );
        assert_eq!(shipper.queued(), sent - dropped);
        let started = Instant::now();
        assert!(!shipper.flush(Duration::from_millis(100)).await);
        let flushing = started.elapsed();
        assert!(
            flushing >= Duration::from_millis(100) && flushing < Duration::from_secs(1),
            "flush took {flushing:?}"
        );
        assert!(!shipper.connected());
    }

    #[tokio::test]
    async fn lines_queued_while_logstash_is_down_arrive_once_it_is_up() {
        let address = closed_address().await;
        let shipper = Shipper::spawn(address.clone(), 100).expect("spawn");
        for n in 0..5 {
            shipper.ship(line(n));
        }
        // Long enough for at least one failed attempt, so the lines wait out a backoff.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!shipper.connected());

        let listener = TcpListener::bind(&address).await.expect("rebind");

        assert_eq!(numbers(&receive(&listener, 5).await), vec![0, 1, 2, 3, 4]);
        assert!(shipper.flush(Duration::from_secs(5)).await);
        assert_eq!(shipper.shipped(), 5);
    }

    #[tokio::test]
    async fn reconnects_when_logstash_closes_the_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        let shipper = Shipper::spawn(address, 100).expect("spawn");
        shipper.ship(line(0));
        assert_eq!(numbers(&receive(&listener, 1).await), vec![0]);
        // `receive` dropped its connection: logstash restarted.

        shipper.ship(line(1));
        shipper.ship(line(2));

        assert_eq!(numbers(&receive(&listener, 2).await), vec![1, 2]);
        assert_eq!(shipper.shipped(), 3);
    }

    #[test]
    fn a_failed_write_keeps_the_cut_line_whole_and_answers_earlier_flushes() {
        let mut batch = Batch::default();
        let (done, mut answered) = oneshot::channel();
        let (later, mut not_yet) = oneshot::channel();
        batch.push(Item::Line(b"{\"a\":1}\n".to_vec()));
        batch.push(Item::Flush(done));
        batch.push(Item::Line(b"{\"b\":2}".to_vec()));
        batch.push(Item::Flush(later));

        // The first line (8 bytes) and 3 bytes of the second went out before the failure.
        let written = batch.consume(8 + 3);

        assert_eq!(written, 1);
        assert_eq!(batch.bytes, b"{\"b\":2}\n");
        assert_eq!(answered.try_recv(), Ok(()));
        assert!(not_yet.try_recv().is_err());
        assert_eq!(batch.consume(8), 1);
        assert_eq!(not_yet.try_recv(), Ok(()));
    }
}
