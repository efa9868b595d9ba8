//! Local simulators of the Segment Config API (v1beta) and, later, the Public API.
//!
//! Neither real API is reachable from a test machine, so everything segbridge does is developed
//! and tested against these simulators; users also run them (`segbridge sim`) to rehearse a
//! migration. They are a product, held to the references by contract tests, not test scaffolding.

pub mod catalog;
pub mod clock;
pub mod config;
pub mod faults;
pub mod generator;
pub mod ratelimit;
pub mod rng;
pub mod server;
pub mod stats;
pub mod workspace;
