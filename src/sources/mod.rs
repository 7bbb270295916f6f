//! Sources layer: implementations of the protocols, each knowing one backend and nothing of
//! GraphQL. `memory` holds in-memory implementations for fast unit tests of the core.

pub mod auth;
pub mod breaker;
pub mod elasticsearch;
#[cfg(test)]
pub mod memory;
pub mod mysql;
pub mod partner;
pub mod redis;
