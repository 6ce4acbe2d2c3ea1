//! `fortimock scenario arm|list|clear|errors`: the scenarios of a running suite, for people.

use anyhow::{Context, bail};
use protocol::catalogue::{CATALOGUE, CatalogueEntry, Provenance};
use protocol::scenario::{ARMABLE, ScenarioMatch, ScenarioSpec, ScenarioView, armable};

use crate::cli::{SCENARIO_SERVICES, ScenarioArmArgs, ScenarioCommand};
use crate::client::SuiteClient;

pub async fn run(command: ScenarioCommand) -> anyhow::Result<()> {
    match command {
        ScenarioCommand::Arm(args) => arm(*args).await,
        ScenarioCommand::List { target, json } => {
            let client = SuiteClient::connect(&target)?;
            let mut all = Vec::new();
            for service in SCENARIO_SERVICES {
                let list = client.control(service).scenarios().await?;
                all.extend(list.scenarios.into_iter().map(|s| (service, s)));
            }
            if json {
                let by_service: Vec<serde_json::Value> = all
                    .iter()
                    .map(|(service, s)| {
                        let mut value = serde_json::to_value(s).unwrap_or_default();
                        value["service"] = (*service).into();
                        value
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&by_service)?);
            } else {
                print_table(&all);
            }
            Ok(())
        }
        ScenarioCommand::Clear {
            target,
            id,
            service,
        } => {
            let client = SuiteClient::connect(&target)?;
            match (id, service) {
                (Some(id), Some(service)) => {
                    client.control(&service).disarm(id.trim()).await?;
                    println!("cleared {id} on {service}");
                }
                (Some(_), None) => {
                    bail!("each service numbers its own scenarios: say which with --service")
                }
                (None, service) => {
                    let services: Vec<&str> = match &service {
                        Some(service) => vec![service.as_str()],
                        None => SCENARIO_SERVICES.to_vec(),
                    };
                    for service in services {
                        client.control(service).clear_scenarios().await?;
                        println!("cleared every scenario on {service}");
                    }
                }
            }
            Ok(())
        }
        ScenarioCommand::Errors { json } => {
            let listing = error_listing();
            if json {
                println!("{}", serde_json::to_string_pretty(&listing)?);
            } else {
                print!("{}", error_table(&listing));
            }
            Ok(())
        }
    }
}

/// One entry of `fortimock scenario errors`: a catalogue entry (its stable id, code, exact text, provenance,
/// symptom and source) and, when a scenario can answer with it, which service does, on which requests and
/// with what effect (`null` for the errors that follow from the ledger's state or the devices' own).
#[derive(Debug, serde::Serialize)]
struct ErrorListing {
    #[serde(flatten)]
    entry: &'static CatalogueEntry,
    armable: Option<ArmableOn>,
}

#[derive(Debug, serde::Serialize)]
struct ArmableOn {
    service: &'static str,
    message_types: &'static [&'static str],
    effect: &'static str,
}

/// The whole catalogue in its order (then any armable error it does not list), each with how to arm it.
fn error_listing() -> Vec<ErrorListing> {
    let armable_on = |id: &str| {
        ARMABLE
            .iter()
            .find(|a| a.error.id == id)
            .map(|a| ArmableOn {
                service: a.service,
                message_types: a.message_types,
                effect: a.effect,
            })
    };
    let mut listing: Vec<ErrorListing> = CATALOGUE
        .iter()
        .map(|entry| ErrorListing {
            entry,
            armable: armable_on(entry.id),
        })
        .collect();
    for armable in ARMABLE {
        if !CATALOGUE.iter().any(|e| e.id == armable.error.id) {
            listing.push(ErrorListing {
                entry: armable.error,
                armable: armable_on(armable.error.id),
            });
        }
    }
    listing
}

/// The listing for people: a header, then per entry a line with its id, code, provenance and who answers
/// it (the armable service, or `-` when no scenario can), and indented below its wire text, the symptom
/// the user sees and, when armable, what arming it does.
fn error_table(listing: &[ErrorListing]) -> String {
    let id_width = listing
        .iter()
        .map(|l| l.entry.id.len())
        .max()
        .unwrap_or(0)
        .max("ID".len());
    let mut out = format!(
        "{:<id_width$}  {:>6}  {:<10}  ARMABLE ON\n",
        "ID", "CODE", "PROVENANCE"
    );
    for listed in listing {
        let entry = listed.entry;
        let code = entry.code.map_or_else(|| "-".to_owned(), |c| c.to_string());
        let provenance = match entry.provenance {
            Provenance::Wire => "wire",
            Provenance::Client => "client",
            Provenance::Doc => "doc",
            Provenance::Modeled => "modeled",
        };
        let service = listed.armable.as_ref().map_or("-", |a| a.service);
        out.push_str(&format!(
            "{:<id_width$}  {code:>6}  {provenance:<10}  {service}\n",
            entry.id
        ));
        out.push_str(&format!("    text:     {}\n", entry.text));
        out.push_str(&format!("    symptom:  {}\n", entry.symptom));
        if let Some(armable) = &listed.armable {
            out.push_str(&format!("    scenario: {}\n", armable.effect));
        }
    }
    out.push_str(&format!(
        "\n{} errors, {} armable (`fortimock scenario arm <ID>`); the others follow from the ledger's state, or the appliance's and the phone's own. `--json` lists them with their sources.\n",
        listing.len(),
        listing.iter().filter(|l| l.armable.is_some()).count()
    ));
    out
}

async fn arm(args: ScenarioArmArgs) -> anyhow::Result<()> {
    let service = match (&args.service, &args.error) {
        (Some(service), _) => service.clone(),
        (None, Some(error)) => armable(error)
            .map(|a| a.service.to_owned())
            .with_context(|| {
                format!("`{error}` is not an error a scenario can answer with; `fortimock scenario errors` lists them")
            })?,
        (None, None) => {
            bail!("--status and --delay-ms need --service (forticare, ftm, push or appliance)")
        }
    };
    let spec = ScenarioSpec {
        error: args.error,
        status: args.status,
        delay_ms: args.delay_ms,
        when: ScenarioMatch {
            message_type: args.message_type,
            serial: args.serial,
            license_code: args.license_code,
            token: args.token,
            activation_code: args.activation_code,
            mobile_id: args.mobile_id,
            registration_id: args.registration_id,
            recipient: args.recipient,
        },
        times: args.times,
        probability: args.probability,
        rng_seed: args.rng_seed,
    };
    let client = SuiteClient::connect(&args.target)?;
    let armed = client.control(&service).arm(&spec).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&armed)?);
    } else {
        println!("armed {} on {service}: {}", armed.id, describe(&armed));
    }
    Ok(())
}

/// One line: what it answers, for which requests, how often.
pub(crate) fn describe(scenario: &ScenarioView) -> String {
    let spec = &scenario.spec;
    let mut answer = match (&spec.error, spec.status) {
        (Some(error), _) => match armable(error) {
            Some(entry) => match entry.error.code {
                Some(code) => format!("{error} (error {code} `{}`)", entry.error.text),
                None => format!("{error} (`{}`)", entry.error.text),
            },
            None => error.clone(),
        },
        (None, Some(status)) => format!("HTTP {status}"),
        (None, None) => "the usual answer".to_owned(),
    };
    if let Some(delay) = spec.delay_ms {
        answer.push_str(&format!(" after {delay} ms"));
    }
    let when = describe_match(&spec.when);
    let how_often = match (spec.times, spec.probability) {
        (Some(1), _) => "once".to_owned(),
        (Some(n), _) => format!("{n} times"),
        (None, _) => "until cleared".to_owned(),
    };
    let chance = spec
        .probability
        .map(|p| format!(", with probability {p}"))
        .unwrap_or_default();
    format!("{answer} for {when}, {how_often}{chance}")
}

fn describe_match(when: &ScenarioMatch) -> String {
    let fields = [
        ("type", &when.message_type),
        ("serial", &when.serial),
        ("license code", &when.license_code),
        ("token", &when.token),
        ("activation code", &when.activation_code),
        ("mobile_id", &when.mobile_id),
        ("registration id", &when.registration_id),
        ("recipient", &when.recipient),
    ];
    let parts: Vec<String> = fields
        .iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| format!("{name} {v}")))
        .collect();
    if parts.is_empty() {
        "every request".to_owned()
    } else {
        parts.join(", ")
    }
}

fn print_table(scenarios: &[(&str, ScenarioView)]) {
    if scenarios.is_empty() {
        println!("no scenarios armed");
        return;
    }
    println!(
        "{:<9} {:<4} {:<5} {:>5}  WHAT",
        "SERVICE", "ID", "STATE", "FIRED"
    );
    for (service, scenario) in scenarios {
        println!(
            "{:<9} {:<4} {:<5} {:>5}  {}",
            service,
            scenario.id,
            scenario.state,
            scenario.fired,
            describe(scenario)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_listing_is_the_whole_catalogue_with_how_to_arm_each() {
        let listing = error_listing();
        let ids: Vec<&str> = listing.iter().map(|l| l.entry.id).collect();
        for entry in CATALOGUE {
            assert!(ids.contains(&entry.id), "{} missing", entry.id);
        }
        for armable in ARMABLE {
            let listed = listing
                .iter()
                .find(|l| l.entry.id == armable.error.id)
                .unwrap();
            assert_eq!(listed.armable.as_ref().unwrap().service, armable.service);
        }
        let table = error_table(&listing);
        let header = table.lines().next().unwrap();
        let line = table
            .lines()
            .find(|l| l.starts_with("forticare.transfer.not-owner "))
            .unwrap();
        assert_eq!(
            line.find("modeled"),
            header.find("PROVENANCE"),
            "aligned: {line}"
        );
    }
}
