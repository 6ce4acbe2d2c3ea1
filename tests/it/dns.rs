//! The DNS responder, asked by a real DNS client (hickory's stub resolver, over UDP and over TCP): the
//! emulated Fortinet names get the suite's address (or their service's own), in any letter case; a name of
//! another type gets no record; every other name is refused, or forwarded to an upstream server; and a
//! virtual appliance whose resolver is the responder reaches ftm by its real name, over HTTPS checked
//! against the lab CA, and mails its activation email to `notification.fortinet.net`, which leads to the
//! appliance service's SMTP listener; and a Fortinet name that resolves to a public address is never
//! contacted.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use e2e::{TestSuite, test_options};
use fortimock::dns::{Answers, DnsOptions, RunningDns, ServiceAddress};
use hickory_resolver::ResolveError;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    NameServerConfig, NameServerConfigGroup, ResolveHosts, ResolverConfig,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::rdata::{A, SOA};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use hickory_resolver::proto::xfer::Protocol;
use hickory_server::ServerFuture;
use hickory_server::authority::{AuthorityObject, Catalog, ZoneType};
use hickory_server::store::in_memory::InMemoryAuthority;
use protocol::appliance::ApplianceView;
use protocol::paths;
use serde_json::json;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A responder on loopback, port 0.
async fn responder(options: DnsOptions) -> RunningDns {
    let answers = Answers::from_options(&options, LOOPBACK).unwrap();
    fortimock::dns::start(LOOPBACK, 0, answers).await.unwrap()
}

/// A stub resolver asking only `server`, over `protocol` only.
fn client(server: SocketAddr, protocol: Protocol) -> TokioResolver {
    let mut servers = NameServerConfigGroup::new();
    servers.push(NameServerConfig::new(server, protocol));
    let mut builder = TokioResolver::builder_with_config(
        ResolverConfig::from_parts(None, Vec::new(), servers),
        TokioConnectionProvider::default(),
    );
    builder.options_mut().use_hosts_file = ResolveHosts::Never;
    builder.options_mut().cache_size = 0;
    builder.options_mut().attempts = 1;
    builder.options_mut().timeout = Duration::from_secs(5);
    builder.build()
}

async fn a_records(resolver: &TokioResolver, name: &str) -> Result<Vec<IpAddr>, ResolveError> {
    let lookup = resolver.lookup(name, RecordType::A).await?;
    Ok(lookup
        .record_iter()
        .filter_map(|r| match r.data() {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            _ => None,
        })
        .collect())
}

/// The response code a failed lookup carried.
fn response_code(error: &ResolveError) -> Option<ResponseCode> {
    match error.proto().map(|proto| proto.kind()) {
        Some(ProtoErrorKind::NoRecordsFound { response_code, .. }) => Some(*response_code),
        _ => None,
    }
}

#[tokio::test]
async fn emulated_names_resolve_to_the_suite_over_udp_and_tcp_in_any_case() {
    let dns = responder(DnsOptions::default()).await;
    for protocol in [Protocol::Udp, Protocol::Tcp] {
        let resolver = client(dns.address(), protocol);
        for host in protocol::hosts::EMULATED_HOSTS {
            assert_eq!(
                a_records(&resolver, &format!("{}.", host.name))
                    .await
                    .unwrap(),
                [LOOPBACK],
                "{} over {protocol}",
                host.name
            );
        }
        assert_eq!(
            a_records(&resolver, "FortiTokenMobile.Fortinet.COM.")
                .await
                .unwrap(),
            [LOOPBACK]
        );
        // The name exists, with no IPv6 address and no mail exchanger: NOERROR, no record.
        for kind in [RecordType::AAAA, RecordType::MX] {
            let error = resolver
                .lookup("push.fortinet.com.", kind)
                .await
                .unwrap_err();
            assert_eq!(
                response_code(&error),
                Some(ResponseCode::NoError),
                "{kind}: {error}"
            );
        }
    }
    dns.stop().await;
}

#[tokio::test]
async fn every_other_name_is_refused() {
    let dns = responder(DnsOptions::default()).await;
    let resolver = client(dns.address(), Protocol::Udp);
    for name in [
        "example.org.",
        "fortinet.com.",
        "evil.push.fortinet.com.",
        "push.fortinet.com.evil.example.",
    ] {
        let error = a_records(&resolver, name).await.unwrap_err();
        assert_eq!(
            response_code(&error),
            Some(ResponseCode::Refused),
            "{name}: {error}"
        );
    }
    dns.stop().await;
}

#[tokio::test]
async fn each_service_may_have_its_own_address() {
    let ftm: IpAddr = "172.30.14.43".parse().unwrap();
    let push: IpAddr = "172.30.14.44".parse().unwrap();
    let appliance: IpAddr = "172.30.14.46".parse().unwrap();
    let options = DnsOptions {
        dns_address: Some("172.30.14.53".parse().unwrap()),
        dns_service_addresses: vec![
            ServiceAddress {
                service: "ftm".into(),
                address: ftm,
            },
            ServiceAddress {
                service: "push".into(),
                address: push,
            },
            ServiceAddress {
                service: "appliance".into(),
                address: appliance,
            },
        ],
        ..DnsOptions::default()
    };
    let dns = responder(options).await;
    let resolver = client(dns.address(), Protocol::Udp);
    for name in [
        "fortitokenmobile.fortinet.com.",
        "globalftm.fortinet.net.",
        "directregistration.fortinet.com.",
    ] {
        assert_eq!(a_records(&resolver, name).await.unwrap(), [ftm], "{name}");
    }
    assert_eq!(
        a_records(&resolver, "push.fortinet.com.").await.unwrap(),
        [push]
    );
    // The mail server is where the SMTP listener runs: the appliance container.
    assert_eq!(
        a_records(&resolver, "notification.fortinet.net.")
            .await
            .unwrap(),
        [appliance]
    );
    // forticare has no address of its own: the suite's.
    assert_eq!(
        a_records(&resolver, "support.fortinet.com.").await.unwrap(),
        ["172.30.14.53".parse::<IpAddr>().unwrap()]
    );
    dns.stop().await;
}

#[test]
fn a_suite_bound_to_every_address_needs_to_be_told_its_address() {
    let error =
        Answers::from_options(&DnsOptions::default(), "0.0.0.0".parse().unwrap()).unwrap_err();
    assert!(error.to_string().contains("--dns-address"), "{error}");
    let answers = Answers::from_options(
        &DnsOptions {
            dns_address: Some("192.0.2.10".parse().unwrap()),
            ..DnsOptions::default()
        },
        "0.0.0.0".parse().unwrap(),
    )
    .unwrap();
    assert_eq!(
        answers
            .lookup("push.fortinet.com")
            .map(|(ip, service)| (ip.to_string(), service)),
        Some(("192.0.2.10".to_owned(), Some("push")))
    );
}

/// An upstream DNS server with one zone, `lab.test.`, holding `www.lab.test. A 192.0.2.7`.
async fn upstream() -> (ServerFuture<Catalog>, SocketAddr) {
    let origin = Name::from_ascii("lab.test.").unwrap();
    let mut zone = InMemoryAuthority::empty(origin.clone(), ZoneType::Primary, false);
    let soa = SOA::new(
        Name::from_ascii("ns.lab.test.").unwrap(),
        Name::from_ascii("admin.lab.test.").unwrap(),
        1,
        3600,
        600,
        86400,
        60,
    );
    zone.upsert_mut(Record::from_rdata(origin.clone(), 60, RData::SOA(soa)), 1);
    zone.upsert_mut(
        Record::from_rdata(
            Name::from_ascii("www.lab.test.").unwrap(),
            60,
            RData::A(A::new(192, 0, 2, 7)),
        ),
        1,
    );
    let mut catalog = Catalog::new();
    catalog.upsert(
        origin.into(),
        vec![Arc::new(zone) as Arc<dyn AuthorityObject>],
    );
    let socket = tokio::net::UdpSocket::bind((LOOPBACK, 0)).await.unwrap();
    let address = socket.local_addr().unwrap();
    let mut server = ServerFuture::new(catalog);
    server.register_socket(socket);
    (server, address)
}

#[tokio::test]
async fn other_names_are_forwarded_when_asked() {
    let (mut upstream, upstream_address) = upstream().await;
    let dns = responder(DnsOptions {
        dns_forward: Some(upstream_address),
        ..DnsOptions::default()
    })
    .await;
    let resolver = client(dns.address(), Protocol::Udp);
    assert_eq!(
        a_records(&resolver, "www.lab.test.").await.unwrap(),
        ["192.0.2.7".parse::<IpAddr>().unwrap()]
    );
    let error = a_records(&resolver, "nothing.lab.test.").await.unwrap_err();
    assert_eq!(
        response_code(&error),
        Some(ResponseCode::NXDomain),
        "{error}"
    );
    // The emulated names are still answered here, never forwarded.
    assert_eq!(
        a_records(&resolver, "globalftm.fortinet.net.")
            .await
            .unwrap(),
        [LOOPBACK]
    );
    dns.stop().await;
    upstream.shutdown_gracefully().await.unwrap();
}

#[tokio::test]
async fn an_appliance_resolving_through_the_responder_reaches_ftm_by_its_real_name() {
    let dns = responder(DnsOptions::default()).await;
    let mut options = test_options(None);
    options.resolver = Some(dns.address());
    let suite = TestSuite::start_with(options, e2e::default_fixtures()).await;
    let ftm_port = reqwest::Url::parse(&suite.url("ftm"))
        .unwrap()
        .port()
        .unwrap();
    let fgt: ApplianceView = suite
        .new_appliance(
            json!({"ftm_url": format!("https://fortitokenmobile.fortinet.com:{ftm_port}")}),
        )
        .await;
    let tokens = suite
        .appliance_import(&fgt.serial.to_string(), "1111-2222-3333-4444-5555")
        .await;
    assert_eq!(tokens.len(), 5);
    // The same client, by the phones' name: the certificate covers it, the responder answers it.
    let client = suite.lab().http_client().unwrap();
    let health = client
        .get(format!(
            "https://globalftm.fortinet.net:{ftm_port}{}",
            paths::ADMIN_HEALTH
        ))
        .send()
        .await
        .unwrap();
    assert!(health.status().is_success());
    // A name the responder refuses is not reached at all.
    let refused = client
        .get(format!(
            "https://example.org:{ftm_port}{}",
            paths::ADMIN_HEALTH
        ))
        .send()
        .await
        .unwrap_err();
    assert!(refused.is_connect() || refused.is_request(), "{refused:?}");
    suite.stop().await;
    dns.stop().await;
}

#[test]
fn the_banner_says_the_mail_server_leads_to_the_smtp_listener() {
    let answers = Answers::from_options(&DnsOptions::default(), LOOPBACK).unwrap();
    assert_eq!(
        answers.lookup("notification.fortinet.net"),
        Some((LOOPBACK, Some("appliance")))
    );
    let lines = answers.describe();
    assert!(
        lines.contains(
            &"notification.fortinet.net → 127.0.0.1 (appliance: the SMTP listener)".to_owned()
        ),
        "{lines:?}"
    );
    assert!(
        lines.iter().all(|line| !line.contains("nothing serves it")),
        "{lines:?}"
    );
}

/// `PATCH /appliances/{serial}/messaging` with `change`: the settings after it.
async fn change_messaging(
    suite: &TestSuite,
    serial: &str,
    change: serde_json::Value,
) -> serde_json::Value {
    let response = suite
        .client
        .patch(format!(
            "{}{}",
            suite.url("appliance"),
            paths::fill(paths::APPLIANCE_MESSAGING, &[serial])
        ))
        .json(&change)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap()
}

#[tokio::test]
async fn an_appliance_mails_notification_fortinet_net_and_the_smtp_listener_captures_it() {
    let dns = responder(DnsOptions::default()).await;
    let mut options = test_options(None);
    options.resolver = Some(dns.address());
    let suite = TestSuite::start_with(options, e2e::default_fixtures()).await;
    let serial = suite.new_appliance(json!({})).await.serial.to_string();
    suite
        .appliance_import(&serial, "1111-2222-3333-4444-5555")
        .await;
    // FortiGate's default mail server, by name; the port stays the suite's SMTP listener's.
    let settings = change_messaging(
        &suite,
        &serial,
        json!({"smtp_server": "notification.fortinet.net", "smtp_security": "starttls"}),
    )
    .await;
    assert_eq!(settings["smtp_server"], "notification.fortinet.net");
    let provision = paths::fill(paths::APPLIANCE_PROVISION, &[&serial]);
    let (status, answer) = suite
        .admin_post(
            "appliance",
            &provision,
            &json!({"token": "any", "user": "alice", "email": "alice@example.com"}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{answer}");
    let reply = answer["delivered"]["server_reply"]
        .as_str()
        .unwrap_or_default();
    assert!(reply.starts_with("250"), "{answer}");
    let messages = suite.messages("recipient=alice@example.com").await;
    assert_eq!(messages.len(), 1);
    // STARTTLS checked the lab certificate against the name, not the address it resolved to.
    assert!(messages[0].tls, "the appliance must have used STARTTLS");

    // A mail server the responder refuses to resolve: the delivery fails, saying why, and nothing arrives.
    change_messaging(&suite, &serial, json!({"smtp_server": "mail.example.org"})).await;
    let (status, failure) = suite
        .admin_post(
            "appliance",
            &provision,
            &json!({"token": "any", "user": "bob", "email": "bob@example.com"}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::BAD_GATEWAY, "{failure}");
    assert_eq!(failure["error_id"], "appliance.delivery.failed");
    assert!(suite.messages("recipient=bob@example.com").await.is_empty());
    assert_eq!(suite.messages("").await.len(), 1);
    suite.stop().await;
    dns.stop().await;
}

#[tokio::test]
async fn the_labs_own_names_resolve_to_the_suite() {
    // `fortimock up --tls-name fac.lab.test --dns-port …`: a virtual FortiAuthenticator's REST API host name
    // resolves to the suite, so a script reaches it by name alone; an IP --tls-name is no name to answer.
    let answers = Answers::from_options(&DnsOptions::default(), LOOPBACK)
        .unwrap()
        .with_lab_names(&["fac.lab.test".to_owned(), "10.0.0.9".to_owned()]);
    assert!(
        answers
            .describe()
            .iter()
            .any(|line| line.starts_with("fac.lab.test → 127.0.0.1"))
    );
    let dns = fortimock::dns::start(LOOPBACK, 0, answers).await.unwrap();
    let resolver = client(dns.address(), Protocol::Udp);
    for name in ["fac.lab.test.", "FAC.Lab.Test."] {
        assert_eq!(
            a_records(&resolver, name).await.unwrap(),
            [LOOPBACK],
            "{name}"
        );
    }
    for name in ["other.lab.test.", "10.0.0.9."] {
        let error = a_records(&resolver, name).await.unwrap_err();
        assert_eq!(
            response_code(&error),
            Some(ResponseCode::Refused),
            "{name}: {error}"
        );
    }
    dns.stop().await;
}

/// fortimock never contacts a real Fortinet host: when a Fortinet name resolves to a public address (the
/// Internet's DNS answered, not the lab's), its HTTP clients and the appliances' mail client refuse it before
/// connecting, saying why; the lab's own answers (loopback, private) go through.
#[tokio::test]
async fn a_fortinet_name_resolved_to_a_public_address_is_never_contacted() {
    let public: IpAddr = "208.91.112.55".parse().unwrap();
    let dns = responder(DnsOptions {
        dns_address: Some(public),
        ..DnsOptions::default()
    })
    .await;
    let client = lab::client::http_client_resolving(None, None, Some(dns.address())).unwrap();
    for name in [
        "support.fortinet.com",
        "globalftm.fortinet.net",
        "update.fortiguard.net",
    ] {
        let refused = client
            .get(format!("https://{name}{}", paths::ADMIN_HEALTH))
            .send()
            .await
            .unwrap_err();
        let said = format!("{refused:?}");
        assert!(
            said.contains(&format!("refusing to contact {name} at {public}")),
            "{said}"
        );
    }
    let mail = lab::client::HostResolver::new(Some(dns.address()));
    let refused = mail.lookup("notification.fortinet.net").await.unwrap_err();
    assert!(
        format!("{refused:#}").contains("that is the real Fortinet host"),
        "{refused:#}"
    );
    dns.stop().await;

    // The lab's answer (loopback) for the same names is used as before.
    let dns = responder(DnsOptions::default()).await;
    let mail = lab::client::HostResolver::new(Some(dns.address()));
    assert_eq!(
        mail.lookup("notification.fortinet.net").await.unwrap(),
        LOOPBACK
    );
    dns.stop().await;
}
