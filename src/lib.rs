//! segbridge: migrates a Segment workspace from the legacy Config API (v1beta) to the Public API.
//!
//! The library holds everything; `main.rs` only parses arguments and maps the result to an exit
//! code. The simulators of both APIs live in [`sim`]; they share no wire types with the clients,
//! so that a field misspelt on one side cannot hide by being misspelt the same way on the other.

pub mod sim;
