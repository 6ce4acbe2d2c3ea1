//! docker-compose.yml agrees with `protocol::hosts`: every emulated name is a network alias of the
//! container of the service that answers it (the ones nothing serves, of the DNS responder's), and the DNS
//! responder answers each service's names with that container's own address.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The compose file's services, each as the text of its block.
fn services() -> BTreeMap<String, String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docker-compose.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let body = text
        .split("\nservices:\n")
        .nth(1)
        .unwrap()
        .split("\nnetworks:\n")
        .next()
        .unwrap();
    let mut blocks = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in body.lines() {
        let is_service = line.len() > 2
            && line.starts_with("  ")
            && !line.starts_with("   ")
            && !line.trim_start().starts_with('#')
            && line.trim_end().ends_with(':');
        if is_service {
            if let Some((name, block)) = current.take() {
                blocks.insert(name, block);
            }
            current = Some((line.trim().trim_end_matches(':').to_owned(), String::new()));
        } else if let Some((_, block)) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
        }
    }
    if let Some((name, block)) = current {
        blocks.insert(name, block);
    }
    blocks
}

/// The service's fixed address, as written (`${FORTIMOCK_LAB_NET:-172.30.14}.43`).
fn address(block: &str) -> String {
    block
        .lines()
        .find_map(|l| l.trim().strip_prefix("ipv4_address: "))
        .unwrap()
        .to_owned()
}

#[test]
fn every_emulated_name_is_an_alias_of_its_service() {
    let services = services();
    for host in protocol::hosts::EMULATED_HOSTS {
        let container = host.service.unwrap_or("dns");
        let block = &services[container];
        let aliases = block
            .lines()
            .find_map(|l| l.trim().strip_prefix("aliases: "))
            .unwrap_or_else(|| panic!("{container} has no aliases"));
        assert!(
            aliases.contains(host.name),
            "{} is not an alias of {container}: {aliases}",
            host.name
        );
    }
}

#[test]
fn the_dns_responder_answers_with_each_service_container_address() {
    let services = services();
    let dns = &services["dns"];
    assert!(dns.contains(&format!("FORTIMOCK_DNS_ADDRESS: {}", address(dns))));
    for service in ["forticare", "ftm", "push"] {
        let expected = format!("{service}={}", address(&services[service]));
        assert!(dns.contains(&expected), "dns does not answer {expected}");
        let port = format!("FORTIMOCK_{}_PORT: \"443\"", service.to_uppercase());
        assert!(
            services[service].contains(&port),
            "{service} does not listen on 443"
        );
    }
    // The appliances ask the responder, at its own address.
    assert!(services["appliance"].contains(&format!("FORTIMOCK_RESOLVER: {}", address(dns))));
}
