//! The bench's reference server, `fortimock bench-reference` (hidden): bare actix-web on one worker that
//! reads a PollingRequest's JSON body with the services' own decoder (`Inbound`, the fastest the workspace
//! has) and answers a canned PollingResponse, plus `GET /health`. It is the
//! ceiling fortimock's polling is held against: the same framework on the same core in the same run, doing
//! nothing but the HTTP and the JSON. Deliberately bare (actix's own extractors, no control plane, no
//! journal, no store), unlike the services, which read bodies through `lab::http`.
//!
//! On `/built` it instead builds its answer from the request (one activated token per token asked about,
//! serialized with serde_json as fortimock's answers are): the least a service that answers each token
//! must do, so the bench can show what 50 tokens cost against one with no lookups, journal or store.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::{Context, bail};
use protocol::catalogue::WireError;
use protocol::envelope::{Envelope, EnvelopeError, Inbound, Message};
use protocol::header::RequestHeader;
use protocol::id::ApplianceSerial;
use protocol::paths::PROCESS;
use protocol::provision::{PolledToken, PolledTokenRef, PollingRequest, PollingResponse};

use super::process::Process;
use crate::cli::BenchReferenceArgs;

/// The reference server's liveness path.
pub(crate) const HEALTH: &str = "/health";

/// Where the reference builds its PollingResponse from the request instead of answering the canned one.
pub(crate) const BUILT: &str = "/built";

/// Serves until SIGTERM / Ctrl-C; prints its base URL as the first line of stdout once listening.
pub async fn run(args: BenchReferenceArgs) -> anyhow::Result<()> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", args.port))
        .with_context(|| format!("binding 127.0.0.1:{}", args.port))?;
    let url = format!("http://{}", listener.local_addr()?);
    let canned = web::Bytes::from(canned_poll_response());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(canned.clone()))
            .route(PROCESS, web::post().to(poll))
            .route(BUILT, web::post().to(poll_built))
            .route(HEALTH, web::get().to(health))
    })
    .workers(1)
    .listen(listener)?
    .run();
    if let Some(path) = &args.ready_file {
        let urls = [("reference".to_owned(), url.clone())]
            .into_iter()
            .collect();
        crate::suite::write_urls(path, &urls)?;
    }
    println!("{url}");
    server.await.context("serving")
}

async fn poll(canned: web::Data<web::Bytes>, body: web::Bytes) -> HttpResponse {
    match decode(&body) {
        Ok(_) => HttpResponse::Ok()
            .content_type("application/json; charset=utf-8")
            .body(canned.get_ref().clone()),
        Err(_) => HttpResponse::BadRequest().finish(),
    }
}

async fn poll_built(body: web::Bytes) -> HttpResponse {
    match decode(&body) {
        Ok(request) => HttpResponse::Ok()
            .content_type("application/json; charset=utf-8")
            .body(Envelope::to_vec(&built_poll_response(request))),
        Err(_) => HttpResponse::BadRequest().finish(),
    }
}

/// Reads a PollingRequest the way the services do (the workspace's fastest decoder), so the reference
/// is never slower at reading a poll than fortimock.
fn decode(body: &[u8]) -> Result<PollingRequest, EnvelopeError> {
    let inbound = Inbound::parse(body)?;
    if inbound.type_name() != PollingRequest::TYPE {
        return Err(EnvelopeError::unknown_type(
            inbound.type_name(),
            &[PollingRequest::TYPE],
        ));
    }
    inbound.decode()
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

/// The appliance every canned answer is for.
pub(crate) const CANNED_SERIAL: &str = "FGVM02TM10000001";

/// What the reference server and the peers' stubs answer: fortimock's PollingResponse for one activated
/// token, the same shape and size fortimock sends.
pub(crate) fn canned_poll_response() -> Vec<u8> {
    let serial: ApplianceSerial = CANNED_SERIAL
        .parse()
        .unwrap_or_else(|_| unreachable!("a valid serial"));
    let header = RequestHeader::new(&serial, &[], "7.4", "2829");
    Envelope::to_vec(&built_poll_response(PollingRequest {
        header,
        tokens: vec![PolledTokenRef {
            token: "FTKMOB00C82980A7".to_owned(),
        }],
    }))
}

/// The answer [`BUILT`] gives `request`: each token asked about, activated, in fortimock's shape.
fn built_poll_response(request: PollingRequest) -> PollingResponse {
    PollingResponse {
        header: request.header.reply(|_| None),
        tokens: request
            .tokens
            .into_iter()
            .map(|asked| PolledToken {
                token: asked.token,
                license: Some("EFTM000000000005".to_owned()),
                status: "activated".into(),
                reg_id: Some("dzbg2OOiDYM:APA91bF7EP6PJ9".to_owned()),
                os_ver: Some("4.9.9_Android".to_owned()),
                activated: Some(1_795_346_237),
                error: None::<WireError>,
            })
            .collect(),
        result: 0,
        error: None,
    }
}

/// A running reference server.
pub(crate) struct Reference {
    pub(crate) process: Process,
    pub(crate) url: String,
}

/// Starts `command` (this binary, maybe under `taskset`) as the reference server and waits for its URL.
pub(crate) fn start(mut command: Command, log: &Path) -> anyhow::Result<Reference> {
    command.arg("bench-reference").arg("--port").arg("0");
    let mut process = Process::spawn("the reference server", &mut command, Some(log))?;
    let mut lines = process.stdout_lines()?;
    let url = match lines.next() {
        Some(line) => line?,
        None => bail!(
            "the reference server exited before listening; {}",
            process.log_hint()
        ),
    };
    std::thread::spawn(move || lines.for_each(drop));
    Ok(Reference { process, url })
}

impl Reference {
    pub(crate) fn stop(self) {
        self.process.stop(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(tokens: &[&str]) -> PollingRequest {
        let serial: ApplianceSerial = CANNED_SERIAL.parse().unwrap();
        PollingRequest {
            header: RequestHeader::new(&serial, &[], "7.4", "2829"),
            tokens: tokens
                .iter()
                .map(|t| PolledTokenRef {
                    token: (*t).to_owned(),
                })
                .collect(),
        }
    }

    #[test]
    fn the_built_answer_names_each_token_asked_about_in_order_activated() {
        let asked = ["FTKMOB0000000003", "FTKMOB0000000001", "FTKMOB0000000002"];
        let answer = built_poll_response(request(&asked));
        let answered: Vec<&str> = answer.tokens.iter().map(|t| t.token.as_str()).collect();
        assert_eq!(answered, asked);
        assert!(answer.tokens.iter().all(|t| t.status == "activated"));
        assert_eq!(answer.header.serial_number, CANNED_SERIAL);
        assert_eq!((answer.result, answer.error), (0, None));
    }

    #[test]
    fn a_poll_read_as_the_services_read_it_is_built_into_the_canned_answer() {
        let body = Envelope::to_vec(&request(&["FTKMOB00C82980A7"]));
        let decoded = decode(&body).unwrap();
        assert_eq!(
            Envelope::to_vec(&built_poll_response(decoded)),
            canned_poll_response()
        );
        let other = Envelope::to_vec(&protocol::provision::ProvisionRequest {
            header: request(&[]).header,
            tokens: vec![],
        });
        assert!(decode(&other).is_err(), "only a PollingRequest is read");
    }
}
