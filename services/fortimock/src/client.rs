//! How the CLI finds a running suite: the `--data-dir`, `--<service>-url`, `--cacert`, `--client-cert`,
//! `--admin-token` and `--resolver` flags every driving subcommand takes, turned into a [`SuiteClient`] (which lives in
//! `fortimock-testing`, shared with the test harness and other projects' tests).

use std::path::PathBuf;

pub use fortimock_testing::client::{Connect, SUITE_FILE, SuiteClient};

/// Where the running suite is. The flags are global, so a command with subcommands (`messages show`) takes
/// them after its subcommand too.
#[derive(clap::Args, Debug, Clone)]
pub struct Target {
    /// The data dir of the running suite (for `suite.json` and the lab CA).
    #[arg(
        long,
        global = true,
        env = "FORTIMOCK_DATA_DIR",
        default_value = "./fortimock-data"
    )]
    pub data_dir: PathBuf,
    /// Base URL of the forticare service (default: from suite.json, else https://127.0.0.1:8440).
    #[arg(long, global = true, env = "FORTIMOCK_FORTICARE_URL")]
    pub forticare_url: Option<String>,
    /// Base URL of the ftm service (default: from suite.json, else https://127.0.0.1:8443).
    #[arg(long, global = true, env = "FORTIMOCK_FTM_URL")]
    pub ftm_url: Option<String>,
    /// Base URL of the push relay (default: from suite.json, else https://127.0.0.1:8444).
    #[arg(long, global = true, env = "FORTIMOCK_PUSH_URL")]
    pub push_url: Option<String>,
    /// Base URL of the virtual phone service (default: from suite.json, else https://127.0.0.1:8445).
    #[arg(long, global = true, env = "FORTIMOCK_PHONE_URL")]
    pub phone_url: Option<String>,
    /// Base URL of the virtual appliance service (default: from suite.json, else https://127.0.0.1:8446).
    #[arg(long, global = true, env = "FORTIMOCK_APPLIANCE_URL")]
    pub appliance_url: Option<String>,
    /// CA certificate to trust (default: the lab CA in the data dir).
    #[arg(long, global = true, env = "FORTIMOCK_CACERT")]
    pub cacert: Option<PathBuf>,
    /// Client certificate (PEM) to present, for a suite started with `--require-client-cert`.
    #[arg(
        long,
        global = true,
        env = "FORTIMOCK_CLIENT_CERT",
        requires = "client_key"
    )]
    pub client_cert: Option<PathBuf>,
    /// The key of `--client-cert` (PEM).
    #[arg(
        long,
        global = true,
        env = "FORTIMOCK_CLIENT_KEY",
        requires = "client_cert"
    )]
    pub client_key: Option<PathBuf>,
    /// Bearer token for the control plane and the simulators (default: the token `fortimock up` keeps in
    /// `<data-dir>/admin-token`, if there is one).
    #[arg(
        long,
        global = true,
        env = "FORTIMOCK_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
    /// Resolve the host names in the URLs through this DNS server (`IP` or `IP:PORT`, default port 53),
    /// such as the lab's responder, so `--ftm-url https://fortitokenmobile.fortinet.com` reaches the lab
    /// (default: the system's resolver configuration).
    #[arg(long, env = "FORTIMOCK_RESOLVER", value_parser = lab::options::parse_resolver)]
    pub resolver: Option<std::net::SocketAddr>,
}

impl Target {
    /// What the flags say about where the suite is.
    pub fn connect(&self) -> Connect {
        let urls = [
            (forticare::NAME, &self.forticare_url),
            (ftm::NAME, &self.ftm_url),
            (push::NAME, &self.push_url),
            (phone::NAME, &self.phone_url),
            (appliance::NAME, &self.appliance_url),
        ]
        .into_iter()
        .filter_map(|(name, url)| url.as_ref().map(|url| (name.to_owned(), url.clone())))
        .collect();
        Connect {
            data_dir: self.data_dir.clone(),
            urls,
            cacert: self.cacert.clone(),
            client_identity: self.client_cert.clone().zip(self.client_key.clone()),
            admin_token: self.admin_token.clone(),
            resolver: self.resolver,
        }
    }
}

impl From<&Target> for Connect {
    fn from(target: &Target) -> Connect {
        target.connect()
    }
}
