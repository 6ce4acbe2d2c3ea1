//! Configuration by file: `fortimock.toml` (in the working directory, or `--config FILE`), with one
//! precedence rule for every setting: flag > `FORTIMOCK_*` variable > file > built-in default.
//!
//! There is one source of truth, the clap definitions of `fortimock up`: every argument of `up` with a long
//! name is a file key of that name (`--data-dir` is `data-dir = "…"`) and has a `FORTIMOCK_*` variable
//! (a test checks both), so a flag added to `LabOptions`, `PortOptions` or `UpArgs` gets its key and its
//! line in README's table with nothing else to do. The file's values become the arguments' defaults before
//! clap parses, which puts them under flags and variables and above the built-in defaults; a key applies
//! to every subcommand with that flag (`data-dir` also tells `fortimock license list` where the suite is).
//!
//! An unknown key, or an unknown `FORTIMOCK_*` variable, is an error naming the closest valid one; a value
//! the setting does not take (`forticare-port = "abc"`) is an error naming the file and the key.
//!
//! A boolean setting given as a flag takes an explicit value (`--plain-http=false`, also `no`, `0`, `off`),
//! so a flag can turn off what the file turned on; `--plain-http` alone still means true.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Arg, ArgAction, Command, CommandFactory, FromArgMatches};

use crate::cli::{Cli, UpCli};

/// The file `fortimock` reads from the working directory when no `--config` is given.
pub const CONFIG_FILE: &str = "fortimock.toml";

/// The variable naming the config file (as `--config` does).
pub const CONFIG_VARIABLE: &str = "FORTIMOCK_CONFIG";

/// `FORTIMOCK_*` variables that are not flags, and who reads them.
pub const OTHER_VARIABLES: &[(&str, &str)] = &[
    (
        "FORTIMOCK_REQUIRE_PYTHON",
        "the e2e tests: fail instead of skipping when Python or requests is missing",
    ),
    (
        "FORTIMOCK_REQUIRE_BROWSER",
        "the e2e tests: fail instead of skipping when chromedriver is missing",
    ),
    (
        "FORTIMOCK_SKIP_COMPOSE_SMOKE",
        "`.ci/run`: skip the compose lab smoke test",
    ),
    // The separate binaries' own settings: a compose lab or a shell may set them for every container.
    (
        "FORTIMOCK_DEFAULT_LAB",
        "forticare-mock: start with the default lab",
    ),
    (
        "FORTIMOCK_FORTIGUARD_URL",
        "appliance-mock: FortiGuard's token service",
    ),
    (
        "FORTIMOCK_FTM_PUSH_SERVER",
        "appliance-mock: the address pushes tell phones to answer at",
    ),
    (
        "FORTIMOCK_PHONE_PUBLIC_URL",
        "phone-mock: the URL the relay's webhooks reach the phones at",
    ),
    (
        "FORTIMOCK_PUSH_JOURNAL_CAP",
        "push-mock: how many relayed pushes its journal keeps",
    ),
    // docker-compose.yml's own settings: compose reads them from the shell that also runs fortimock.
    (
        "FORTIMOCK_LAB_NET",
        "docker-compose.yml: the lab network's /24 (default 172.30.14)",
    ),
    (
        "FORTIMOCK_LAB_BRIDGE",
        "docker-compose.yml: the lab network's bridge (default fortimock0)",
    ),
    (
        "FORTIMOCK_HOST_ADDRESS",
        "docker-compose.yml: the host address the ports are published on (default 127.0.0.1)",
    ),
    (
        "FORTIMOCK_HOST_PORT_FORTICARE",
        "docker-compose.yml: forticare's published port (default 8440)",
    ),
    (
        "FORTIMOCK_HOST_PORT_FTM",
        "docker-compose.yml: ftm's published port (default 8443)",
    ),
    (
        "FORTIMOCK_HOST_PORT_PUSH",
        "docker-compose.yml: the push relay's published port (default 8444)",
    ),
    (
        "FORTIMOCK_HOST_PORT_PHONE",
        "docker-compose.yml: the phones' published port (default 8445)",
    ),
    (
        "FORTIMOCK_HOST_PORT_APPLIANCE",
        "docker-compose.yml: the appliances' published port (default 8446)",
    ),
    (
        "FORTIMOCK_HOST_PORT_FTM_PUSH",
        "docker-compose.yml: the appliances' ftm-push published port (default 4433)",
    ),
    (
        "FORTIMOCK_HOST_PORT_DNS",
        "docker-compose.yml: the DNS responder's published port (default 8053)",
    ),
];

/// A value from the file, as clap takes defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FileValue {
    One(String),
    Many(Vec<String>),
}

/// What was read from a config file.
#[derive(Debug, Default)]
pub struct ConfigFile {
    /// Where it was, if one was read.
    pub path: Option<PathBuf>,
    values: BTreeMap<String, FileValue>,
}

impl ConfigFile {
    /// The keys the file set.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

/// Parses the command line with `fortimock.toml` and the `FORTIMOCK_*` variables applied. Errors from
/// clap itself (help, a bad flag) are returned as `clap::Error`, for `main` to print and exit with.
/// The command tree is built once (building it is most of what `fortimock --version` costs), and for
/// `fortimock up` it is `up`'s alone ([`UpCli`]).
pub fn parse(args: Vec<OsString>) -> anyhow::Result<Cli> {
    let command = tree_for(&args);
    check_variables_of(&command, std::env::vars_os())?;
    let keys = keys_of(&command);
    let file = load_with(&args, &keys)?;
    let command = command_with(command, &keys, &file)?;
    let matches = command.try_get_matches_from(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    Ok(cli)
}

/// The command tree `args` are parsed with: [`UpCli`]'s when they run `fortimock up`, [`Cli`]'s otherwise.
fn tree_for(args: &[OsString]) -> Command {
    if runs_up(args) {
        UpCli::command()
    } else {
        Cli::command()
    }
}

/// Whether `args` run `fortimock up`: the first word that is neither an option nor `--config`'s value is
/// `up`. Any other option before it (`--help`, a misspelling) takes the whole tree, so clap answers it as
/// it always did.
fn runs_up(args: &[OsString]) -> bool {
    words(args)
        .find_map(|word| match word {
            Word::Config(_) => None,
            Word::Other(word) => Some(word == "up"),
        })
        .unwrap_or(false)
}

/// One word of a command line, `--config` with its value as one.
enum Word<'a> {
    /// `--config FILE` or `--config=FILE` (`None` when `--config` ends the line).
    Config(Option<PathBuf>),
    Other(&'a std::ffi::OsStr),
}

/// The words of `args` after the program's name, where `--config` and its value are one [`Word`].
fn words(args: &[OsString]) -> impl Iterator<Item = Word<'_>> {
    let mut args = args.iter().skip(1);
    std::iter::from_fn(move || {
        let arg = args.next()?;
        let text = arg.to_string_lossy();
        Some(if text == "--config" {
            Word::Config(args.next().map(PathBuf::from))
        } else if let Some(path) = text.strip_prefix("--config=") {
            Word::Config(Some(PathBuf::from(path)))
        } else {
            Word::Other(arg)
        })
    })
}

/// The config file `args` or the environment name, or `./fortimock.toml` if there is one.
fn config_path(args: &[OsString]) -> Option<(PathBuf, bool)> {
    let mut given = None;
    for word in words(args) {
        match word {
            Word::Other(word) if word == "--" => break,
            Word::Other(_) => {}
            Word::Config(path) => given = path,
        }
    }
    if let Some(path) = given {
        return Some((path, true));
    }
    if let Some(path) = std::env::var_os(CONFIG_VARIABLE).filter(|p| !p.is_empty()) {
        return Some((PathBuf::from(path), true));
    }
    let default = PathBuf::from(CONFIG_FILE);
    default.is_file().then_some((default, false))
}

/// Reads and checks the config file, if there is one.
pub fn load(args: &[OsString]) -> anyhow::Result<ConfigFile> {
    load_with(args, &file_keys())
}

/// [`load`], the file's keys checked against `keys`.
fn load_with(args: &[OsString], keys: &[String]) -> anyhow::Result<ConfigFile> {
    let Some((path, _)) = config_path(args) else {
        return Ok(ConfigFile::default());
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the config file {}", path.display()))?;
    let values = read_with(&text, &path, keys)?;
    Ok(ConfigFile {
        path: Some(path),
        values,
    })
}

/// The keys of `text` as clap defaults, each checked against the keys `fortimock up` has.
#[cfg(test)]
fn read(text: &str, path: &Path) -> anyhow::Result<BTreeMap<String, FileValue>> {
    read_with(text, path, &file_keys())
}

/// The keys of `text` as clap defaults, each checked against `keys` (the keys `fortimock up` has).
fn read_with(
    text: &str,
    path: &Path,
    keys: &[String],
) -> anyhow::Result<BTreeMap<String, FileValue>> {
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))?;
    let mut values = BTreeMap::new();
    for (key, value) in table {
        if key == "config" {
            bail!(
                "`config` in {}: a config file cannot name another one; give the file with --config or {CONFIG_VARIABLE}",
                path.display()
            );
        }
        if !keys.contains(&key) {
            bail!(
                "unknown key `{key}` in {}: did you mean `{}`? (`fortimock config --table` lists every key)",
                path.display(),
                closest(&key, keys.iter().map(String::as_str))
            );
        }
        let value = match value {
            toml::Value::String(text) => FileValue::One(text),
            toml::Value::Integer(n) => FileValue::One(n.to_string()),
            toml::Value::Float(n) => FileValue::One(n.to_string()),
            toml::Value::Boolean(b) => FileValue::One(b.to_string()),
            toml::Value::Array(items) => FileValue::Many(
                items
                    .into_iter()
                    .map(|item| match item {
                        toml::Value::String(text) => Ok(text),
                        toml::Value::Integer(n) => Ok(n.to_string()),
                        other => Err(anyhow::anyhow!(
                            "`{key}` in {}: a list of strings or numbers, not {}",
                            path.display(),
                            other.type_str()
                        )),
                    })
                    .collect::<anyhow::Result<_>>()?,
            ),
            other => bail!(
                "`{key}` in {}: a string, number, boolean or list, not {}",
                path.display(),
                other.type_str()
            ),
        };
        values.insert(key, value);
    }
    Ok(values)
}

/// The command line `fortimock` parses: boolean settings that take an explicit value, the file's values as
/// defaults, each checked first, so a bad one is reported as the file's.
fn command(file: &ConfigFile) -> anyhow::Result<Command> {
    let command = Cli::command();
    let keys = keys_of(&command);
    command_with(command, &keys, file)
}

/// [`command`] from `command` (`Cli`'s tree, not built) and its file `keys`.
fn command_with(command: Command, keys: &[String], file: &ConfigFile) -> anyhow::Result<Command> {
    let command = explicit_booleans(command, keys);
    check_file_values(&command, file)?;
    Ok(with_file_defaults(command, file))
}

/// `command` and its subcommands, each on/off setting (a `fortimock.toml` key) taking an optional value:
/// `--plain-http` is true, `--plain-http=false` (or `no`, `0`, `off`) is false, which is how a flag undoes
/// what the file set. Variables keep reading `1`/`true` and `0`/`false`.
fn explicit_booleans(command: Command, keys: &[String]) -> Command {
    let command = command.mut_args(|arg| {
        let is_setting = arg
            .get_long()
            .is_some_and(|long| keys.iter().any(|k| k == long));
        if !is_setting || !matches!(arg.get_action(), ArgAction::SetTrue) {
            return arg;
        }
        arg.action(ArgAction::Set)
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true")
            .default_value("false")
            .value_name("true|false")
            .value_parser(clap::builder::BoolishValueParser::new())
    });
    command.mut_subcommands(|sub| explicit_booleans(sub, keys))
}

/// Each of the file's values parsed as its setting of `fortimock up` parses it: a bad one is an error
/// naming the file and the key, not a flag the user never typed.
fn check_file_values(command: &Command, file: &ConfigFile) -> anyhow::Result<()> {
    let Some(path) = &file.path else {
        return Ok(());
    };
    let mut command = command.clone();
    command.build();
    let Some(up) = command.find_subcommand("up") else {
        return Ok(());
    };
    for arg in up.get_arguments() {
        let Some(key) = arg.get_long() else { continue };
        let Some(value) = file.values.get(key) else {
            continue;
        };
        let items: Vec<&str> = match value {
            FileValue::One(text) => match arg.get_value_delimiter() {
                Some(delimiter) => text.split(delimiter).collect(),
                None => vec![text.as_str()],
            },
            FileValue::Many(items) => items.iter().map(String::as_str).collect(),
        };
        // The setting alone, as a flag with a value: its own value parser decides.
        let mut alone = Arg::new(arg.get_id().clone())
            .long(key.to_owned())
            .action(ArgAction::Set)
            .value_parser(arg.get_value_parser().clone());
        if let Some(names) = arg.get_value_names() {
            alone = alone.value_names(names.to_vec());
        }
        let alone = Command::new(up.get_name().to_owned())
            .no_binary_name(true)
            .arg(alone);
        for item in items {
            if let Err(error) = alone
                .clone()
                .try_get_matches_from([format!("--{key}={item}")])
            {
                let rendered = error.to_string();
                let reason = rendered
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches("error: ")
                    .to_owned();
                bail!("`{key} = {item:?}` in {}: {reason}", path.display());
            }
        }
    }
    Ok(())
}

/// `command` and its subcommands, each argument whose long name the file sets defaulting to the file's
/// value.
fn with_file_defaults(command: Command, file: &ConfigFile) -> Command {
    if file.values.is_empty() {
        return command;
    }
    let command = command.mut_args(|arg| {
        let Some(value) = arg.get_long().and_then(|long| file.values.get(long)) else {
            return arg;
        };
        match value {
            FileValue::One(text) => arg.default_value(text.clone()),
            FileValue::Many(items) => arg.default_values(items.clone()),
        }
    });
    command.mut_subcommands(|sub| with_file_defaults(sub, file))
}

/// The arguments of `fortimock up` that are settings (not `--help`, `--version` or `--config`).
pub fn settings() -> Vec<Arg> {
    let mut command = Cli::command();
    command.build();
    let up = command
        .find_subcommand("up")
        .cloned()
        .unwrap_or_else(|| Command::new("up"));
    up.get_arguments()
        .filter(|arg| is_setting(arg))
        .cloned()
        .collect()
}

/// Whether an argument of `fortimock up` is a setting: it has a long name, and is not `--help`, `--version`
/// or the global `--config`.
fn is_setting(arg: &Arg) -> bool {
    !matches!(arg.get_action(), ArgAction::Help | ArgAction::Version)
        && arg.get_long().is_some_and(|long| long != "config")
}

/// Every key a config file may set: the long names of `fortimock up`'s settings.
pub fn file_keys() -> Vec<String> {
    keys_of(&Cli::command())
}

/// The file keys of `command` (`Cli`'s tree, built or not): what [`settings`] names, read without building
/// the tree (`--help`, `--version` and the global `--config` are added by a build; they are not keys).
fn keys_of(command: &Command) -> Vec<String> {
    command
        .find_subcommand("up")
        .into_iter()
        .flat_map(Command::get_arguments)
        .filter(|arg| is_setting(arg))
        .filter_map(Arg::get_long)
        .map(str::to_owned)
        .collect()
}

/// Every `FORTIMOCK_*` variable fortimock reads: each flag's (of every subcommand), the config file's, and
/// [`OTHER_VARIABLES`].
pub fn known_variables() -> Vec<String> {
    known_variables_of(&Cli::command())
}

/// [`known_variables`] of `command`.
fn known_variables_of(command: &Command) -> Vec<String> {
    fn walk(command: &Command, found: &mut Vec<String>) {
        for arg in command.get_arguments() {
            if let Some(env) = arg.get_env() {
                found.push(env.to_string_lossy().into_owned());
            }
        }
        for sub in command.get_subcommands() {
            walk(sub, found);
        }
    }
    let mut found = vec![CONFIG_VARIABLE.to_owned()];
    walk(command, &mut found);
    found.extend(OTHER_VARIABLES.iter().map(|(name, _)| (*name).to_owned()));
    found.sort();
    found.dedup();
    found
}

/// Refuses a `FORTIMOCK_*` variable fortimock does not read (a typo would otherwise be ignored silently).
#[cfg(test)]
fn check_variables(
    variables: impl IntoIterator<Item = (OsString, OsString)>,
) -> anyhow::Result<()> {
    check_variables_of(&Cli::command(), variables)
}

/// Refuses a `FORTIMOCK_*` variable fortimock does not read: none of `command`'s, nor [`OTHER_VARIABLES`],
/// nor, when `command` is [`UpCli`]'s, another subcommand's (a shell may set `FORTIMOCK_FTM_URL` for the
/// client commands). The variables are listed only when one is set, and the whole tree's only when `command`'s
/// do not name it.
fn check_variables_of(
    command: &Command,
    variables: impl IntoIterator<Item = (OsString, OsString)>,
) -> anyhow::Result<()> {
    let mut known: Option<Vec<String>> = None;
    let mut every: Option<Vec<String>> = None;
    for (name, _) in variables {
        let name = name.to_string_lossy();
        if !name.starts_with("FORTIMOCK_") {
            continue;
        }
        let known = known.get_or_insert_with(|| known_variables_of(command));
        if known.iter().any(|k| *k == name) {
            continue;
        }
        let every = every.get_or_insert_with(known_variables);
        if every.iter().any(|k| *k == name) {
            continue;
        }
        bail!(
            "unknown variable {name}: did you mean {}? (`fortimock config --table` lists every variable)",
            closest(&name, every.iter().map(String::as_str))
        );
    }
    Ok(())
}

/// The candidate most like `name`.
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> &'a str {
    let name = name.to_ascii_lowercase().replace('_', "-");
    candidates
        .map(|candidate| {
            let plain = candidate.to_ascii_lowercase().replace('_', "-");
            (strsim::jaro_winkler(&name, &plain), candidate)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map_or("", |(_, candidate)| candidate)
}

/// README's settings table: one row per setting of `fortimock up`, from its clap definition.
pub fn readme_table() -> String {
    use std::fmt::Write;
    let mut out = String::from(
        "| flag | variable | `fortimock.toml` key | default | meaning |\n|---|---|---|---|---|\n",
    );
    for arg in settings() {
        let long = arg.get_long().unwrap_or_default();
        let takes_value = !matches!(
            arg.get_action(),
            ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count
        ) && arg.get_num_args().is_none_or(|n| n.max_values() > 0);
        let flag = match arg.get_value_names().and_then(|names| names.first()) {
            Some(name) if takes_value => format!("`--{long} {name}`"),
            // On/off settings take an optional value (see `explicit_booleans`).
            _ if matches!(arg.get_action(), ArgAction::SetTrue) => {
                format!("`--{long}[=true\\|false]`")
            }
            _ => format!("`--{long}`"),
        };
        let variable = arg
            .get_env()
            .map(|env| format!("`{}`", env.to_string_lossy()))
            .unwrap_or_default();
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        let default = match defaults.as_slice() {
            [] => "none".to_owned(),
            [one] if one == "false" => "off".to_owned(),
            values => format!("`{}`", values.join(",")),
        };
        let choices: Vec<String> = arg
            .get_possible_values()
            .iter()
            .map(|v| v.get_name().to_owned())
            .collect();
        let example = match (defaults.first(), takes_value) {
            (_, false) => "true".to_owned(),
            _ if arg.get_value_delimiter().is_some() => "[\"…\"]".to_owned(),
            (Some(value), true) if value.parse::<f64>().is_ok() => value.clone(),
            _ if !choices.is_empty() => format!("\"{}\"", choices.join("\" or \"")),
            _ => "\"…\"".to_owned(),
        };
        let key = format!("`{long} = {example}`");
        let help = arg
            .get_help()
            .map(|h| h.to_string().replace('\n', " ").replace('|', "\\|"))
            .unwrap_or_default();
        let _ = writeln!(out, "| {flag} | {variable} | {key} | {default} | {help} |");
    }
    out
}

/// `fortimock config`: the settings `fortimock up` would run with here, and where each comes from; or,
/// with `--table`, README's table.
pub fn show(args: &crate::cli::ConfigArgs) -> anyhow::Result<()> {
    if args.table {
        return write_stdout(&readme_table());
    }
    let argv: Vec<OsString> = std::env::args_os().collect();
    let file = load(&argv)?;
    let command = command(&file)?;
    let mut up_argv = vec![OsString::from("fortimock"), OsString::from("up")];
    if let Some(path) = &file.path {
        up_argv.push("--config".into());
        up_argv.push(path.into());
    }
    let matches = command.try_get_matches_from(up_argv)?;
    let Some(up) = matches.subcommand_matches("up") else {
        bail!("`fortimock up` has no settings");
    };
    use std::fmt::Write;
    let mut out = String::new();
    match &file.path {
        Some(path) => writeln!(out, "config file {}", path.display())?,
        None => writeln!(
            out,
            "config file none ({CONFIG_FILE} is not in this directory)"
        )?,
    }
    for arg in settings() {
        let id = arg.get_id().as_str();
        let long = arg.get_long().unwrap_or(id);
        let source = match up.value_source(id) {
            Some(clap::parser::ValueSource::EnvVariable) => "variable",
            Some(clap::parser::ValueSource::CommandLine) => "flag",
            Some(clap::parser::ValueSource::DefaultValue) if file.values.contains_key(long) => {
                "file"
            }
            Some(clap::parser::ValueSource::DefaultValue) => "default",
            _ => "unset",
        };
        let value: Vec<String> = up
            .get_raw(id)
            .into_iter()
            .flatten()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        let value = if long == "admin-token" && !value.is_empty() {
            "<set>".to_owned()
        } else {
            value.join(",")
        };
        writeln!(out, "{long:<26} {value:<24} ({source})")?;
    }
    write_stdout(&out)
}

/// Writes `text` to stdout; a reader that stopped reading (`fortimock config | head -3`) is not an error.
fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> ConfigFile {
        ConfigFile {
            path: Some(PathBuf::from("fortimock.toml")),
            values: read(text, Path::new("fortimock.toml")).unwrap(),
        }
    }

    /// `fortimock up` parsed with `file` applied and `env` as the variables clap sees.
    fn up_with(file: &ConfigFile, args: &[&str]) -> crate::cli::UpArgs {
        try_up_with(file, args).unwrap()
    }

    /// `fortimock up` parsed as [`parse`] parses it, with `file` applied; the error as `main` prints it.
    fn try_up_with(file: &ConfigFile, args: &[&str]) -> Result<crate::cli::UpArgs, String> {
        let command = command(file).map_err(|e| e.to_string())?;
        let mut argv = vec!["fortimock", "up"];
        argv.extend_from_slice(args);
        let matches = command
            .try_get_matches_from(argv)
            .map_err(|e| e.to_string())?;
        match Cli::from_arg_matches(&matches)
            .map_err(|e| e.to_string())?
            .command
        {
            crate::cli::Command::Up(up) => Ok(up),
            _ => unreachable!(),
        }
    }

    #[test]
    fn every_setting_of_up_has_a_file_key_and_a_variable() {
        let settings = settings();
        assert!(settings.len() > 20, "{}", settings.len());
        for arg in settings {
            let long = arg.get_long().unwrap();
            let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
            assert!(
                env.as_deref().is_some_and(|e| e.starts_with("FORTIMOCK_")),
                "--{long} has no FORTIMOCK_* variable"
            );
        }
    }

    #[test]
    fn the_file_sits_under_flags_and_variables_and_over_defaults() {
        let config = file("forticare-port = 9440\nftm-port = 9443\njournal-size = 7\n");
        // Default < file.
        let up = up_with(&config, &[]);
        assert_eq!(up.ports.forticare_port, 9440);
        assert_eq!(up.lab.journal_size, 7);
        assert_eq!(up.ports.push_port, push::DEFAULT_PORT);
        // File < flag.
        let up = up_with(&config, &["--forticare-port", "1234"]);
        assert_eq!(up.ports.forticare_port, 1234);
        assert_eq!(up.ports.ftm_port, 9443);
    }

    /// File < variable: clap reads the variable before the default the file set. Run in a child process
    /// (the variable is set for it alone), so no other test sees it.
    #[test]
    fn a_variable_beats_the_file() {
        if std::env::var_os("FORTIMOCK_TEST_CHILD").is_none() {
            let status = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "config::tests::a_variable_beats_the_file",
                    "--exact",
                    "--nocapture",
                ])
                .env("FORTIMOCK_TEST_CHILD", "1")
                .env("FORTIMOCK_FTM_PORT", "7443")
                .env("FORTIMOCK_NO_UI", "1")
                .status()
                .unwrap();
            assert!(status.success());
            return;
        }
        let config = file("ftm-port = 9443\nno-ui = false\n");
        let up = up_with(&config, &[]);
        assert_eq!(up.ports.ftm_port, 7443);
        // A boolean's variable still reads `1` (as before booleans took a value on the command line).
        assert!(up.no_ui);
        assert!(!up_with(&config, &["--no-ui=false"]).no_ui);
        assert_eq!(up_with(&config, &["--ftm-port", "1"]).ports.ftm_port, 1);
    }

    /// A flag turns off a boolean the file turned on; the bare flag still turns it on; anything but a
    /// boolean is refused.
    #[test]
    fn a_flag_overrides_a_boolean_the_file_set() {
        let config =
            file("plain-http = true\nephemeral = true\nno-fixtures = true\nno-ui = true\n");
        let up = up_with(
            &config,
            &["--plain-http=false", "--no-fixtures=no", "--no-ui=0"],
        );
        assert!(!up.lab.plain_http && !up.no_fixtures && !up.no_ui);
        assert!(up.lab.ephemeral, "untouched: the file's value");
        let up = up_with(
            &ConfigFile::default(),
            &["--plain-http", "--ephemeral=true"],
        );
        assert!(up.lab.plain_http && up.lab.ephemeral);
        let up = up_with(&ConfigFile::default(), &[]);
        assert!(!up.lab.plain_http && !up.lab.ephemeral && !up.no_fixtures);
        let error = try_up_with(&config, &["--plain-http=maybe"]).unwrap_err();
        assert!(error.contains("invalid value 'maybe'"), "{error}");
        // `--plain-http false` is not a value for the flag: `false` is left over as an unexpected argument.
        assert!(try_up_with(&config, &["--plain-http", "false"]).is_err());
    }

    /// A value the setting does not take is reported as the file's, with the key as written there.
    #[test]
    fn a_bad_value_in_the_file_names_the_file_and_the_key() {
        let error = try_up_with(&file("forticare-port = \"abc\"\n"), &[]).unwrap_err();
        assert!(
            error.starts_with("`forticare-port = \"abc\"` in fortimock.toml: invalid value 'abc'"),
            "{error}"
        );
        let error = try_up_with(&file("log-format = \"xml\"\n"), &[]).unwrap_err();
        assert!(
            error.starts_with("`log-format = \"xml\"` in fortimock.toml: invalid value 'xml'"),
            "{error}"
        );
        let error = try_up_with(&file("plain-http = \"perhaps\"\n"), &[]).unwrap_err();
        assert!(error.contains("in fortimock.toml"), "{error}");
        // Good values of every kind pass the same check.
        try_up_with(
            &file("forticare-port = 0\nlog-format = \"json\"\ntls-name = [\"a.example\"]\nplain-http = true\n"),
            &[],
        )
        .unwrap();
    }

    #[test]
    fn booleans_lists_and_paths_come_from_the_file() {
        let config = file(
            "ephemeral = true\nplain-http = true\nno-fixtures = true\ntls-name = [\"lab.example\", \"10.0.0.9\"]\n\
             data-dir = \"/srv/fortimock\"\nforticare-rate-limits = true\nlog-format = \"json\"\n",
        );
        let up = up_with(&config, &[]);
        assert!(up.lab.ephemeral && up.lab.plain_http && up.no_fixtures);
        assert!(up.forticare.rate_limits);
        assert_eq!(up.lab.tls_names, ["lab.example", "10.0.0.9"]);
        assert_eq!(up.lab.data_dir, PathBuf::from("/srv/fortimock"));
        assert_eq!(up.log_format, lab::telemetry::LogFormat::Json);
        // A key applies to every subcommand with that flag.
        let command = command(&config).unwrap();
        let matches = command
            .try_get_matches_from(["fortimock", "license", "list"])
            .unwrap();
        match Cli::from_arg_matches(&matches).unwrap().command {
            crate::cli::Command::License(crate::cli::LicenseCommand::List(args)) => {
                assert_eq!(args.target.data_dir, PathBuf::from("/srv/fortimock"));
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_the_closest_one() {
        let error = read("dta-dir = \"x\"\n", Path::new("fortimock.toml")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown key `dta-dir` in fortimock.toml: did you mean `data-dir`? (`fortimock config --table` lists every key)"
        );
        let error = read("forticare_port = 1\n", Path::new("f.toml")).unwrap_err();
        assert!(
            error.to_string().contains("did you mean `forticare-port`"),
            "{error}"
        );
        let error = read("[ports]\nftm = 1\n", Path::new("f.toml")).unwrap_err();
        assert!(error.to_string().contains("unknown key `ports`"), "{error}");
        let error = read("data-dir = \"x\"\ndata-dir = \"y\"\n", Path::new("f.toml")).unwrap_err();
        assert!(error.to_string().contains("not valid TOML"), "{error}");
        let error = read("bind = {a = 1}\n", Path::new("f.toml")).unwrap_err();
        assert!(error.to_string().contains("not table"), "{error}");
        // `config` is a flag, not a key: the file cannot name another file.
        let error = read("config = \"other.toml\"\n", Path::new("f.toml")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`config` in f.toml: a config file cannot name another one; give the file with --config or FORTIMOCK_CONFIG"
        );
    }

    /// `parse` reads the keys from the tree it has not built yet; they are the settings a build shows.
    #[test]
    fn the_keys_read_without_a_build_are_the_built_settings() {
        let built: Vec<String> = settings()
            .iter()
            .filter_map(|arg| arg.get_long().map(str::to_owned))
            .collect();
        assert!(built.len() > 20, "{built:?}");
        assert!(built.iter().any(|k| k == "data-dir"), "{built:?}");
        assert_eq!(keys_of(&Cli::command()), built);
    }

    fn words(argv: &[&str]) -> Vec<OsString> {
        argv.iter().map(OsString::from).collect()
    }

    #[test]
    fn up_is_told_by_its_first_word() {
        for argv in [
            &["fortimock", "up"][..],
            &["fortimock", "up", "--help"],
            &["fortimock", "--config", "lab.toml", "up", "--plain-http"],
            &["fortimock", "--config=lab.toml", "up"],
        ] {
            assert!(runs_up(&words(argv)), "{argv:?}");
        }
        for argv in [
            &["fortimock"][..],
            &["fortimock", "--version"],
            &["fortimock", "-h", "up"],
            &["fortimock", "--config", "up"],
            &["fortimock", "license", "up"],
            &["fortimock", "upp"],
            &["fortimock", "--bogus", "up"],
        ] {
            assert!(!runs_up(&words(argv)), "{argv:?}");
        }
    }

    /// `argv` parsed with `tree` as [`parse`] parses it, `file` applied: the settings, or the error (help
    /// and version included) as `main` prints it.
    fn parsed_with(tree: Command, file: &ConfigFile, argv: &[&str]) -> String {
        let keys = keys_of(&tree);
        let parsed = command_with(tree, &keys, file).and_then(|command| {
            let matches = command.try_get_matches_from(argv)?;
            Ok(Cli::from_arg_matches(&matches)?)
        });
        match parsed {
            Ok(cli) => format!("{cli:?}"),
            Err(error) => format!("error: {error}"),
        }
    }

    /// `fortimock up` is parsed with `up`'s tree alone ([`UpCli`]); it comes out as the whole tree parses
    /// it, settings, help, version and errors alike, with or without a config file.
    #[test]
    fn up_parses_with_its_own_tree_as_with_the_whole_one() {
        assert_eq!(keys_of(&UpCli::command()), keys_of(&Cli::command()));
        let files = [
            ConfigFile::default(),
            file("plain-http = true\ndata-dir = \"/srv/lab\"\ntls-name = [\"lab.example\"]\n"),
            file("forticare-port = \"abc\"\n"),
        ];
        let lines: &[&[&str]] = &[
            &["fortimock", "up"],
            &[
                "fortimock",
                "up",
                "--plain-http",
                "--ui-port",
                "0",
                "--data-dir",
                "/srv/x",
            ],
            &["fortimock", "up", "--plain-http=false", "--ephemeral"],
            &["fortimock", "--config", "lab.toml", "up", "--no-ui"],
            &["fortimock", "up", "--help"],
            &["fortimock", "up", "-h"],
            &["fortimock", "up", "--version"],
            &["fortimock", "up", "--bogus"],
            &["fortimock", "up", "--data-dri", "x"],
            &["fortimock", "up", "--forticare-port", "abc"],
            &["fortimock", "up", "--fixtures", "lab.yaml", "--no-fixtures"],
            &["fortimock", "up", "extra"],
        ];
        let mut errors = 0;
        for file in &files {
            for &argv in lines {
                assert!(runs_up(&words(argv)), "{argv:?}");
                let whole = parsed_with(Cli::command(), file, argv);
                let alone = parsed_with(UpCli::command(), file, argv);
                assert_eq!(alone, whole, "{argv:?} with {:?}", file.values);
                errors += usize::from(whole.starts_with("error: "));
            }
        }
        // Help, version and the bad lines are errors; the good ones parse (unless the file is bad).
        assert!(errors > lines.len(), "{errors}");
        assert!(
            parsed_with(UpCli::command(), &files[0], &["fortimock", "up", "--help"])
                .contains("Run every service in one process")
        );
    }

    #[test]
    fn an_unknown_variable_is_an_error_naming_the_closest_one() {
        let vars = |name: &str| vec![(OsString::from(name), OsString::from("1"))];
        let error = check_variables(vars("FORTIMOCK_FTM_PROT")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown variable FORTIMOCK_FTM_PROT: did you mean FORTIMOCK_FTM_PORT? (`fortimock config --table` lists every variable)"
        );
        let error = check_variables(vars("FORTIMOCK_DATADIR")).unwrap_err();
        assert!(error.to_string().contains("FORTIMOCK_DATA_DIR"), "{error}");
        check_variables(vars("FORTIMOCK_FORTICARE_URL")).unwrap();
        check_variables(vars("FORTIMOCK_REQUIRE_PYTHON")).unwrap();
        check_variables(vars("RUST_LOG")).unwrap();
        // `up`'s tree knows the other subcommands' variables too, and names the same closest one.
        let up = UpCli::command();
        check_variables_of(&up, vars("FORTIMOCK_FORTICARE_URL")).unwrap();
        check_variables_of(&up, vars("FORTIMOCK_DATA_DIR")).unwrap();
        let error = check_variables_of(&up, vars("FORTIMOCK_FTM_PROT")).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("did you mean FORTIMOCK_FTM_PORT?"),
            "{error}"
        );
    }

    /// Every `FORTIMOCK_*` variable the compose file, the smoke test, CI and the Python package set is one
    /// fortimock knows, so a shell that sets them for compose can still run `fortimock`.
    #[test]
    fn every_variable_the_repository_sets_is_known() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let known = known_variables();
        let files = [
            "docker-compose.yml",
            "tests/docker/smoke.sh",
            ".ci/run",
            "python/src/fortimock/plugin.py",
            "python/src/fortimock/client.py",
        ];
        let mut checked = 0;
        for file in files {
            let text =
                std::fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            for word in
                text.split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            {
                // `FORTIMOCK_HOST_PORT_<SERVICE>` in prose names a family, not a variable.
                if word.starts_with("FORTIMOCK_") && !word.ends_with('_') {
                    checked += 1;
                    assert!(
                        known.iter().any(|k| k == word),
                        "{file} sets {word}, which fortimock refuses as unknown"
                    );
                }
            }
        }
        assert!(
            checked > 20,
            "only {checked} variables found: did the files move?"
        );
    }

    /// README's table is this module's output, between its markers.
    #[test]
    fn readme_table_matches_the_flags() {
        let readme =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
                .unwrap();
        let start =
            "<!-- settings-table: generated by `fortimock config --table`; a test checks it -->\n";
        let end = "<!-- end of settings-table -->";
        let table = readme
            .split_once(start)
            .and_then(|(_, rest)| rest.split_once(end))
            .map(|(table, _)| table)
            .expect("README.md has the settings table between its markers");
        assert_eq!(
            table,
            readme_table(),
            "README's settings table is stale: replace it with `cargo run -p fortimock -- config --table`"
        );
    }
}
