//! Connections kept between statements without a round trip. sqlx 0.8 pings every
//! connection it is given back, to find one that a cancelled statement left half-read: a
//! second round trip for every statement, and as much work again for the server (a home
//! feed ran 6 statements and 6 pings). A statement that ran to its end leaves its connection
//! clean, so it is kept here, unpinged, for the next one; any other (failed, cancelled) goes
//! back through the pool, which pings it and closes it if it is broken.
//!
//! Kept connections stay checked out of sqlx's pool, so that the pool's bound still counts
//! them. A statement that finds none kept asks the pool, after saying it waits: a statement
//! ending meanwhile then hands its connection to the pool instead of keeping it, so nobody
//! waits on the pool while a kept connection sits idle.

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;
use std::time::Instant;

use sqlx::MySqlPool;
use sqlx::pool::PoolConnection;

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
    /// Statements waiting on the pool for a connection.
    waiting: usize,
    /// The pool is closing: nothing is kept any more.
    closing: bool,
}

impl Kept {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connection for one statement: a kept one (pinged if it was kept long), else the
    /// pool's.
    pub(super) async fn checkout<'k>(&'k self, pool: &MySqlPool) -> Result<Lent<'k>, sqlx::Error> {
        let found = {
            let mut state = self.state();
            let found = state.idle.pop();
            if found.is_none() {
                state.waiting += 1;
            }
            found
        };
        let connection = match found {
            Some((mut connection, kept_at)) => {
                if kept_at.elapsed() >= PING_AFTER_IDLE {
                    // A cut connection fails its ping; the pool closes it on its return,
                    // and the statement asks the pool for another.
                    if sqlx::Connection::ping(&mut *connection).await.is_err() {
                        drop(connection);
                        return Box::pin(self.checkout(pool)).await;
                    }
                }
                connection
            }
            None => {
                let _waiting = Waiting(self);
                pool.acquire().await?
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
        self.give_back(|state| state.waiting += 1);
        let _waiting = Waiting(self);
        acquiring.await
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

/// A statement waiting on the pool; no longer when dropped (answered or cancelled).
struct Waiting<'k>(&'k Kept);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.state().waiting -= 1;
    }
}

/// A connection lent to one statement. [`Lent::finished`] keeps it for the next; dropped
/// otherwise (an error, a cancelled statement), it goes back to the pool, which checks it.
pub(super) struct Lent<'k> {
    kept: &'k Kept,
    connection: Option<Connection>,
}

impl Lent<'_> {
    /// The statement ran to its end: the connection is clean and kept, unless a statement
    /// waits on the pool, which then gets it.
    pub(super) fn finished(mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        let mut state = self.kept.state();
        if state.waiting == 0 && !state.closing {
            state.idle.push((connection, Instant::now()));
        } else {
            drop(state);
            drop(connection);
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
