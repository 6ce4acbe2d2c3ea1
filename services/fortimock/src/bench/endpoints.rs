//! The other endpoints, as before issue 10: a 50-seat license import through ftm (forwarded to forticare),
//! a phone's seed download (taken out of escrow, durably), and a login on a virtual appliance (checked and
//! counted, durably), each with its server CPU per request; the table divides them by ftm's
//! `GET /__admin/health` on the same process.

use std::sync::Arc;

use bytes::Bytes;
use hyper::StatusCode;
use protocol::paths::{self, MOBILE, PROCESS};
use serde::Serialize;
use serde_json::json;

use super::Bench;
use super::load::{Call, repeat};
use super::polling::SmallLab;
use super::populate;
use super::report::Measurement;

/// The other endpoints' figures.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EndpointFigures {
    pub(crate) import: Measurement,
    pub(crate) download: Measurement,
    pub(crate) login: Measurement,
}

pub(crate) fn measure(bench: &Bench, lab: &SmallLab) -> anyhow::Result<EndpointFigures> {
    let clients = bench.args.clients;
    let process = Some(&lab.suite.process);
    let import = bench.measure(
        "ftm ActivationLicenseRequest, 50 seats (forwarded)",
        &lab.ftm,
        process,
        clients,
        repeat(Call::post(
            PROCESS,
            populate::import_body(&lab.serial, &lab.import_code),
        )),
    );
    let downloads: Vec<Call> = lab
        .download_codes
        .iter()
        .map(|code| Call::post(MOBILE, Bytes::from(populate::download_body(code))))
        .collect();
    let download = bench.measure(
        "ftm MobileProvisionRequest (seed taken, durable)",
        &lab.ftm,
        process,
        clients,
        Arc::new(move |n| downloads.get(n as usize).cloned()),
    );
    let login = bench.measure(
        "appliance login, wrong OTP (checked, counted)",
        &lab.appliances,
        process,
        clients,
        repeat(
            Call::post(
                &paths::fill(paths::APPLIANCE_LOGIN, &[&lab.login_appliance]),
                serde_json::to_vec(&json!({"user": "bench", "otp": "000000"}))?,
            )
            .also_accepting(StatusCode::UNAUTHORIZED),
        ),
    );
    Ok(EndpointFigures {
        import,
        download,
        login,
    })
}
