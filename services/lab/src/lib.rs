//! What every fortimock service stands on, so each service crate holds only its domain.
//!
//! - `server`: bind (port 0 works), HTTPS or plain HTTP, shared middleware, one log line per request;
//! - `admin`: the `/__admin` control plane every service serves (health, ready, clock, client certs, CA,
//!   scenarios, journal); `scenario`: the scenarios armed on one service and the check handlers make;
//!   `journal`: the request journal of one service; `state`: exporting and importing a service's records;
//! - `softtoken`: reading and answering SoftToken `.asmx` requests, faults included;
//! - `tls`: the lab CA, the leaf for every emulated host name, client-certificate checking;
//! - `clock`: the injected process clock; nothing else reads the system time;
//! - `options`: the flags and env vars every binary shares, and the lab they prepare;
//! - `store`: opening sled databases (each service's own `store` module owns its trees);
//! - `client`: HTTP clients that trust the lab CA; `telemetry`: logging.

pub mod admin;
pub mod client;
pub mod clock;
pub mod journal;
pub mod options;
pub mod scenario;
pub mod server;
pub mod softtoken;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tls;
