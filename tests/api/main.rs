//! The integration tests, as one test binary (`target/debug/deps/api-*`): one module per area,
//! sharing the helpers in `common/`. One binary links the crate and its dependencies once
//! instead of once per file. Its tests run in one process on parallel threads, so nothing here
//! may change process-wide state (environment, current directory, a global subscriber, fixed
//! ports): each test gets its own app, port, directory, table and replay server.
//!
//! Run a subset by module path: `scripts/test records::`, `cargo test --test api users::`.

mod common;

mod account_guarantees;
mod bikepoint;
mod contracts;
mod docs;
mod errors;
mod hello;
mod host_contract;
mod host_modes;
mod identity;
mod infra_drift;
mod package;
mod process;
mod records;
mod resources;
mod status;
mod storage_conformance;
mod tfl_client;
mod upload;
mod users;
