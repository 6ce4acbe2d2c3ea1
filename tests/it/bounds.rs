//! Every connection lives within bounds: a body that trickles is cut off with 408 once the request's time
//! is up, a service past its connection cap answers 503 and closes rather than queueing, and a flood of
//! slow bodies on one service leaves the others answering. The process's open-file limit is raised to
//! what it may be.

use std::time::Duration;

use e2e::{TestSuite, default_fixtures, test_options};
use protocol::paths;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A suite on plain HTTP (raw sockets are enough to be slow with), with small bounds.
async fn bounded_suite(request_timeout_secs: u64) -> TestSuite {
    let mut options = test_options(None);
    options.plain_http = true;
    options.max_connections = 16;
    options.request_timeout_secs = request_timeout_secs;
    TestSuite::start_with(options, default_fixtures()).await
}

fn address(suite: &TestSuite, service: &str) -> String {
    suite.url(service).trim_start_matches("http://").to_owned()
}

/// Opens a connection and sends a request head announcing a body it only starts to send.
async fn trickle(address: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{\"d\":",
        paths::PROCESS
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// Reads what the server says until it closes the connection (bounded, so a server that never answers
/// fails the test instead of hanging it).
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server kept a slow connection open");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_trickling_body_is_cut_off_with_408() {
    let suite = bounded_suite(1).await;
    let mut stream = trickle(&address(&suite, "ftm")).await;
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive in time"), "{answer}");
    suite.stop().await;
}

#[tokio::test]
async fn a_slow_body_flood_on_one_service_leaves_the_others_answering() {
    let suite = bounded_suite(5).await;
    let ftm = address(&suite, "ftm");
    // Connections that have not sent a byte yet count as much as trickling ones: they hold ftm past its cap
    // until their time is up.
    let mut flood = Vec::new();
    for _ in 0..60 {
        flood.push(TcpStream::connect(&ftm).await.unwrap());
    }
    for _ in 0..60 {
        flood.push(trickle(&ftm).await);
    }
    // Every other service answers at once.
    for service in ["forticare", "push", "phone", "appliance"] {
        let response = suite
            .client
            .get(format!("{}{}", suite.url(service), paths::ADMIN_HEALTH))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{service}");
    }
    // ftm itself sheds what it cannot serve with 503 rather than queueing it.
    let busy = suite
        .client
        .get(format!("{}{}", suite.url("ftm"), paths::ADMIN_HEALTH))
        .send()
        .await
        .unwrap();
    assert_eq!(busy.status(), 503);
    let body: serde_json::Value = busy.json().await.unwrap();
    assert_eq!(body["error_id"], "http.busy");
    // Every flooding connection is closed by the server: shed at once, or cut off when its time is up.
    let mut shed = 0;
    let mut timed_out = 0;
    for stream in &mut flood {
        let answer = read_until_closed(stream).await;
        if answer.starts_with("HTTP/1.1 503") {
            shed += 1;
        } else if answer.starts_with("HTTP/1.1 408") {
            timed_out += 1;
        }
    }
    assert!(
        shed > 0 && shed + timed_out == flood.len(),
        "{shed} shed, {timed_out} timed out"
    );
    // And ftm serves again.
    let response = suite
        .client
        .get(format!("{}{}", suite.url("ftm"), paths::ADMIN_HEALTH))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    suite.stop().await;
}

#[tokio::test]
async fn the_open_file_limit_is_raised_to_the_hard_limit() {
    let suite = bounded_suite(1).await;
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let numbers: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(numbers[0], numbers[1], "{line}");
    suite.stop().await;
}
