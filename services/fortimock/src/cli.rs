//! The command line: `fortimock up` and the subcommands that drive a running suite.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use lab::options::LabOptions;

use crate::client::Target;
use crate::suite::PortOptions;

/// fortimock emulates Fortinet's FortiToken Mobile cloud (FortiCare licensing, FTM provisioning,
/// the push relay) for appliance test suites, labs and support engineers.
#[derive(Parser, Debug)]
#[command(name = "fortimock", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run every service in one process and print where each listens.
    Up(UpArgs),
    /// Create and list licenses in a running suite.
    #[command(subcommand)]
    License(LicenseCommand),
    /// Show where the lab CA is, so appliances and curl can trust it.
    Certs(CertsArgs),
}

#[derive(clap::Args, Debug)]
pub struct UpArgs {
    #[command(flatten)]
    pub lab: LabOptions,
    #[command(flatten)]
    pub ports: PortOptions,
    /// Once every service is ready, write `{"forticare": "<base url>", ...}` to this file.
    #[arg(long, env = "FORTIMOCK_READY_FILE")]
    pub ready_file: Option<PathBuf>,
    /// Load licenses from this fixtures file instead of the built-in default lab.
    #[arg(long, env = "FORTIMOCK_FIXTURES", conflicts_with = "no_fixtures")]
    pub fixtures: Option<PathBuf>,
    /// Start with no licenses at all.
    #[arg(long)]
    pub no_fixtures: bool,
}

#[derive(Subcommand, Debug)]
pub enum LicenseCommand {
    /// Create a license and print its activation code.
    Create(LicenseCreateArgs),
    /// List every license with its code, seats and owner.
    List(LicenseListArgs),
    /// Show one license with its tokens.
    Show(LicenseShowArgs),
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
