//! Domain vocabulary shared by the exporter, the ledger, the planner and the reports: resource
//! kinds and the services they belong to. No I/O here.

mod kind;
mod metrics;

pub use kind::{Kind, UnknownKind};
pub use metrics::{Granularity, MetricsWindow};
