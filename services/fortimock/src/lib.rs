//! The `fortimock` command: `fortimock up` runs every service in one process on an embedded default lab;
//! the other subcommands drive a running suite through its HTTP APIs.
//!
//! Modules: `cli` (the arguments), `suite` (starting the services together; tests use it too), `up`,
//! `health`, `license`, `transfer`, `certs`, `fgt`, `phones` (with `phone_transfer`, `phone transfer`), `hardware`, `messages`, `journal`, `timeline`, `coverage`, `reset`, `state`, `scenarios`, `replay`, `demo` (with `rma_story`, `demo --transfer`) and `bench` (one per subcommand), `client` (finding and
//! calling a running suite), `dns` (the DNS responder: `up --dns-port` and `fortimock dns`), `config`
//! (fortimock.toml, the precedence of flags, variables and the file), `dashboard` (the lab in a browser).
// Printing to the terminal is this crate's job.
#![allow(clippy::print_stdout)]

pub mod bench;
pub mod certs;
pub mod cli;
pub mod client;
pub mod config;
pub mod coverage;
pub mod dashboard;
pub mod demo;
pub mod dns;
pub mod fac;
pub mod fac_story;
pub mod fgt;
pub mod fgt_messaging;
pub mod hardware;
pub mod health;
pub mod journal;
pub mod license;
pub mod messages;
pub mod phone_transfer;
pub mod phones;
pub mod replay;
pub mod reset;
pub mod rma_story;
pub mod scenarios;
pub mod state;
pub mod suite;
pub mod timeline;
pub mod transfer;
pub mod up;
