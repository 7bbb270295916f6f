//! The console's JSON lines, written by a thread of their own. A request's thread appends
//! its line to a buffer and goes on; the writer takes whatever gathered and writes it in
//! one call. Writing each line from the request's thread was a system call per line (2% of
//! a product page's CPU) and, worse, blocked a runtime worker whenever the reader of stdout
//! (a container runtime, a pipe) fell behind.
//!
//! The buffer is bounded: past [`MOST_BUFFERED`] bytes (stdout stuck), lines are dropped
//! and counted, as the logstash queue does.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Most bytes waiting for the console; lines beyond are dropped and counted.
const MOST_BUFFERED: usize = 4 << 20;
/// How long the writer lets lines gather after the first: at most 50 writes a second,
/// whatever the rate of lines. At 200 requests a second, a 2 ms window wrote each access
/// line alone and cost more than writing it directly (a wake-up and a sleep a line).
const GATHER: Duration = Duration::from_millis(20);

/// A console written by its own thread.
#[derive(Clone)]
pub(super) struct Console {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

struct Shared {
    state: Mutex<State>,
    /// The writer waits on it for lines.
    lines: Condvar,
    /// Flushes wait on it for the writer.
    written: Condvar,
    dropped: AtomicU64,
}

#[derive(Default)]
struct State {
    buffer: Vec<u8>,
    /// Bytes taken into the buffer so far, and of those, written.
    taken: u64,
    written: u64,
}

impl Console {
    /// Starts the thread that writes to `out`.
    pub(super) fn spawn(out: impl Write + Send + 'static) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            lines: Condvar::new(),
            written: Condvar::new(),
            dropped: AtomicU64::new(0),
        });
        let writer = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("ogrom-console".to_owned())
            .spawn(move || writer.write_to(out))?;
        Ok(Self { shared })
    }

    /// Takes `line` for writing, without waiting; drops it when the buffer is full.
    pub(super) fn write(&self, line: &[u8]) {
        let mut state = self.shared.lock();
        if state.buffer.len() + line.len() > MOST_BUFFERED {
            drop(state);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let first = state.buffer.is_empty();
        state.buffer.extend_from_slice(line);
        state.taken += line.len() as u64;
        drop(state);
        // The writer waits only on an empty buffer.
        if first {
            self.shared.lines.notify_one();
        }
    }

    /// Waits until every line taken before the call is written, or `within` passes:
    /// whether they were.
    pub(super) fn flush(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let mut state = self.shared.lock();
        let target = state.taken;
        while state.written < target {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = (self.shared.written.wait_timeout(state, left))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Lines dropped because the console fell behind by [`MOST_BUFFERED`] bytes.
    pub(super) fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The writer's loop: waits for lines, lets more gather, writes them in one call. A
    /// console that cannot be written has nowhere to report it: those lines are lost.
    fn write_to(&self, mut out: impl Write) {
        let mut batch = Vec::new();
        loop {
            let mut state = self.lock();
            while state.buffer.is_empty() {
                state = self.lines.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            drop(state);
            std::thread::sleep(GATHER);
            // The emptied batch's room goes back to the buffer: no allocation a round.
            let mut state = self.lock();
            std::mem::swap(&mut state.buffer, &mut batch);
            let taken = state.taken;
            drop(state);
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            batch.clear();
            self.lock().written = taken;
            self.written.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A console that keeps what is written, and counts the writes.
    #[derive(Clone, Default)]
    struct Kept {
        bytes: Arc<Mutex<Vec<u8>>>,
        writes: Arc<AtomicU64>,
    }

    impl Write for Kept {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.writes.fetch_add(1, Ordering::Relaxed);
            self.bytes.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_from_many_threads_are_written_whole_in_their_order_in_few_writes() {
        let kept = Kept::default();
        let console = Console::spawn(kept.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|thread| {
                let console = console.clone();
                std::thread::spawn(move || {
                    for n in 0..500 {
                        console.write(format!("{thread} {n}\n").as_bytes());
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert!(console.flush(Duration::from_secs(5)));
        let text = String::from_utf8(kept.bytes.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2000);
        for thread in 0..4 {
            let own: Vec<u32> = (lines.iter())
                .filter_map(|line| line.strip_prefix(&format!("{thread} ")))
                .map(|n| n.parse().unwrap())
                .collect();
            assert_eq!(own, (0..500).collect::<Vec<_>>(), "thread {thread}");
        }
        let writes = kept.writes.load(Ordering::Relaxed);
        assert!(writes < 2000, "{writes} writes for 2000 lines");
        assert_eq!(console.dropped(), 0);
    }

    /// A writer that never returns: the lines past the bound are dropped, counted, and
    /// nobody who logs waits.
    #[test]
    fn a_stuck_console_drops_and_counts_lines_instead_of_holding_the_caller() {
        struct Stuck;
        impl Write for Stuck {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                loop {
                    std::thread::park();
                }
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let console = Console::spawn(Stuck).unwrap();
        let line = vec![b'x'; 64 << 10];
        let started = Instant::now();
        for _ in 0..200 {
            console.write(&line);
        }
        assert!(started.elapsed() < Duration::from_secs(5));
        // 200 lines of 64 KiB: 64 fit in 4 MiB, and the batch the stuck write took (if it
        // took one before the last line) held up to 64 more.
        let dropped = console.dropped();
        assert!(
            (200 - 128..=200 - 64).contains(&dropped),
            "{dropped} dropped"
        );
        assert!(
            !console.flush(Duration::from_millis(50)),
            "nothing is written"
        );
    }
}
