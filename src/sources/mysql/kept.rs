//! Connections kept between statements without a round trip. sqlx 0.8 pings every
//! connection it is given back, to find one that a cancelled statement left half-read: a
//! second round trip for every statement, and as much work again for the server (a home
//! feed ran 6 statements and 6 pings). A statement that ran to its end leaves its connection
//! clean, so it is handed, unpinged, to the next statement: one that waits for a connection,
//! else the next to come (it is kept idle here meanwhile). Any other connection (its
//! statement failed or was cancelled) goes back through the pool, which pings it and closes
//! it if it is broken.
//!
//! Kept connections stay checked out of sqlx's pool, so that the pool's bound still counts
//! them. A statement that finds none kept waits for whichever comes first: a connection
//! handed over by a statement that ends, or the pool's. Under load most statements wait, so
//! the hand-over is what saves the ping. Below its bound the pool's answer is a connection it
//! opens; when a hand-over comes first, that connection is still opened and kept, so the pool
//! grows to its bound instead of opening and cutting one connection per waiting statement.

use std::collections::VecDeque;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sqlx::MySqlPool;
use sqlx::pool::PoolConnection;
use tokio::sync::oneshot;

use super::PING_AFTER_IDLE;

type Connection = PoolConnection<sqlx::MySql>;

/// The kept connections of one pool.
#[derive(Default)]
pub(super) struct Kept {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Clean connections, with when each was kept.
    idle: Vec<(Connection, Instant)>,
    /// Statements waiting for a connection, the longest waiting first.
    waiting: VecDeque<oneshot::Sender<Connection>>,
    /// Callers taking a connection from the pool itself (a transaction's begin): while
    /// there are any, connections go back to the pool, where they find them.
    pooled: usize,
    /// The pool is closing: nothing is kept any more.
    closing: bool,
}

impl Kept {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connection for one statement: a kept one (pinged if it was kept long), else the
    /// first to come of one handed over and the pool's.
    pub(super) async fn checkout<'k>(
        self: &'k Arc<Self>,
        pool: &MySqlPool,
    ) -> Result<Lent<'k>, sqlx::Error> {
        // Under the lock, so that no statement ending meanwhile keeps its connection idle
        // while this one waits: a kept connection, else a place among the waiting.
        let found = {
            let mut state = self.state();
            state.idle.pop().ok_or_else(|| {
                let (sender, receiver) = oneshot::channel();
                state.waiting.push_back(sender);
                receiver
            })
        };
        let connection = match found {
            Ok((mut connection, kept_at)) => {
                if kept_at.elapsed() >= PING_AFTER_IDLE {
                    // A cut connection fails its ping; the pool closes it on its return,
                    // and the statement asks for another.
                    if sqlx::Connection::ping(&mut *connection).await.is_err() {
                        drop(connection);
                        return Box::pin(self.checkout(pool)).await;
                    }
                }
                connection
            }
            Err(receiver) => {
                // Below its bound, the pool answers by opening a connection. A hand-over
                // that comes first must not cut that short (a connect and a close, for
                // nothing, and a pool that never grows): the connection it opens is kept.
                let may_open = pool.size() < pool.options().get_max_connections();
                let mut waiting = Waiting {
                    kept: self,
                    receiver,
                };
                let mut acquire = Box::pin(pool.acquire());
                tokio::select! {
                    biased;
                    Ok(handed) = &mut waiting.receiver => {
                        if may_open {
                            let kept = Arc::clone(self);
                            tokio::spawn(async move {
                                if let Ok(opened) = acquire.await {
                                    kept.keep(opened);
                                }
                            });
                        }
                        handed
                    }
                    acquired = &mut acquire => acquired?,
                }
            }
        };
        Ok(Lent {
            kept: self,
            connection: Some(connection),
        })
    }

    /// `acquiring`, which takes a connection from the pool itself: the kept connections go
    /// back to the pool, and statements that end meanwhile give theirs back too.
    pub(super) async fn through_pool<T>(&self, acquiring: impl Future<Output = T>) -> T {
        self.give_back(|state| state.pooled += 1);
        let _pooled = Pooled(self);
        acquiring.await
    }

    /// A clean connection: to the statement waiting longest, else kept, unless it belongs
    /// to the pool (closing, or somebody takes from the pool itself).
    fn keep(&self, mut connection: Connection) {
        let mut state = self.state();
        if state.closing || state.pooled > 0 {
            drop(state);
            drop(connection);
            return;
        }
        while let Some(waiter) = state.waiting.pop_front() {
            match waiter.send(connection) {
                Ok(()) => return,
                // It got the pool's meanwhile.
                Err(back) => connection = back,
            }
        }
        state.idle.push((connection, Instant::now()));
    }

    /// Gives every kept connection back to the pool, after `also` has changed the state
    /// under the same lock.
    fn give_back(&self, also: impl FnOnce(&mut State)) {
        let idle = {
            let mut state = self.state();
            also(&mut state);
            std::mem::take(&mut state.idle)
        };
        drop(idle);
    }

    /// How many connections are kept idle here.
    pub(super) fn idle(&self) -> usize {
        self.state().idle.len()
    }

    /// Gives every kept connection back to the pool.
    pub(super) fn release_all(&self) {
        self.give_back(|_| {});
    }

    /// Gives every kept connection back to the pool, and from now on every connection
    /// whose statement ends: the pool is closing, and waits for them.
    pub(super) fn close(&self) {
        self.give_back(|state| state.closing = true);
    }
}

/// A statement waiting for a connection. When it stops waiting (served, failed or
/// cancelled), a connection handed to it too late is kept for the next, and the places of
/// waiters that left are cleared.
struct Waiting<'k> {
    kept: &'k Kept,
    receiver: oneshot::Receiver<Connection>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.receiver.close();
        if let Ok(late) = self.receiver.try_recv() {
            self.kept.keep(late);
        }
        self.kept
            .state()
            .waiting
            .retain(|waiter| !waiter.is_closed());
    }
}

/// A caller taking from the pool itself; no longer when dropped.
struct Pooled<'k>(&'k Kept);

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        self.0.state().pooled -= 1;
    }
}

/// A connection lent to one statement. [`Lent::finished`] hands it to the next; dropped
/// otherwise (an error, a cancelled statement), it goes back to the pool, which checks it.
pub(super) struct Lent<'k> {
    kept: &'k Kept,
    connection: Option<Connection>,
}

impl Lent<'_> {
    /// The statement ran to its end: the connection is clean, for the next statement.
    pub(super) fn finished(mut self) {
        if let Some(connection) = self.connection.take() {
            self.kept.keep(connection);
        }
    }
}

impl Deref for Lent<'_> {
    type Target = sqlx::MySqlConnection;

    fn deref(&self) -> &Self::Target {
        self.connection
            .as_deref()
            .expect("a lent connection until finished")
    }
}

impl DerefMut for Lent<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.connection
            .as_deref_mut()
            .expect("a lent connection until finished")
    }
}
