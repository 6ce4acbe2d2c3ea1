//! What every fortimock service stands on, so each service crate holds only its domain.
//!
//! - `service`: the trait a service implements to be served; `api`: routes registered with their OpenAPI
//!   documentation, and the document; `server`: bind (port 0 works), HTTPS or
//!   plain HTTP, the bounds every connection lives within, one log line per request;
//! - `admin`: the control plane every service serves (public probes, and one guarded `/__admin` scope);
//!   `scenario`: the scenarios armed on one service and the check handlers make; `journal`: the request
//!   journal of one service; `state`: exporting and importing a service's records; `flow`: which operation
//!   a request belongs to, carried between the lab's parts; `timeline` and `coverage`: the process's
//!   recorders of exchanges by flow and of what a run reached;
//! - `http`: fortimock's own API errors and the one body reader; `softtoken`: reading and answering
//!   SoftToken `.asmx` requests, faults included;
//! - `store`: the storage toolkit (redb), the only code that touches the database;
//! - `tls`: the lab CA, the leaf for every emulated host name, client-certificate checking;
//! - `clock`: the injected process clock; nothing else reads the system time;
//! - `options`: the flags and env vars every binary shares, and the lab they prepare;
//! - `client`: HTTP clients that trust the lab CA; `telemetry`: logging; `health`: the `health`
//!   subcommand of every standalone service binary (its container health check); `memory`: freed memory
//!   given back to the system after a large exchange (the workspace's one unsafe call).

pub mod admin;
pub mod api;
pub mod client;
pub mod clock;
pub mod coverage;
pub mod flow;
pub mod health;
pub mod http;
pub mod journal;
pub mod memory;
pub mod options;
pub mod scenario;
pub mod server;
pub mod service;
pub mod softtoken;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod timeline;
pub mod tls;
