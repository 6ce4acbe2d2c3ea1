//! FortiAuthenticator's REST API (`/api/v1/`, Tastypie shapes) on the appliance service: `error` (its one
//! error type), `tastypie` (paging, filters, `?format=json`).

pub mod error;
pub mod tastypie;
