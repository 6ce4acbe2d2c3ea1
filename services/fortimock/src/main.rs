//! The `fortimock` binary: parses the command line and hands it to the library; errors are printed as one
//! readable chain (`error: cannot reach …: connection refused`).

use std::process::ExitCode;
use std::time::Instant;

use fortimock::cli::Command;

/// What a shell expects of a program whose reader went away (`fortimock journal | head`): 128 + SIGPIPE.
const READER_GONE: i32 = 141;

#[tokio::main]
async fn main() -> ExitCode {
    let started = Instant::now();
    quiet_when_the_reader_goes_away();
    // Flags, then FORTIMOCK_* variables, then fortimock.toml, then the defaults.
    let cli = match fortimock::config::parse(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(error) => match error.downcast::<clap::Error>() {
            Ok(clap_error) => clap_error.exit(),
            Err(error) => {
                #[allow(clippy::print_stderr)]
                {
                    eprintln!("error: {error:#}");
                }
                return ExitCode::from(2);
            }
        },
    };
    let result = match cli.command {
        Command::Up(args) => {
            lab::telemetry::init_with(args.log_format);
            fortimock::up::run(args, started).await
        }
        Command::Health(args) => fortimock::health::run(args).await,
        Command::License(command) => fortimock::license::run(command).await,
        Command::Transfer(args) => fortimock::transfer::run(args).await,
        Command::Certs(args) => fortimock::certs::run(args),
        Command::Fgt(command) => fortimock::fgt::run(command).await,
        Command::Fac(command) => fortimock::fac::run(command).await,
        Command::Phone(command) => fortimock::phones::run(command).await,
        Command::Hardware(command) => fortimock::hardware::run(command).await,
        Command::Messages(args) => fortimock::messages::run(args).await,
        Command::Journal(args) => fortimock::journal::run(args).await,
        Command::Timeline(args) => fortimock::timeline::run(args).await,
        Command::Coverage(args) => fortimock::coverage::run(args).await,
        Command::State(command) => fortimock::state::run(command).await,
        Command::Reset(args) => fortimock::reset::run(args).await,
        Command::Scenario(command) => fortimock::scenarios::run(command).await,
        Command::Replay(args) => fortimock::replay::run(args).await,
        Command::Demo(args) => fortimock::demo::run(args).await,
        Command::Bench(args) => fortimock::bench::run(args).await,
        Command::Dns(args) => fortimock::dns::run(args).await,
        Command::BenchReference(args) => fortimock::bench::reference::run(args).await,
        Command::Config(args) => fortimock::config::show(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {error:#}");
            }
            ExitCode::FAILURE
        }
    }
}

/// `println!` panics when stdout is a pipe nobody reads any more; a command-line tool should stop quietly,
/// as it would on SIGPIPE (which Rust programs ignore), instead of printing a panic.
fn quiet_when_the_reader_goes_away() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout")
            && message.to_ascii_lowercase().contains("broken pipe")
        {
            std::process::exit(READER_GONE);
        }
        default(info);
    }));
}
