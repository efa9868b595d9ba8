//! Domain vocabulary shared by the exporter, the ledger, the planner and the reports: resource
//! kinds and the services they belong to, and JSON held as text. No I/O here.

mod json_text;
mod kind;
mod metrics;

pub use json_text::JsonText;
pub use kind::{Kind, UnknownKind};
pub use metrics::{Granularity, MetricsWindow};
