//! Observation shared by every layer: the Prometheus metrics registry, and the per-request
//! stats that sources and loaders report to (backend calls, loader batches). It depends on
//! no other module of the crate, so sources and core can report without knowing HTTP.

pub mod explain;
mod metrics;
pub mod otlp;
pub mod request;
pub mod spans;
pub mod trace;

pub use metrics::{Exposition, Metrics};
pub use request::{
    Backend, Keep, RequestStats, backend_call, cache_lookups, current_traceparent, explaining,
    loader_batch,
};
pub use trace::TraceContext;
