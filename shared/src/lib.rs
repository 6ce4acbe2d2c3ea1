//! fortimock's wire contract: the SoftToken messages FortiGate, FortiAuthenticator and the FortiToken Mobile
//! app exchange with Fortinet's cloud, their identifiers, the error catalogue, and fortimock's own admin API types.
//!
//! This crate does no I/O (no actix, no tokio, no database, no clock reads): services and simulators depend on it,
//! never on each other.
//!
//! Stability: the SoftToken types (`envelope`, `header`, `license`) follow the captured wire exactly and only
//! gain fields. fortimock's own API types (`admin`, `ledger`, `scenario`) only gain fields. Every decision no public
//! source backs is in `modeled`.
//!
//! Layout, in reading order:
//! - `envelope`: the `{"d": {"__type": …}}` wrapper and decoding errors;
//! - `header`: the appliance header and its echo;
//! - `license`: license import; `provision`: seed escrow and polling; `mobile`: token activation;
//!   `push`: push login (the relay request, the encrypted payload, the phone's callback, the relay API);
//! - `catalogue` and `modeled`: every error, with provenance, and fortimock's modeled answers;
//! - `scenario`: errors armed on demand, which service answers each, and which requests they fire on;
//! - `id`: identifier newtypes; `time`: Unix seconds and dates; `jsonc`: JSON as FortiOS writes it;
//! - `crypto`, `seed`, `activation`, `otp`, `device_storage`: sealing, the seed and its transport to the
//!   phone, token activation codes, HOTP/TOTP, and how the Android app stores secrets;
//! - `forticare_v3`: FortiCare's asset-management REST API (v3), the one customers' scripts use;
//! - `fac_rest`: FortiAuthenticator's REST API (`/api/v1/`, Tastypie shapes), the one FAC scripts use;
//!   `token_transfer`: token transfer between phones (modeled wire); `fac_admin`: fortimock's own API for
//!   virtual FortiAuthenticators;
//! - `hardware`: hardware FortiTokens (the modeled activation exchange, forticare's batches, the appliance's
//!   hardware API); `messages`: activation messages by email and SMS, as captured and as sent;
//! - `ledger`, `admin`, `journal`, `state`, `phone` and `appliance`: fortimock's own HTTP API types;
//!   `timeline` (exchanges across services, by flow) and `coverage` (what a run reached; `drift`: what
//!   the services know of requests, to notice what they do not);
//!   `paths`: every path fortimock serves; `hosts`: the real host names fortimock stands in for; `schema`:
//!   OpenAPI schemas of the types that travel as text.
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod activation;
pub mod admin;
pub mod appliance;
pub mod catalogue;
pub mod coverage;
pub mod crypto;
pub mod debug_log;
pub mod device_storage;
pub mod drift;
pub mod envelope;
pub mod fac_admin;
pub mod fac_rest;
pub mod forticare_v3;
pub mod hardware;
pub mod header;
pub mod hosts;
pub mod id;
pub mod journal;
pub mod jsonc;
pub mod ledger;
pub mod license;
pub mod messages;
pub mod mobile;
pub mod modeled;
pub mod otp;
pub mod paths;
pub mod phone;
pub mod provision;
pub mod push;
pub mod scenario;
mod schema;
mod scratch;
pub mod seed;
pub mod state;
pub mod strict;
pub mod time;
pub mod timeline;
pub mod token_transfer;

#[cfg(test)]
mod golden;
