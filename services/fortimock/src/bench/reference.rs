//! The bench's reference server, `fortimock bench-reference` (hidden): bare actix-web on one worker that
//! parses a PollingRequest's JSON body and answers a canned PollingResponse, plus `GET /health`. It is the
//! ceiling fortimock's polling is held against: the same framework on the same core in the same run, doing
//! nothing but the HTTP and the JSON. Deliberately bare (actix's own extractors, no control plane, no
//! journal, no store), unlike the services, which read bodies through `lab::http`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::{Context, bail};
use protocol::catalogue::WireError;
use protocol::envelope::Envelope;
use protocol::header::RequestHeader;
use protocol::id::ApplianceSerial;
use protocol::paths::PROCESS;
use protocol::provision::{PolledToken, PollingRequest, PollingResponse};

use super::process::Process;
use crate::cli::BenchReferenceArgs;

/// The reference server's liveness path.
pub(crate) const HEALTH: &str = "/health";

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
    match serde_json::from_slice::<Envelope<PollingRequest>>(&body) {
        Ok(_) => HttpResponse::Ok()
            .content_type("application/json; charset=utf-8")
            .body(canned.get_ref().clone()),
        Err(_) => HttpResponse::BadRequest().finish(),
    }
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
    Envelope::to_vec(&PollingResponse {
        header: header.reply(|_| None),
        tokens: vec![PolledToken {
            token: "FTKMOB00C82980A7".to_owned(),
            license: Some("EFTM000000000005".to_owned()),
            status: "activated".into(),
            reg_id: Some("dzbg2OOiDYM:APA91bF7EP6PJ9".to_owned()),
            os_ver: Some("4.9.9_Android".to_owned()),
            activated: Some(1_795_346_237),
            error: None::<WireError>,
        }],
        result: 0,
        error: None,
    })
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
