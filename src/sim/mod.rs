//! Local simulators of the Segment Config API (v1beta) and, later, the Public API.
//!
//! Neither real API is reachable from a test machine, so everything segbridge does is developed
//! and tested against these simulators; users also run them (`segbridge sim`) to rehearse a
//! migration. They are a product, held to the references by contract tests, not test scaffolding.

pub mod catalog;
pub mod generator;
pub mod rng;
pub mod workspace;
