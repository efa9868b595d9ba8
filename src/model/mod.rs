//! Domain vocabulary shared by the exporter, the ledger, the planner and the reports: resource
//! kinds and the services they belong to, JSON held as text, JSON objects built without copies,
//! and objects read for a few of their keys. No I/O here.

mod json_object;
mod json_text;
mod kind;
mod metrics;
mod raw_fields;

pub use json_object::object;
pub use json_text::{JsonText, compact};
pub use kind::{Kind, UnknownKind};
pub use metrics::{Granularity, MetricsWindow};
pub use raw_fields::{raw_fields, string_field};
