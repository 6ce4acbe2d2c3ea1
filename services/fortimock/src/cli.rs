//! The command line: `fortimock up` and the subcommands that drive a running suite.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use lab::options::LabOptions;

use crate::client::Target;
use crate::suite::{ForticareOptions, PortOptions};

/// fortimock emulates Fortinet's FortiToken Mobile cloud (FortiCare licensing, FTM provisioning,
/// the push relay) for appliance test suites, labs and support engineers.
#[derive(Parser, Debug)]
#[command(name = "fortimock", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The flags every subcommand takes.
#[derive(clap::Args, Debug)]
pub struct GlobalArgs {
    /// Read settings from this TOML file (default: `fortimock.toml` in the working directory, if there is
    /// one); flags and FORTIMOCK_* variables override it.
    #[arg(long, global = true, env = "FORTIMOCK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// [`Cli`] with `up` its only subcommand: what a command line that runs `fortimock up` is parsed with
/// (`config::parse`), into a [`Cli`]. Building every subcommand's flags was a millisecond of each start
/// (4.6 million instructions and about 300 page faults); `up`'s alone take a tenth of that. A test holds
/// this tree's `up` to [`Cli`]'s.
#[derive(Parser, Debug)]
#[command(name = "fortimock", version, about, propagate_version = true)]
pub struct UpCli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: UpOnly,
}

/// [`UpCli`]'s one subcommand.
#[derive(Subcommand, Debug)]
pub enum UpOnly {
    /// Run every service in one process and print where each listens.
    Up(UpArgs),
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run every service in one process and print where each listens.
    Up(UpArgs),
    /// Whether every service of the running suite is ready (exit status 0), for scripts and container
    /// health checks; --wait keeps asking until they are.
    Health(HealthArgs),
    /// Create and list licenses in a running suite.
    #[command(subcommand)]
    License(LicenseCommand),
    /// Open and complete a Customer Service "License Transfer" ticket: move a whole FortiToken Mobile
    /// license from one appliance to another, under a new activation code (or list the tickets).
    Transfer(TransferArgs),
    /// Show where the lab CA is, so appliances and curl can trust it.
    Certs(CertsArgs),
    /// Drive a virtual appliance (FortiGate, FortiAuthenticator, FortiPAM, FortiProxy): import, provision,
    /// poll, show, login, hardware tokens, activation messages.
    #[command(subcommand)]
    Fgt(FgtCommand),
    /// A virtual FortiAuthenticator's own features: REST API keys, host name, token policy and provisioning
    /// settings, LDAP users, the messages it sent, offline activation pages, the Windows agent.
    #[command(subcommand)]
    Fac(FacCommand),
    /// Drive a virtual FortiToken Mobile phone: new, activate, otp, list, transfer.
    #[command(subcommand)]
    Phone(PhoneCommand),
    /// FortiGuard's hardware FortiTokens (forticare): create batches, list them, reset an activation lock
    /// as TAC does, download a batch's seed file.
    #[command(subcommand)]
    Hardware(HardwareCommand),
    /// The activation messages the suite captured (emails over SMTP, SMS), each with its activation code.
    Messages(MessagesArgs),
    /// What forticare, ftm and the push relay were asked and answered (seeds redacted), oldest first.
    Journal(JournalArgs),
    /// The exchanges between the lab's parts by flow: the flows, or one flow (or time range) in order, as
    /// lines or a Mermaid sequence diagram.
    Timeline(TimelineArgs),
    /// What the running suite reached (catalogue errors, message types, routes, scenarios, state
    /// transitions), what it did not, and the unknown types, versions and fields it received.
    Coverage(CoverageArgs),
    /// Export the running suite's state (every service's records, armed scenarios and the clock) to a
    /// bundle file, or import one: a lab handed over exactly as it stood.
    #[command(subcommand)]
    State(StateCommand),
    /// Reset the running suite to its start: every service emptied (forticare back to its fixtures), every
    /// scenario cleared, the clock back on real time.
    Reset(ResetArgs),
    /// Arm, list and clear scenarios: errors forticare, ftm, the push relay and the appliance service's SMTP
    /// listener and SMS sink answer on demand.
    #[command(subcommand)]
    Scenario(ScenarioCommand),
    /// Replay a customer's FortiOS debug log: every request in it sent to fortimock, fortimock's answer next
    /// to the captured one field by field; --arm arms the captured errors as scenarios for that appliance.
    Replay(ReplayArgs),
    /// Run the whole story against the running suite and narrate it: license, provisioning, phone
    /// activation, polling, login, a refused replay, an activation email whose QR code a phone scans, and a
    /// hardware token activated once by serial.
    Demo(DemoArgs),
    /// Measure polling, durable writes, start, memory (and, with --lab-size, a lab at scale), each against
    /// a baseline taken in the same run, and say which targets are met (build with --release first).
    Bench(BenchArgs),
    /// The bench's reference server: bare actix-web answering a canned PollingResponse.
    #[command(hide = true)]
    BenchReference(BenchReferenceArgs),
    /// Answer the Fortinet host names fortimock emulates over DNS on their own (what `up --dns-port`
    /// runs with the suite): the compose lab's `dns` container. `fortimock dns health` checks it.
    Dns(DnsArgs),
    /// The settings `fortimock up` would run with here (fortimock.toml, FORTIMOCK_* variables, defaults) and
    /// where each comes from.
    Config(ConfigArgs),
}

#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// The debug log (`diag debug app forticldd -1` with `diag fortitoken debug enable`, `diagnose debug
    /// application ftm-push -1`, …) as pasted; `-` reads stdin.
    pub file: String,
    /// Arm, for the appliance in the log, the scenario behind each captured catalogue error, then replay
    /// again.
    #[arg(long)]
    pub arm: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Replay against a lab of its own (no licenses, in memory, stopped afterwards) even when a suite runs.
    /// Without it the running suite is used, and an ephemeral lab only when none answers.
    #[arg(long)]
    pub ephemeral: bool,
    #[command(flatten)]
    pub target: Target,
}

#[derive(clap::Args, Debug)]
pub struct DnsArgs {
    #[command(subcommand)]
    pub command: Option<DnsCommand>,
    /// Address to answer on.
    #[arg(long, env = "FORTIMOCK_BIND", default_value_t = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))]
    pub bind: std::net::IpAddr,
    #[command(flatten)]
    pub dns: crate::dns::DnsOptions,
}

/// `fortimock dns`'s subcommands.
#[derive(Subcommand, Debug, Clone)]
pub enum DnsCommand {
    /// Whether the responder (on the same --bind and --dns-port) answers: exit status 0 once it answers an
    /// emulated name (fortitokenmobile.fortinet.com) with an address; the container health check.
    Health(lab::health::HealthArgs),
}

#[derive(clap::Args, Debug)]
pub struct ConfigArgs {
    /// Print README's table of every setting (flag, variable, file key, default) instead.
    #[arg(long)]
    pub table: bool,
}

#[derive(clap::Args, Debug)]
pub struct UpArgs {
    #[command(flatten)]
    pub lab: LabOptions,
    #[command(flatten)]
    pub ports: PortOptions,
    #[command(flatten)]
    pub forticare: ForticareOptions,
    /// Once every service is ready, write `{"forticare": "<base url>", ..., "smtp": "smtp://<address>"}`
    /// to this file (and `"dns": "dns://<address>"` with --dns-port).
    #[arg(long, env = "FORTIMOCK_READY_FILE")]
    pub ready_file: Option<PathBuf>,
    /// Load licenses from this fixtures file instead of the built-in default lab.
    #[arg(long, env = "FORTIMOCK_FIXTURES", conflicts_with = "no_fixtures")]
    pub fixtures: Option<PathBuf>,
    /// Start with no licenses at all.
    #[arg(long, env = "FORTIMOCK_NO_FIXTURES")]
    pub no_fixtures: bool,
    #[command(flatten)]
    pub dns: crate::dns::DnsOptions,
    /// Port of the dashboard, the lab in a browser (0 picks a free one).
    #[arg(long, env = "FORTIMOCK_UI_PORT", default_value_t = crate::dashboard::DEFAULT_PORT)]
    pub ui_port: u16,
    /// Start no dashboard.
    #[arg(long, env = "FORTIMOCK_NO_UI")]
    pub no_ui: bool,
    /// How log lines are written to stderr: text for people, json (one object a line) for machines. Each
    /// request's line is logged at debug: `RUST_LOG=debug fortimock up` shows them.
    #[arg(long, env = "FORTIMOCK_LOG_FORMAT", value_enum, default_value_t = lab::telemetry::LogFormat::Text)]
    pub log_format: lab::telemetry::LogFormat,
    /// When the suite stops (Ctrl-C, SIGTERM), write the coverage report (JSON, as `GET /__admin/coverage`
    /// answers it) to this file.
    #[arg(long, env = "FORTIMOCK_COVERAGE_REPORT")]
    pub coverage_report: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct HealthArgs {
    #[command(flatten)]
    pub target: Target,
    /// Keep asking for up to this many seconds until every service is ready.
    #[arg(long, default_value_t = 0.0)]
    pub wait: f64,
    /// Print nothing; the exit status says it all.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Subcommand, Debug)]
pub enum LicenseCommand {
    /// Create a license and print its activation code.
    Create(LicenseCreateArgs),
    /// List every license with its code, seats and owner.
    List(LicenseListArgs),
    /// Show one license with its tokens.
    Show(LicenseShowArgs),
    /// Save a license's redemption certificate, the PDF named `<EFTM id>.pdf`.
    Certificate(LicenseCertificateArgs),
}

#[derive(clap::Args, Debug)]
pub struct LicenseCertificateArgs {
    #[command(flatten)]
    pub target: Target,
    /// The license id (EFTM…).
    pub id: String,
    /// Where to write it (default `<EFTM id>.pdf` in the current directory; `-` for standard output).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct TransferArgs {
    #[command(flatten)]
    pub target: Target,
    /// The license (EFTM…) to move: the whole license, never part of it.
    #[arg(required_unless_present_any = ["list", "show"])]
    pub license: Option<String>,
    /// The appliance (serial) the license is registered to now.
    #[arg(long, required_unless_present_any = ["list", "show"])]
    pub from: Option<String>,
    /// The appliance (serial) that gets it.
    #[arg(long, required_unless_present_any = ["list", "show"])]
    pub to: Option<String>,
    /// A return-merchandise replacement: the only way a license shipped on or after 2025-08-04 moves;
    /// every token must then be provisioned again on the new unit.
    #[arg(long)]
    pub rma: bool,
    /// How long the old appliance keeps working: seconds, or with a unit (`90s`, `30m`, `24h`, `2d`);
    /// default 24h.
    #[arg(long)]
    pub grace: Option<String>,
    /// What the customer writes in the ticket.
    #[arg(long)]
    pub note: Option<String>,
    /// List every ticket instead.
    #[arg(long, conflicts_with_all = ["license", "from", "to", "rma", "grace", "note", "show"])]
    pub list: bool,
    /// Show one ticket instead.
    #[arg(long, value_name = "TICKET", conflicts_with_all = ["license", "from", "to", "rma", "grace", "note"])]
    pub show: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct LicenseCreateArgs {
    #[command(flatten)]
    pub target: Target,
    /// Number of tokens (1 to 10000).
    #[arg(long)]
    pub seats: u32,
    /// The 20-hex-digit activation code (default: random).
    #[arg(long)]
    pub code: Option<String>,
    /// The EFTM license id (default: random).
    #[arg(long)]
    pub id: Option<String>,
    /// Last day the code may be redeemed for the first time (YYYY-MM-DD).
    #[arg(long)]
    pub valid_until: Option<String>,
    /// The day it shipped (YYYY-MM-DD; default today on the lab clock): from 2025-08-04 on, it moves to
    /// another appliance only on an RMA.
    #[arg(long)]
    pub shipped: Option<String>,
    /// Free text shown in listings.
    #[arg(long)]
    pub note: Option<String>,
    /// Print the license as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct LicenseListArgs {
    #[command(flatten)]
    pub target: Target,
    /// Print the list as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct LicenseShowArgs {
    #[command(flatten)]
    pub target: Target,
    /// The license id (EFTM… or FTMTRIAL…).
    pub id: String,
    /// Print the license as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct CertsArgs {
    #[command(flatten)]
    pub lab: LabOptions,
    /// Print the CA certificate itself (PEM) instead of where it is.
    #[arg(long)]
    pub pem: bool,
}

#[derive(Subcommand, Debug)]
pub enum FgtCommand {
    /// Create a virtual appliance: a FortiGate, or with --kind a FortiAuthenticator, FortiPAM or FortiProxy.
    New(FgtNewArgs),
    /// List the virtual appliances.
    List(ListArgs),
    /// `execute fortitoken-mobile import <code>`: import a license (or the trial, 0000-0000-0000-0000-0000).
    Import {
        #[command(flatten)]
        target: Target,
        /// The appliance's serial.
        fgt: String,
        /// The 20-character activation code.
        code: String,
        /// Print FortiOS debug lines (`diagnose fortitoken debug enable`).
        #[arg(long)]
        debug: bool,
    },
    /// Assign a token to a user: the appliance generates the seed and provisions it.
    Provision {
        #[command(flatten)]
        target: Target,
        fgt: String,
        /// A token serial, or `any` for the first Available token.
        token: String,
        /// The user the token is assigned to.
        #[arg(long)]
        user: String,
        /// How long the activation code stays valid (default: the appliance's setting, 72 h).
        #[arg(long)]
        expiry_minutes: Option<u32>,
        /// Email the activation code (with its QR code) to this address, through the suite's SMTP listener.
        #[arg(long, conflicts_with = "sms_phone")]
        email: Option<String>,
        /// Send the activation code by SMS to this number (E.164), through the suite's SMS sink.
        #[arg(long)]
        sms_phone: Option<String>,
        #[arg(long)]
        debug: bool,
    },
    /// `execute fortitoken-mobile renew <token>`: provision the token again with a new seed and code.
    Renew {
        #[command(flatten)]
        target: Target,
        fgt: String,
        token: String,
        #[arg(long)]
        debug: bool,
    },
    /// Hardware tokens on a virtual appliance: activate by serial, import a seed file, assign, info.
    #[command(subcommand)]
    Hardware(FgtHardwareCommand),
    // `send-activation` and `messaging show|set`, from fgt_messaging.rs.
    #[command(flatten)]
    Messaging(crate::fgt_messaging::FgtMessagingCommand),
    /// `execute fortitoken-mobile poll`: ask the FortiToken server about pending tokens.
    Poll {
        #[command(flatten)]
        target: Target,
        fgt: String,
        #[arg(long)]
        debug: bool,
    },
    /// `show user fortitoken`: the appliance's token table and users.
    Show {
        #[command(flatten)]
        target: Target,
        fgt: String,
        #[arg(long)]
        json: bool,
    },
    /// Log a user in with an OTP, or with --push by approving a push on the phone.
    Login {
        #[command(flatten)]
        target: Target,
        fgt: String,
        user: String,
        /// The OTP (not needed with --push).
        otp: Option<String>,
        /// Send a FortiToken Mobile push and wait for the phone's answer.
        #[arg(long)]
        push: bool,
        /// Print the ftm-push debug lines.
        #[arg(long)]
        debug: bool,
    },
    /// `config system ftm-push`: push login settings and the listener phones answer on.
    FtmPush {
        #[command(flatten)]
        target: Target,
        fgt: String,
        /// enable or disable.
        #[arg(long, value_parser = ["enable", "disable"])]
        status: Option<String>,
        /// The address pushes tell phones to answer at.
        #[arg(long)]
        server: Option<String>,
        /// The listener's port (default 4433; 0 picks a free one).
        #[arg(long)]
        server_port: Option<u16>,
        /// lab (phones trust it) or untrusted (reproduces "invalid server certificate").
        #[arg(long)]
        server_cert: Option<String>,
        /// false keeps the listener closed, as a firewall or NAT that does not forward the port would.
        #[arg(long)]
        reachable: Option<bool>,
        /// How long a push login waits for the phone (remoteauthtimeout), in seconds.
        #[arg(long)]
        timeout_secs: Option<u32>,
    },
    /// Where the unit reaches the cloud: shown, or changed: its FortiToken server or FortiGuard address set,
    /// or settings put back on the running suite's.
    Servers {
        #[command(flatten)]
        target: Target,
        fgt: String,
        /// The FortiToken server it talks to from now on (its `ftm_url`, as `fgt new --server`).
        #[arg(long)]
        server: Option<String>,
        /// FortiGuard's token service (hardware activation) from now on.
        #[arg(long)]
        fortiguard_url: Option<String>,
        /// Put a setting back on the running suite's: ftm_url, fortiguard_url, ftm_push.relay_url or
        /// messaging (repeat for several).
        #[arg(long, value_parser = str::parse::<protocol::appliance::SuiteSetting>)]
        follow_suite: Vec<protocol::appliance::SuiteSetting>,
        #[arg(long)]
        json: bool,
    },
    /// Unlock a user locked out after failed logins.
    Unlock {
        #[command(flatten)]
        target: Target,
        fgt: String,
        user: String,
    },
    /// The appliance's recent FortiOS-style debug lines.
    Debug {
        #[command(flatten)]
        target: Target,
        fgt: String,
    },
    /// `config user fortitoken`, `delete <token>`: remove a token from the appliance (not one a user has).
    DeleteToken {
        #[command(flatten)]
        target: Target,
        fgt: String,
        token: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum HardwareCommand {
    /// Create a batch of hardware tokens (serials in the real format, seeds FortiGuard keeps sealed).
    Create {
        #[command(flatten)]
        target: Target,
        /// FTK200, FTK210, FTK220 or FTK211 (the 200CD, served only by seed file).
        #[arg(long)]
        model: String,
        /// How many tokens, 1 to 1000 (one range of serials).
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// DEMO tokens, which never lock on activation.
        #[arg(long)]
        demo: bool,
        /// A note for people (the order, the customer), at most 1 KiB.
        #[arg(long)]
        note: Option<String>,
        /// Print the batch as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the batches and their tokens' lock states.
    List {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        json: bool,
    },
    /// One batch.
    Show {
        #[command(flatten)]
        target: Target,
        /// The batch's id (`HW000001`).
        batch: String,
        /// Print the batch as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Reset the activation lock of tokens (what TAC does on a ticket; FTK200/210/220 only, and only tokens
    /// no user has on a virtual appliance): one more activation each.
    ResetLock {
        #[command(flatten)]
        target: Target,
        /// The tokens' serials (all are reset, or none).
        #[arg(required = true)]
        serials: Vec<String>,
    },
    /// Download a batch's seed file (a password-protected zip); the password is printed once.
    SeedFile {
        #[command(flatten)]
        target: Target,
        /// The batch's id (`HW000001`).
        batch: String,
        /// Where to write the zip.
        #[arg(long, short)]
        output: PathBuf,
        /// The seed file format: ftk200cd (FortiGate/FortiAuthenticator, the default); okta, duo, azure and
        /// centrify are Customer Service's third-party formats, which fortimock refuses.
        #[arg(long)]
        format: Option<String>,
    },
}

#[derive(clap::Args, Debug)]
pub struct MessagesArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub command: Option<MessagesCommand>,
    /// Only messages to this address or number.
    #[arg(long)]
    pub recipient: Option<String>,
    /// `email` or `sms`.
    #[arg(long)]
    pub kind: Option<String>,
    /// Only messages from this appliance serial.
    #[arg(long)]
    pub appliance: Option<String>,
    /// Only the newest N.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Print JSON.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum MessagesCommand {
    /// One message: its subject and text.
    Show {
        /// The message's id (`fortimock messages` lists them).
        id: String,
    },
    /// Save an email as it arrived (`.eml`).
    Eml {
        /// The email's id (`fortimock messages` lists them).
        id: String,
        /// Where to write the `.eml` file.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Remove every captured message.
    Clear,
}

#[derive(Subcommand, Debug)]
pub enum FgtHardwareCommand {
    /// `execute fortitoken activate <sn> …`: activate hardware tokens by serial with FortiGuard.
    Activate {
        #[command(flatten)]
        target: Target,
        /// The appliance's serial.
        fgt: String,
        /// The hardware serials (FortiOS drops what is not one without a word).
        #[arg(required = true)]
        serials: Vec<String>,
        /// Print FortiOS debug lines (`diagnose fortitoken debug enable`).
        #[arg(long)]
        debug: bool,
    },
    /// Import a seed file offline (no FortiGuard contact).
    ImportSeedFile {
        #[command(flatten)]
        target: Target,
        /// The appliance's serial.
        fgt: String,
        /// The zip file.
        file: PathBuf,
        /// The zip's password.
        #[arg(long)]
        password: String,
    },
    /// Assign a hardware token to a user (Available → Assigned).
    Assign {
        #[command(flatten)]
        target: Target,
        /// The appliance's serial.
        fgt: String,
        /// A serial, or `any`.
        token: String,
        /// The user the token is assigned to (a user has one token, hardware or mobile).
        #[arg(long)]
        user: String,
    },
    /// `diagnose fortitoken info`.
    Info {
        #[command(flatten)]
        target: Target,
        /// The appliance's serial.
        fgt: String,
    },
}

/// `fgt new --kind`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplianceKind {
    Fortigate,
    Fortiauthenticator,
    Fortipam,
    Fortiproxy,
}

#[derive(clap::Args, Debug)]
pub struct FgtNewArgs {
    #[command(flatten)]
    pub target: Target,
    /// The serial (default: a random one with the kind's prefix: FGVM02TM…, FAC-VMTM…, FPAVM0TM…, FPXVM0TM…).
    #[arg(long)]
    pub serial: Option<String>,
    /// An HA peer's serial (repeatable).
    #[arg(long)]
    pub peer: Vec<String>,
    /// The VDOM (default root).
    #[arg(long)]
    pub vdom: Option<String>,
    /// Play a FortiAuthenticator: 60-second tokens by default, a one-minute window (the same as `--kind
    /// fortiauthenticator`).
    #[arg(long, conflicts_with = "kind")]
    pub fac: bool,
    /// The appliance kind, with its serial prefix, OTP period and rules (default fortigate).
    #[arg(long, value_enum)]
    pub kind: Option<ApplianceKind>,
    /// FortiOS version sent as `__device_version` (default 7.4).
    #[arg(long)]
    pub fortios: Option<String>,
    /// The firmware's full version (e.g. 7.4.10, which carries the hardware activation bug 1218458;
    /// default: `--fortios` with patch 9).
    #[arg(long)]
    pub firmware: Option<String>,
    /// FortiOS build sent as `__device_build` (default 2829).
    #[arg(long)]
    pub build: Option<String>,
    /// The FortiToken server it talks to (default: the suite's ftm; any base URL, so a third-party
    /// FortiGuard stand-in works too).
    #[arg(long)]
    pub server: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum FacCommand {
    /// Issue an administrator's REST API key (a new key replaces the old) and print how to reach the API.
    ApiKey {
        #[command(flatten)]
        target: Target,
        /// The FortiAuthenticator's serial.
        fac: String,
        /// The administrator (default admin).
        #[arg(long, default_value = "admin")]
        admin: String,
    },
    /// Show the host name, provisioning settings, token policy and administrators.
    Show {
        #[command(flatten)]
        target: Target,
        fac: String,
        #[arg(long)]
        json: bool,
    },
    /// Change the host name, provisioning settings or token policy (each value checked against FAC's
    /// ranges; nothing changes if one is refused).
    Set(FacSetArgs),
    /// Add an LDAP user (what the FAC's LDAP synchronisation would bring).
    LdapUser {
        #[command(flatten)]
        target: Target,
        fac: String,
        username: String,
        /// The user's distinguished name.
        #[arg(long)]
        dn: String,
        #[arg(long)]
        email: Option<String>,
        /// `+<country code>-<number>`.
        #[arg(long)]
        mobile: Option<String>,
        /// The user is disabled in the directory.
        #[arg(long)]
        inactive: bool,
    },
    /// Lock one of the FAC's tokens so it cannot be assigned (assigning it is refused with "This serial
    /// number is not available for use."), or unlock it with --unlock.
    LockToken {
        #[command(flatten)]
        target: Target,
        /// The FortiAuthenticator's serial.
        fac: String,
        /// The token's serial (FTKMOB…).
        token: String,
        /// Unlock the token instead.
        #[arg(long)]
        unlock: bool,
    },
    /// The email and SMS messages the FAC sent (activation, token and transfer codes).
    Outbox {
        #[command(flatten)]
        target: Target,
        fac: String,
        #[arg(long)]
        json: bool,
    },
    /// A token's offline activation page: the QR code's content, or the QR code as a PNG file.
    Activation {
        #[command(flatten)]
        target: Target,
        fac: String,
        token: String,
        /// Write the QR code's PNG here.
        #[arg(long)]
        png: Option<PathBuf>,
    },
    /// A virtual Windows agent fetches a user's offline codes (offline support must be on).
    AgentSync {
        #[command(flatten)]
        target: Target,
        fac: String,
        agent: String,
        user: String,
    },
    /// An offline login on a virtual Windows agent's PC, checked against its cache alone.
    AgentLogin {
        #[command(flatten)]
        target: Target,
        fac: String,
        agent: String,
        user: String,
        code: String,
    },
}

#[derive(clap::Args, Debug)]
pub struct FacSetArgs {
    #[command(flatten)]
    pub target: Target,
    pub fac: String,
    /// The name its REST API answers to (`https://<host name>/api/v1/`).
    #[arg(long)]
    pub host_name: Option<String>,
    /// totp or hotp: what new tokens are provisioned as.
    #[arg(long)]
    pub token_algo: Option<String>,
    /// online or offline (offline activation from the activation page's QR code).
    #[arg(long)]
    pub provision_mode: Option<String>,
    /// TOTP authentication window, minutes (1–60).
    #[arg(long)]
    pub totp_window: Option<u32>,
    /// HOTP authentication window, counts (1–100).
    #[arg(long)]
    pub hotp_window: Option<u32>,
    /// TOTP sync window, minutes (5–480).
    #[arg(long)]
    pub totp_sync_window: Option<u32>,
    /// HOTP sync window, counts (5–500).
    #[arg(long)]
    pub hotp_sync_window: Option<u32>,
    /// Email/SMS token timeout, seconds (10–3600).
    #[arg(long)]
    pub email_sms_timeout: Option<u32>,
    /// FortiToken Mobile transfer between phones (off by default).
    #[arg(long)]
    pub transfer: Option<bool>,
    /// Windows agent offline support (needs --offline-secret).
    #[arg(long)]
    pub offline: Option<bool>,
    /// The shared secret agents open their caches with.
    #[arg(long)]
    pub offline_secret: Option<String>,
    /// Days of TOTP codes cached (1–200).
    #[arg(long)]
    pub offline_totp_days: Option<u32>,
    /// HOTP counts cached (1–4000).
    #[arg(long)]
    pub offline_hotp_counts: Option<u32>,
    /// Emergency codes (need offline support).
    #[arg(long)]
    pub emergency_codes: Option<bool>,
    /// Days emergency codes stay valid (1–30).
    #[arg(long)]
    pub emergency_days: Option<u32>,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum PhoneCommand {
    /// Create a virtual phone with FortiToken Mobile installed.
    New {
        #[command(flatten)]
        target: Target,
        /// The phone's id (default phone-N, N counting up).
        #[arg(long)]
        name: Option<String>,
        /// android (default) or ios.
        #[arg(long)]
        platform: Option<String>,
        /// How far the phone's clock is off, in seconds.
        #[arg(long, allow_hyphen_values = true)]
        skew: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// List the virtual phones and their tokens.
    List(ListArgs),
    /// Activate a token with the code the user received (16 characters, or the QR string).
    Activate {
        #[command(flatten)]
        target: Target,
        /// The phone's id.
        device: String,
        /// The activation code as typed, or the QR string (or none with --from-message/--latest-for).
        #[arg(required_unless_present_any = ["from_message", "latest_for"])]
        code: Option<String>,
        /// Scan the QR code of this captured activation email (`fortimock messages` lists them).
        #[arg(long, conflicts_with_all = ["code", "latest_for"])]
        from_message: Option<String>,
        /// Scan the QR code of the newest activation email captured for this address.
        #[arg(long, conflicts_with = "code")]
        latest_for: Option<String>,
    },
    /// Print the OTP the phone shows now (just the code, for scripts).
    Otp {
        #[command(flatten)]
        target: Target,
        device: String,
        /// The token serial; optional when the phone has one token.
        token: Option<String>,
        /// Another time than now (RFC 3339, a date, or epoch seconds).
        #[arg(long)]
        at: Option<String>,
        /// Print the details as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The pushes the phone received: what each asks, and whether it was answered.
    Inbox {
        #[command(flatten)]
        target: Target,
        device: String,
        #[arg(long)]
        json: bool,
    },
    /// Approve a push (the newest pending one by default): the phone answers the appliance with its OTP.
    Approve {
        #[command(flatten)]
        target: Target,
        device: String,
        /// The push's number in the inbox, or `latest`.
        #[arg(default_value = "latest")]
        push: String,
    },
    /// Deny a push (the newest pending one by default).
    Deny {
        #[command(flatten)]
        target: Target,
        device: String,
        #[arg(default_value = "latest")]
        push: String,
    },
    /// What the phone does with pushes as they arrive: manual, approve, deny, ignore, or approve_after_delay.
    Policy {
        #[command(flatten)]
        target: Target,
        device: String,
        #[arg(value_parser = ["manual", "approve", "deny", "ignore", "approve_after_delay"])]
        policy: String,
        /// With approve_after_delay: how long the user takes, in milliseconds.
        #[arg(long)]
        delay_ms: Option<u64>,
    },
    /// Print the phone as the app stores it (shared prefs and accounts, seeds encrypted), as JSON.
    Export {
        #[command(flatten)]
        target: Target,
        device: String,
    },
    /// Token transfer between phones: start it on the old phone (the FortiAuthenticator sends the transfer
    /// code), show the code it sent, complete it on the new phone, check it on the old one.
    #[command(subcommand)]
    Transfer(crate::phone_transfer::PhoneTransferCommand),
}

#[derive(clap::Args, Debug)]
pub struct JournalArgs {
    #[command(flatten)]
    pub target: Target,
    /// Only this service's journal (forticare, ftm or push).
    #[arg(long, value_parser = protocol::scenario::JOURNALED.to_vec())]
    pub service: Option<String>,
    /// Only requests of this type (SoftToken.ProvisionRequest, …, or push).
    #[arg(long)]
    pub message_type: Option<String>,
    /// The newest N of each service.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print each request and answer body too.
    #[arg(long)]
    pub bodies: bool,
    /// Empty the journals instead.
    #[arg(long, conflicts_with_all = ["message_type", "bodies", "json"])]
    pub clear: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct TimelineArgs {
    #[command(flatten)]
    pub target: Target,
    /// Only this flow's exchanges (an answer's `x-fortimock-flow` header, or a flow `fortimock timeline`
    /// lists).
    #[arg(long)]
    pub flow: Option<String>,
    /// Only exchanges answered at or after this time (RFC 3339, or Unix milliseconds; the lab clock).
    #[arg(long)]
    pub since: Option<String>,
    /// Only exchanges answered at or before this time.
    #[arg(long)]
    pub until: Option<String>,
    /// Print the Mermaid `sequenceDiagram` instead.
    #[arg(long, conflicts_with = "json")]
    pub mermaid: bool,
    /// Print the JSON answer instead.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct CoverageArgs {
    #[command(flatten)]
    pub target: Target,
    /// Print the JSON report instead.
    #[arg(long)]
    pub json: bool,
    /// List only what was reached (not what was missed).
    #[arg(long)]
    pub reached: bool,
}

#[derive(Subcommand, Debug)]
pub enum StateCommand {
    /// Write every service's state and the clock to a bundle (JSON).
    Export {
        #[command(flatten)]
        target: Target,
        /// The file to write (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Replace every service's state with a bundle's and set the clock to it; the bundle is checked by
    /// every service first, and nothing changes if one refuses it.
    Import {
        #[command(flatten)]
        target: Target,
        /// The bundle `fortimock state export` wrote.
        bundle: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
pub struct ResetArgs {
    #[command(flatten)]
    pub target: Target,
    /// Reset only this service (the clock, which every service shares, is then left alone).
    #[arg(long, value_parser = SERVICES)]
    pub service: Option<String>,
    /// Leave the clock where it is.
    #[arg(long)]
    pub keep_clock: bool,
}

/// Every service of the suite, in the order a reset goes through them (the callers first).
pub const SERVICES: [&str; 5] = ["appliance", "phone", "push", "ftm", "forticare"];

#[derive(Subcommand, Debug)]
pub enum ScenarioCommand {
    /// Arm a scenario: a catalogue error (see `fortimock scenario errors`), or --status, or --delay-ms alone.
    Arm(Box<ScenarioArmArgs>),
    /// List the scenarios armed on forticare, ftm, push and appliance, with how often each fired and what
    /// each matches (serial, token, recipient, …).
    List {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        json: bool,
    },
    /// Clear one scenario (its id and --service), or every scenario (of --service, or of every service).
    Clear {
        #[command(flatten)]
        target: Target,
        /// The scenario's id (`s1`, …); needs --service, since each service numbers its own.
        id: Option<String>,
        /// forticare, ftm, push or appliance.
        #[arg(long, value_parser = SCENARIO_SERVICES)]
        service: Option<String>,
    },
    /// Every catalogue error (stable id, code, provenance, wire text and the symptom the user sees), and
    /// for those a scenario can answer with, which service answers it and what it does.
    Errors {
        #[arg(long)]
        json: bool,
    },
}

/// The services that take scenarios.
pub const SCENARIO_SERVICES: [&str; 4] = ["forticare", "ftm", "push", "appliance"];

#[derive(clap::Args, Debug)]
pub struct ScenarioArmArgs {
    #[command(flatten)]
    pub target: Target,
    /// The catalogue error to answer with, e.g. ftm.mobile.code-invalid (its service is implied).
    pub error: Option<String>,
    /// Answer with this HTTP status instead (needs --service).
    #[arg(long, conflicts_with = "error")]
    pub status: Option<u16>,
    /// Hold the answer this long first, in milliseconds (alone: a slow service; needs --service).
    #[arg(long)]
    pub delay_ms: Option<u64>,
    /// forticare, ftm, push or appliance (its SMTP listener and SMS sink; default: the service that
    /// answers `error`).
    #[arg(long, value_parser = SCENARIO_SERVICES)]
    pub service: Option<String>,
    /// Only for this appliance serial.
    #[arg(long)]
    pub serial: Option<String>,
    /// Only for imports of this license activation code.
    #[arg(long)]
    pub license_code: Option<String>,
    /// Only for requests naming this token serial (token errors then refuse only it).
    #[arg(long)]
    pub token: Option<String>,
    /// Only for phones redeeming this activation code.
    #[arg(long)]
    pub activation_code: Option<String>,
    /// Only for phones with this mobile_id.
    #[arg(long)]
    pub mobile_id: Option<String>,
    /// Only for pushes to this registration id.
    #[arg(long)]
    pub registration_id: Option<String>,
    /// Only for emails to this address or SMS to this number (the appliance service's SMTP listener and SMS
    /// sink).
    #[arg(long)]
    pub recipient: Option<String>,
    /// Only for this request type (SoftToken.ProvisionRequest, …, or push).
    #[arg(long)]
    pub message_type: Option<String>,
    /// Fire for the next N matching requests only.
    #[arg(long)]
    pub times: Option<u32>,
    /// Fire with this chance (0 < p <= 1).
    #[arg(long)]
    pub probability: Option<f64>,
    /// Seed for --probability's draws, so a run repeats exactly.
    #[arg(long)]
    pub rng_seed: Option<u64>,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    #[command(flatten)]
    pub target: Target,
    /// Tell the license transfer story instead: an RMA from one FortiGate to its replacement, through
    /// the grace period and after (moves the lab clock forward).
    #[arg(long)]
    pub transfer: bool,
    /// Tell the FortiAuthenticator chapter instead: a script drives a FAC's REST API (license, user,
    /// token assignment and its activation message, auth/), then alice moves her token to a new phone.
    #[arg(long, conflicts_with = "transfer")]
    pub fac: bool,
}

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Concurrent keep-alive connections of each load measurement.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Seconds each load measurement is recorded, after its warm-up.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Seconds of load before each measurement is recorded (connections open, caches warm).
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Measurements compared with each other (fortimock's polls and the reference server's, one writer and
    /// many) take turns in this many rounds, so a busy machine weighs on them alike.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Starts of each kind to take the median of.
    #[arg(long, default_value_t = 11)]
    pub starts: usize,
    /// HTTP workers per service of the suites under load (the reference server has one).
    #[arg(long, default_value_t = 1)]
    pub server_workers: usize,
    /// Tokens imported and provisioned for the memory figure (in licenses of up to 10,000 seats).
    #[arg(long, default_value_t = 100_000)]
    pub memory_tokens: usize,
    /// Also build a lab of this many appliances through the public APIs and measure it at scale.
    #[arg(long)]
    pub lab_size: Option<usize>,
    /// With --lab-size: tokens in that lab, shared evenly by its appliances.
    #[arg(long, default_value_t = 1_000_000, requires = "lab_size")]
    pub tokens: usize,
    /// Leave out WireMock and Mockoon even when they are installed.
    #[arg(long)]
    pub skip_peers: bool,
    /// Leave out the separate binaries (`forticare-mock` and `ftm-mock`), which are otherwise measured
    /// and must then be next to `fortimock`.
    #[arg(long)]
    pub skip_standalone: bool,
    /// Where the servers' data dirs and the disk probe go (default: the system's temporary directory).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// `fortimock bench-reference`: the bench's reference server (not for users; the bench starts it).
#[derive(clap::Args, Debug)]
pub struct BenchReferenceArgs {
    /// Port to listen on (0 picks a free one); the server prints its URL on the first line of stdout.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Once listening, write `{"reference": "<base url>"}` to this file.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::{Cli, UpCli};

    /// clap checks argument definitions only when a subcommand is used; this checks them all.
    #[test]
    fn every_subcommand_is_well_formed() {
        Cli::command().debug_assert();
        UpCli::command().debug_assert();
    }
}
