//! FortiAuthenticator's REST API (`/api/v1/`, Tastypie shapes) on the appliance service: `error` (its one
//! error type), `tastypie` (paging, filters, `?format=json`), `routes` (the dispatcher and each resource),
//! `admin` (fortimock's own API for FACs under `/appliances/{serial}/…`), `fixtures` (the FACs a lab
//! declares).

pub(crate) mod admin;
pub mod error;
pub(crate) mod fixtures;
pub(crate) mod routes;
pub mod tastypie;
