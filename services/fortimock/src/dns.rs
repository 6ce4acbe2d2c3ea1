//! The DNS responder (`fortimock up --dns-port`, `fortimock dns`): answers the Fortinet host names fortimock
//! stands in for ([`protocol::hosts`]) with the address of the service that answers each, so an appliance
//! on the lab network is pointed at fortimock by its DNS setting alone, answers the lab's own names
//! (`fortimock up --tls-name`, e.g. a virtual FortiAuthenticator's REST API host name) with the suite's
//! address, and refuses every other name (or forwards it to `--dns-forward`). Served by hickory-server over UDP and TCP on one port.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfigGroup, ResolveHosts, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_server::ServerFuture;
use hickory_server::authority::MessageResponseBuilder;
use hickory_server::proto::ProtoErrorKind;
use hickory_server::proto::op::{Edns, Header, MessageType, OpCode, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use lab::health::HealthArgs;

/// FortiGate's mail server, which the appliance service's SMTP listener stands in for.
const MAIL_SERVER: &str = "notification.fortinet.net";

/// How long resolvers may keep an answer: short, so a lab whose addresses change is seen soon.
const TTL_SECS: u32 = 60;

/// The responder's flags, shared by `fortimock up` and `fortimock dns`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DnsOptions {
    /// Serve DNS (UDP and TCP) on this port of the bind address (53 for appliances; 0 picks a free one).
    /// Off unless given.
    #[arg(long, env = "FORTIMOCK_DNS_PORT")]
    pub dns_port: Option<u16>,
    /// The address the emulated names resolve to: the suite's, as appliances reach it (default: the bind
    /// address, unless it is 0.0.0.0 or ::).
    #[arg(long, env = "FORTIMOCK_DNS_ADDRESS")]
    pub dns_address: Option<IpAddr>,
    /// A service's own address (`ftm=172.30.14.43`), where services have one each (the compose lab):
    /// that service's names resolve there instead (repeatable, or comma-separated). `appliance=` places
    /// `notification.fortinet.net`, the mail server, at the container that runs the SMTP listener.
    #[arg(
        long = "dns-service-address",
        env = "FORTIMOCK_DNS_SERVICE_ADDRESSES",
        value_delimiter = ',',
        value_parser = parse_service_address
    )]
    pub dns_service_addresses: Vec<ServiceAddress>,
    /// Forward every other name to this DNS server (`IP` or `IP:PORT`) instead of refusing it.
    #[arg(long, env = "FORTIMOCK_DNS_FORWARD", value_parser = lab::options::parse_resolver)]
    pub dns_forward: Option<SocketAddr>,
}

/// `--dns-service-address`: where one service's names resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAddress {
    pub service: String,
    pub address: IpAddr,
}

fn parse_service_address(text: &str) -> Result<ServiceAddress, String> {
    let (service, address) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not SERVICE=ADDRESS (e.g. ftm=172.30.14.43)"))?;
    let service = service.trim();
    if protocol::hosts::names_of(service).next().is_none() {
        let mut services: Vec<&str> = protocol::hosts::EMULATED_HOSTS
            .iter()
            .filter_map(|host| host.service)
            .collect();
        services.dedup();
        return Err(format!(
            "`{service}` stands in for no host name: give one of {}",
            services.join(", ")
        ));
    }
    let address = address
        .trim()
        .parse()
        .map_err(|_| format!("`{}` is not an IP address", address.trim()))?;
    Ok(ServiceAddress {
        service: service.to_owned(),
        address,
    })
}

/// What the responder answers: an address for every emulated host name, and where other names go.
#[derive(Debug, Clone)]
pub struct Answers {
    /// Each emulated name (lowercase, no trailing dot) with its address and service.
    hosts: Vec<(&'static str, IpAddr, Option<&'static str>)>,
    /// The lab's own names (`--tls-name`: a virtual FortiAuthenticator's REST API host name), lowercase, all
    /// answered with the suite's address.
    lab_names: Vec<(String, IpAddr)>,
    /// The suite's address, as appliances reach it.
    default: Option<IpAddr>,
    forward: Option<SocketAddr>,
}

impl Answers {
    /// The answers `options` ask for, with `bind` the address the suite listens on.
    pub fn from_options(options: &DnsOptions, bind: IpAddr) -> anyhow::Result<Answers> {
        let default = options
            .dns_address
            .or((!bind.is_unspecified()).then_some(bind));
        let mut hosts = Vec::new();
        for host in protocol::hosts::EMULATED_HOSTS {
            let own = options
                .dns_service_addresses
                .iter()
                .rev()
                .find(|a| Some(a.service.as_str()) == host.service)
                .map(|a| a.address);
            let Some(address) = own.or(default) else {
                bail!(
                    "the DNS responder needs the address appliances reach the suite at to answer {}: give \
                     --dns-address (the suite binds {bind}, which is no address to answer with)",
                    host.name
                );
            };
            hosts.push((host.name, address, host.service));
        }
        Ok(Answers {
            hosts,
            lab_names: Vec::new(),
            default,
            forward: options.dns_forward,
        })
    }

    /// These answers, also answering the lab's own names (the `--tls-name`s that are host names, such as a
    /// virtual FortiAuthenticator's REST API name) with the suite's address, so a script reaches a FAC by
    /// its host name alone.
    pub fn with_lab_names(mut self, names: &[String]) -> Answers {
        if let Some(address) = self.default {
            self.lab_names = names
                .iter()
                .filter(|n| n.parse::<IpAddr>().is_err() && !n.trim().is_empty())
                .map(|n| (n.trim().trim_end_matches('.').to_ascii_lowercase(), address))
                .collect();
        }
        self
    }

    /// The address `name` resolves to, and the service behind it, if fortimock emulates it.
    pub fn lookup(&self, name: &str) -> Option<(IpAddr, Option<&'static str>)> {
        let Some(host) = protocol::hosts::emulated(name) else {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            return self
                .lab_names
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, address)| (*address, Some("appliance")));
        };
        self.hosts
            .iter()
            .find(|(n, _, _)| *n == host.name)
            .map(|(_, address, service)| (*address, *service))
    }

    /// One line per name, for banners: `fortitokenmobile.fortinet.com → 127.0.0.1 (ftm)`, and for the mail
    /// server `notification.fortinet.net → 127.0.0.1 (appliance: the SMTP listener)`.
    pub fn describe(&self) -> Vec<String> {
        self.hosts
            .iter()
            .map(|(name, address, service)| match service {
                Some(service) if *name == MAIL_SERVER => {
                    format!("{name} → {address} ({service}: the SMTP listener)")
                }
                Some(service) => format!("{name} → {address} ({service})"),
                None => format!("{name} → {address} (nothing serves it: stays in the lab)"),
            })
            .chain(
                self.lab_names
                    .iter()
                    .map(|(name, address)| format!("{name} → {address} (--tls-name)")),
            )
            .collect()
    }

    /// Where names fortimock does not emulate go, if anywhere.
    pub fn forward(&self) -> Option<SocketAddr> {
        self.forward
    }
}

/// The request handler hickory-server calls for every query.
struct Responder {
    answers: Answers,
    forwarder: Option<TokioResolver>,
}

/// A running responder.
pub struct RunningDns {
    server: ServerFuture<Responder>,
    address: SocketAddr,
}

/// Starts answering on `bind:port` over UDP and TCP (port 0 picks one free for both).
pub async fn start(bind: IpAddr, port: u16, answers: Answers) -> anyhow::Result<RunningDns> {
    let (udp, tcp) = bind_both(bind, port).await?;
    let address = udp.local_addr()?;
    let forwarder = answers.forward.map(|server| {
        let servers = NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true);
        let mut builder = TokioResolver::builder_with_config(
            ResolverConfig::from_parts(None, Vec::new(), servers),
            TokioConnectionProvider::default(),
        );
        builder.options_mut().use_hosts_file = ResolveHosts::Never;
        // The resolver that asked will cache; this one only passes answers on.
        builder.options_mut().cache_size = 0;
        builder.build()
    });
    let mut server = ServerFuture::new(Responder { answers, forwarder });
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(5));
    Ok(RunningDns { server, address })
}

/// A UDP socket and a TCP listener on the same port.
async fn bind_both(
    bind: IpAddr,
    port: u16,
) -> anyhow::Result<(tokio::net::UdpSocket, tokio::net::TcpListener)> {
    let mut last = None;
    // With port 0 the UDP port may be taken for TCP: try a few.
    for _ in 0..10 {
        let udp = tokio::net::UdpSocket::bind(SocketAddr::new(bind, port))
            .await
            .with_context(|| format!("binding the DNS responder to udp {bind}:{port}"))?;
        let chosen = udp.local_addr()?;
        match tokio::net::TcpListener::bind(chosen).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if port == 0 => last = Some(e),
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("binding the DNS responder to tcp {chosen}")));
            }
        }
    }
    Err(
        anyhow::Error::new(last.unwrap_or_else(|| std::io::Error::other("no port")))
            .context("finding a port free for both UDP and TCP"),
    )
}

impl RunningDns {
    /// Where it answers (UDP and TCP).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops answering and waits for in-flight queries.
    pub async fn stop(mut self) {
        if let Err(e) = self.server.shutdown_gracefully().await {
            tracing::warn!(error = %e, "the DNS responder did not stop cleanly");
        }
    }
}

#[async_trait::async_trait]
impl RequestHandler for Responder {
    async fn handle_request<R: ResponseHandler>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let builder = MessageResponseBuilder::from_message_request(request);
        let refuse = |code: ResponseCode| builder.error_msg(request.header(), code);
        let result = if request.message_type() != MessageType::Query {
            response_handle
                .send_response(refuse(ResponseCode::FormErr))
                .await
        } else if request.op_code() != OpCode::Query {
            // Updates, notifies: an appliance only asks.
            response_handle
                .send_response(refuse(ResponseCode::NotImp))
                .await
        } else {
            match request.request_info() {
                Err(_) => {
                    response_handle
                        .send_response(refuse(ResponseCode::FormErr))
                        .await
                }
                Ok(info) => {
                    let name = info.query.name().clone();
                    let kind = info.query.query_type();
                    let (header, records) = self.answer(request, &name, kind).await;
                    let mut builder = MessageResponseBuilder::from_message_request(request);
                    if let Some(edns) = request.edns() {
                        let mut reply = Edns::new();
                        reply.set_max_payload(edns.max_payload().max(512));
                        builder.edns(reply);
                    }
                    let response = builder.build(header, records.iter(), [], [], []);
                    response_handle.send_response(response).await
                }
            }
        };
        match result {
            Ok(info) => info,
            Err(e) => {
                tracing::warn!(error = %e, from = %request.src(), "dns: could not send the answer");
                let mut header = Header::new();
                header.set_response_code(ResponseCode::ServFail);
                header.into()
            }
        }
    }
}

impl Responder {
    /// The header and answer records for one question.
    async fn answer(
        &self,
        request: &Request,
        name: &LowerName,
        kind: RecordType,
    ) -> (Header, Vec<Record>) {
        let mut header = Header::response_from_request(request.header());
        let text = name.to_string();
        let Some((address, service)) = self.answers.lookup(&text) else {
            return self.pass_on(request, header, name, kind).await;
        };
        header.set_authoritative(true);
        let owner = Name::from(name.clone());
        let record = match (kind, address) {
            (RecordType::A | RecordType::ANY, IpAddr::V4(ip)) => {
                Some(Record::from_rdata(owner, TTL_SECS, RData::A(A(ip))))
            }
            (RecordType::AAAA | RecordType::ANY, IpAddr::V6(ip)) => {
                Some(Record::from_rdata(owner, TTL_SECS, RData::AAAA(AAAA(ip))))
            }
            // The name exists, with no record of this type (NODATA).
            _ => None,
        };
        let answer = record.as_ref().map_or_else(
            || "no record of this type".to_owned(),
            |_| address.to_string(),
        );
        // Questions from loopback (the health check, every two seconds in a container) log at debug.
        if request.src().ip().is_loopback() {
            tracing::debug!(name = text.trim_end_matches('.'), kind = %kind, answer, service = service.unwrap_or("-"), from = %request.src(), "dns answered");
        } else {
            tracing::info!(name = text.trim_end_matches('.'), kind = %kind, answer, service = service.unwrap_or("-"), from = %request.src(), "dns answered");
        }
        (header, record.into_iter().collect())
    }

    /// A name fortimock does not emulate: forwarded when `--dns-forward` says where, refused otherwise.
    async fn pass_on(
        &self,
        request: &Request,
        mut header: Header,
        name: &LowerName,
        kind: RecordType,
    ) -> (Header, Vec<Record>) {
        let text = name.to_string();
        let Some(forwarder) = &self.forwarder else {
            tracing::info!(name = text.trim_end_matches('.'), kind = %kind, from = %request.src(), "dns refused: not a name fortimock emulates");
            header.set_response_code(ResponseCode::Refused);
            return (header, Vec::new());
        };
        header.set_recursion_available(true);
        match forwarder.lookup(Name::from(name.clone()), kind).await {
            Ok(lookup) => {
                tracing::info!(name = text.trim_end_matches('.'), kind = %kind, records = lookup.records().len(), "dns forwarded");
                (header, lookup.records().to_vec())
            }
            // The upstream's own answer with no record (NXDOMAIN, NODATA, REFUSED, …), passed on as it came.
            Err(e) if e.is_no_records_found() => {
                if let Some(ProtoErrorKind::NoRecordsFound { response_code, .. }) =
                    e.proto().map(|p| p.kind())
                {
                    header.set_response_code(*response_code);
                }
                (header, Vec::new())
            }
            Err(e) => {
                tracing::warn!(name = text.trim_end_matches('.'), kind = %kind, error = %e, "dns forward failed");
                header.set_response_code(ResponseCode::ServFail);
                (header, Vec::new())
            }
        }
    }
}

/// `fortimock dns health`: whether a responder on `bind:port` answers an emulated name.
pub async fn health(bind: IpAddr, port: u16, args: &HealthArgs) -> anyhow::Result<()> {
    let host = match bind {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let name = protocol::hosts::EMULATED_HOSTS
        .first()
        .map_or("fortitokenmobile.fortinet.com", |h| h.name);
    let deadline = Instant::now() + Duration::from_secs_f64(args.wait.clamp(0.0, 3600.0));
    loop {
        let attempt = query(SocketAddr::new(host, port), name).await;
        match attempt {
            Ok(addresses) => {
                if !args.quiet {
                    let list: Vec<String> = addresses.iter().map(ToString::to_string).collect();
                    println!(
                        "dns        ready  {host}:{port} ({name} → {})",
                        list.join(", ")
                    );
                }
                return Ok(());
            }
            Err(e) if Instant::now() >= deadline => {
                return Err(e.context(format!(
                    "no DNS responder answers on {host}:{port} (is `fortimock dns --dns-port {port}` or \
                     `fortimock up --dns-port {port}` running?)"
                )));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Asks the DNS server at `server` for `name`'s addresses (A and AAAA), as a stub resolver does.
pub async fn query(server: SocketAddr, name: &str) -> anyhow::Result<Vec<IpAddr>> {
    let servers = NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true);
    let mut builder = TokioResolver::builder_with_config(
        ResolverConfig::from_parts(None, Vec::new(), servers),
        TokioConnectionProvider::default(),
    );
    builder.options_mut().use_hosts_file = ResolveHosts::Never;
    builder.options_mut().attempts = 1;
    builder.options_mut().timeout = Duration::from_secs(2);
    let resolver = builder.build();
    let lookup = resolver
        .lookup_ip(format!("{}.", name.trim_end_matches('.')))
        .await
        .with_context(|| format!("asking {server} for {name}"))?;
    Ok(lookup.iter().collect())
}

/// `fortimock dns`: the responder on its own (the compose lab's `dns` container), or its health check.
pub async fn run(args: crate::cli::DnsArgs) -> anyhow::Result<()> {
    let Some(port) = args.dns.dns_port else {
        bail!("fortimock dns needs --dns-port (53 for appliances)");
    };
    if let Some(crate::cli::DnsCommand::Health(check)) = &args.command {
        return health(args.bind, port, check).await;
    }
    lab::telemetry::init();
    let answers = Answers::from_options(&args.dns, args.bind)?;
    let dns = start(args.bind, port, answers.clone()).await?;
    tracing::debug!(address = %dns.address(), "dns listening");
    let mut banner = format!("fortimock dns answers on udp+tcp {}\n", dns.address());
    for line in answers.describe() {
        banner.push_str(&format!("  {line}\n"));
    }
    banner.push_str(&match answers.forward() {
        Some(server) => format!("  every other name is forwarded to {server}\n"),
        None => "  every other name is refused\n".to_owned(),
    });
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), banner.as_bytes());
    lab::server::shutdown_signal().await?;
    dns.stop().await;
    Ok(())
}
