//! ogrom: a GraphQL gateway for a fashion shopping and styling site.
//!
//! The layers, and the only direction in which they depend on each other:
//!
//! - [`protocols`]: traits for each kind of data (`CatalogSource`, …) and their record
//!   types. Batch-shaped and async.
//! - [`sources`]: implementations of the protocols, one backend each (MySQL, Elasticsearch,
//!   the partner API, Redis for the state replicas share, in-memory for unit tests). They
//!   know nothing of GraphQL.
//! - [`core`]: the GraphQL API (modules of types, resolvers, DataLoaders) over the protocols.
//! - [`http`]: the HTTP surface as an `axum::Router` value that works under any prefix.
//! - [`run`]: configuration and wiring: builds sources from config, the API and the router,
//!   serves and shuts down; the subcommands of the binary.
//!
//! - [`observe`]: metrics and per-request stats that every layer reports to.
//!
//! `core` and `sources` depend on `protocols`; `http` on `core`; only `run` knows everything.
//! `observe` depends on nothing and anything may report to it.

pub mod config;
pub mod core;
pub mod http;
pub mod observe;
pub mod protocols;
pub mod random;
pub mod run;
pub mod sources;
