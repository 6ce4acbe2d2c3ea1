//! docker-compose.yml, read as YAML, agrees with `protocol::hosts` and with what the lab promises: every
//! emulated name is a network alias of the container of the service that answers it, the DNS responder
//! answers each service's names with that container's own address, every long-running service has a health
//! check and waits for the services it needs to be healthy (for the lab CA, to have run), each stateful
//! service keeps its data in a named volume of its own, and every published port listens on the host address
//! `FORTIMOCK_HOST_ADDRESS` (loopback by default), not on every interface.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_yaml_ng::{Mapping, Value};

/// The host-address prefix every published port carries.
const HOST_ADDRESS: &str = "${FORTIMOCK_HOST_ADDRESS:-127.0.0.1}:";

fn repository_file(path: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The compose file, parsed, with its `<<:` merge keys applied.
fn compose() -> Value {
    let mut compose: Value =
        serde_yaml_ng::from_str(&repository_file("docker-compose.yml")).unwrap();
    compose.apply_merge().unwrap();
    compose
}

fn services(compose: &Value) -> &Mapping {
    compose["services"].as_mapping().expect("services")
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    compose["services"]
        .get(name)
        .unwrap_or_else(|| panic!("no service {name}"))
}

/// Every service's name.
fn names(compose: &Value) -> Vec<String> {
    services(compose)
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

/// The service's fixed address on the lab network, as written (`${FORTIMOCK_LAB_NET:-172.30.14}.43`).
fn address(compose: &Value, name: &str) -> String {
    service(compose, name)["networks"]["lab"]["ipv4_address"]
        .as_str()
        .unwrap_or_else(|| panic!("{name} has no fixed address"))
        .to_owned()
}

/// The service's environment variable `key`, as written.
fn variable(compose: &Value, name: &str, key: &str) -> Option<String> {
    match &service(compose, name)["environment"][key] {
        Value::String(text) => Some(text.clone()),
        Value::Null => None,
        other => Some(serde_yaml_ng::to_string(other).unwrap().trim().to_owned()),
    }
}

/// A service that runs once (the lab CA) or only on demand (the demo), rather than for the lab's life.
fn runs_once(compose: &Value, name: &str) -> bool {
    let service = service(compose, name);
    service["profiles"].is_sequence() || service["command"] == Value::from(vec!["certs"])
}

/// Whether stage `target` of `dockerfile` has a HEALTHCHECK.
fn stage_has_health_check(dockerfile: &str, target: &str) -> bool {
    let stage = dockerfile
        .split("\nFROM ")
        .find(|stage| {
            stage
                .lines()
                .next()
                .is_some_and(|first| first.trim_end().ends_with(&format!(" AS {target}")))
        })
        .unwrap_or_else(|| panic!("no stage {target}"));
    stage
        .lines()
        .any(|line| line.starts_with("HEALTHCHECK ") && !line.contains("NONE"))
}

#[test]
fn every_emulated_name_is_an_alias_of_its_service() {
    let compose = compose();
    for host in protocol::hosts::EMULATED_HOSTS {
        let container = host
            .service
            .unwrap_or_else(|| panic!("{} has no service to alias it", host.name));
        let aliases: Vec<&str> = service(&compose, container)["networks"]["lab"]["aliases"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{container} has no aliases"))
            .iter()
            .map(|alias| alias.as_str().unwrap())
            .collect();
        assert!(
            aliases.contains(&host.name),
            "{} is not an alias of {container}: {aliases:?}",
            host.name
        );
    }
    // No other container claims a name: a name has one address.
    for name in names(&compose) {
        let aliases = &service(&compose, &name)["networks"]["lab"]["aliases"];
        for alias in aliases.as_sequence().into_iter().flatten() {
            let alias = alias.as_str().unwrap();
            let host = protocol::hosts::emulated(alias)
                .unwrap_or_else(|| panic!("{name}'s alias {alias} is no emulated name"));
            assert_eq!(host.service, Some(name.as_str()), "{alias}");
        }
    }
}

#[test]
fn the_dns_responder_answers_with_each_service_container_address() {
    let compose = compose();
    let dns = address(&compose, "dns");
    assert_eq!(
        variable(&compose, "dns", "FORTIMOCK_DNS_ADDRESS").as_deref(),
        Some(dns.as_str())
    );
    let answers = variable(&compose, "dns", "FORTIMOCK_DNS_SERVICE_ADDRESSES").unwrap();
    let answers: BTreeSet<&str> = answers.split(',').collect();
    let services: BTreeSet<&str> = protocol::hosts::EMULATED_HOSTS
        .iter()
        .filter_map(|host| host.service)
        .collect();
    for service in services {
        let expected = format!("{service}={}", address(&compose, service));
        assert!(
            answers.contains(expected.as_str()),
            "dns does not answer {expected}: {answers:?}"
        );
    }
    for service in ["forticare", "ftm", "push"] {
        let port = format!("FORTIMOCK_{}_PORT", service.to_uppercase());
        assert_eq!(
            variable(&compose, service, &port).as_deref(),
            Some("443"),
            "{service} does not listen on 443"
        );
    }
    // The appliances ask the responder, at its own address.
    assert_eq!(
        variable(&compose, "appliance", "FORTIMOCK_RESOLVER"),
        Some(dns)
    );
}

#[test]
fn every_service_waits_for_what_it_needs_to_be_healthy() {
    let compose = compose();
    let mut waits = 0;
    for name in names(&compose) {
        let Some(needs) = service(&compose, &name)["depends_on"].as_mapping() else {
            continue;
        };
        for (needed, how) in needs {
            let needed = needed.as_str().unwrap();
            let condition = how["condition"].as_str().unwrap_or("none");
            let expected = if runs_once(&compose, needed) {
                "service_completed_successfully"
            } else {
                "service_healthy"
            };
            assert_eq!(condition, expected, "{name} depends on {needed}");
            waits += 1;
        }
    }
    assert!(
        waits >= 10,
        "only {waits} dependencies: did the file change?"
    );
    // Every long-running service depends on the lab CA, directly or through another.
    for name in names(&compose) {
        if runs_once(&compose, &name) || name == "dns" {
            continue;
        }
        let mut seen = BTreeSet::new();
        let mut todo = vec![name.clone()];
        while let Some(next) = todo.pop() {
            if let Some(needs) = service(&compose, &next)["depends_on"].as_mapping() {
                for needed in needs.keys() {
                    let needed = needed.as_str().unwrap().to_owned();
                    if seen.insert(needed.clone()) {
                        todo.push(needed);
                    }
                }
            }
        }
        assert!(seen.contains("lab-ca"), "{name} does not wait for lab-ca");
    }
}

#[test]
fn every_long_running_service_has_a_health_check() {
    let compose = compose();
    let dockerfiles = [
        repository_file("Dockerfile"),
        repository_file("docker/scratch.Dockerfile"),
    ];
    for name in names(&compose) {
        let service = service(&compose, &name);
        if runs_once(&compose, &name) {
            assert_eq!(
                service["healthcheck"]["disable"],
                Value::Bool(true),
                "{name} runs once: nothing to wait for"
            );
            continue;
        }
        let test = &service["healthcheck"]["test"];
        if let Some(test) = test.as_sequence() {
            let words: Vec<&str> = test.iter().map(|w| w.as_str().unwrap()).collect();
            assert_eq!(words[0], "CMD", "{name}: {words:?}");
            assert!(
                words.contains(&"health") && words[1].starts_with("/usr/local/bin/"),
                "{name}: the health check is not the binary's own: {words:?}"
            );
            continue;
        }
        assert!(test.is_null(), "{name}: {test:?}");
        // No health check of its own: its image's, which both Dockerfiles must give the stage.
        let target = service["build"]["target"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no health check and no image target"));
        for dockerfile in &dockerfiles {
            assert!(
                stage_has_health_check(dockerfile, target),
                "{name}: stage {target} has no HEALTHCHECK"
            );
        }
    }
}

#[test]
fn each_stateful_service_has_a_named_volume_of_its_own() {
    let compose = compose();
    let declared: BTreeSet<String> = compose["volumes"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    let mut data_volumes = BTreeSet::new();
    for name in ["forticare", "ftm", "push", "phone", "appliance"] {
        let volumes: Vec<&str> = service(&compose, name)["volumes"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{name} has no volumes"))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let data = volumes
            .iter()
            .find_map(|v| v.strip_suffix(":/data"))
            .unwrap_or_else(|| panic!("{name} keeps no /data volume: {volumes:?}"));
        assert!(
            declared.contains(data),
            "{name}'s {data} is not a named volume"
        );
        assert!(data_volumes.insert(data), "{data} is shared");
        assert!(volumes.contains(&"lab:/lab:ro"), "{name}: {volumes:?}");
    }
    // The lab CA's volume is written by lab-ca only.
    assert_eq!(
        service(&compose, "lab-ca")["volumes"],
        Value::from(vec!["lab:/data"])
    );
}

#[test]
fn published_ports_listen_on_the_host_address_only() {
    let compose = compose();
    let mut published = 0;
    for name in names(&compose) {
        let Some(ports) = service(&compose, &name)["ports"].as_sequence() else {
            continue;
        };
        for port in ports {
            let port = port.as_str().expect("ports are written as strings");
            assert!(
                port.starts_with(HOST_ADDRESS),
                "{name} publishes {port} on every host interface"
            );
            published += 1;
        }
    }
    assert_eq!(published, 8, "the lab publishes 8 ports");
}
