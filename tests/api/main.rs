//! Integration tests of the gateway against the real MariaDB and Elasticsearch of the local
//! stack (`scripts/stack up`), through the router in-process and through real listeners.

mod auth;
mod batching;
mod browser;
mod catalog;
mod clients;
mod community;
mod config;
mod conformance;
#[path = "../support/documents.rs"]
mod documents;
#[path = "../support/encoding.rs"]
mod encoding;
mod failures;
mod fuzz;
mod helpers;
mod hostile;
mod http_spec;
mod incremental;
mod indexing;
mod introspection;
mod listener;
mod logs;
mod metrics;
mod offers;
mod operations;
mod protection;
mod response_cache;
mod schema;
mod search;
mod shared_state;
mod shutdown;
mod traces;
mod webdriver;
