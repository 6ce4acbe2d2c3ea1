//! The real host names fortimock stands in for: which of its services answers each, the port the real host
//! listens on, and who calls it. The lab certificate covers every one, the DNS responder (`--dns-port`)
//! answers them, and the compose lab gives each as a network alias to the container of its service.
//!
//! Sources: the protocol dossier's host table (KBs, admin guides and public clients; which FortiGate host
//! sends `/Process` is not public, so every name a FortiGate KB mentions for FortiToken goes to ftm, the
//! appliances' one front door).

/// One real host name and what stands in for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmulatedHost {
    /// The host name, lowercase, without the trailing dot.
    pub name: &'static str,
    /// The fortimock service that answers it (`forticare`, `ftm`, `push`; `appliance` for the mail server,
    /// whose SMTP listener the appliance service runs), or `None` when nothing in fortimock serves it: the
    /// name still resolves into the lab, so an appliance never reaches the real host, and finds nothing
    /// listening there.
    pub service: Option<&'static str>,
    /// The port the real host serves on.
    pub port: u16,
    /// Who calls it, for what.
    pub role: &'static str,
}

/// Every host name fortimock emulates.
pub const EMULATED_HOSTS: &[EmulatedHost] = &[
    EmulatedHost {
        name: "fortitokenmobile.fortinet.com",
        service: Some("ftm"),
        port: 443,
        role: "FTM provisioning: FortiAuthenticator's default server_address (import, provisioning, polling)",
    },
    EmulatedHost {
        name: "globalftm.fortinet.net",
        service: Some("ftm"),
        port: 443,
        role: "FTM provisioning for the FortiToken Mobile app (/Mobile, the seed download)",
    },
    EmulatedHost {
        name: "directregistration.fortinet.com",
        service: Some("ftm"),
        port: 443,
        role: "FortiGuard registration, which FortiGate KBs check for FortiToken import and provisioning",
    },
    EmulatedHost {
        name: "push.fortinet.com",
        service: Some("push"),
        port: 443,
        role: "the FortiToken Mobile push proxy (FortiOS 6.4 and later, FortiAuthenticator)",
    },
    EmulatedHost {
        name: "support.fortinet.com",
        service: Some("forticare"),
        port: 443,
        role: "FortiCare: licenses and registration",
    },
    EmulatedHost {
        name: "customerapiauth.fortinet.com",
        service: Some("forticare"),
        port: 443,
        role: "FortiCare API authentication",
    },
    EmulatedHost {
        name: "update.fortiguard.net",
        service: Some("forticare"),
        port: 443,
        role: "FortiGuard: FortiAuthenticator's hardware token activation",
    },
    EmulatedHost {
        name: "notification.fortinet.net",
        service: Some("appliance"),
        port: 465,
        role: "FortiGate's default mail server (SMTPS), which sends activation emails: the appliance service's SMTP listener (port 8025, STARTTLS) captures them",
    },
];

/// The emulated host `name` is (any letter case, with or without the trailing dot), if it is one.
pub fn emulated(name: &str) -> Option<&'static EmulatedHost> {
    let name = name.strip_suffix('.').unwrap_or(name);
    EMULATED_HOSTS
        .iter()
        .find(|host| host.name.eq_ignore_ascii_case(name))
}

/// Fortinet's own domains. A name in one of them that resolves to a public address is the real Fortinet host,
/// which fortimock never contacts: its clients refuse it before connecting ([`real_fortinet_address`]).
pub const FORTINET_DOMAINS: &[&str] = &[
    "fortinet.com",
    "fortinet.net",
    "fortiguard.com",
    "fortiguard.net",
    "forticloud.com",
];

/// Whether `name` is one of Fortinet's domains or under one (any letter case, with or without the root).
pub fn is_fortinet_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    FORTINET_DOMAINS.iter().any(|domain| {
        name == *domain
            || name
                .strip_suffix(domain)
                .is_some_and(|head| head.ends_with('.'))
    })
}

/// The first of `addresses` that would reach the real Fortinet host `name`: a public (globally routable)
/// address of a name in [`FORTINET_DOMAINS`]. The lab's own answers (a hosts entry, the DNS responder, the
/// compose lab's network aliases) are loopback or private addresses; a public one means the name was
/// resolved by the Internet's DNS.
pub fn real_fortinet_address(
    name: &str,
    addresses: &[std::net::IpAddr],
) -> Option<std::net::IpAddr> {
    if !is_fortinet_name(name) {
        return None;
    }
    addresses.iter().copied().find(|ip| is_public(*ip))
}

/// Whether `ip` is globally routable: not loopback, private, shared (CGNAT), link-local, documentation,
/// benchmarking, multicast, reserved or unspecified (`IpAddr::is_global` is not stable yet).
fn is_public(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first == 0x2001 && v6.segments()[1] == 0x0db8))
        }
    }
}

/// The names service `service` stands in for.
pub fn names_of(service: &str) -> impl Iterator<Item = &'static str> + '_ {
    EMULATED_HOSTS
        .iter()
        .filter(move |host| host.service == Some(service))
        .map(|host| host.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_in_any_case_with_or_without_the_root() {
        assert_eq!(
            emulated("FortiTokenMobile.Fortinet.COM.").map(|h| h.service),
            Some(Some("ftm"))
        );
        assert_eq!(emulated("push.fortinet.com").map(|h| h.port), Some(443));
        assert!(emulated("fortinet.com").is_none());
        assert!(emulated("evil-push.fortinet.com").is_none());
    }

    #[test]
    fn a_fortinet_name_at_a_public_address_is_the_real_host_and_the_labs_addresses_are_not() {
        let ip = |text: &str| text.parse::<std::net::IpAddr>().unwrap();
        assert!(is_fortinet_name("Support.Fortinet.COM."));
        assert!(is_fortinet_name("fortinet.net"));
        assert!(is_fortinet_name("update.fortiguard.net"));
        assert!(!is_fortinet_name("notfortinet.com"));
        assert!(!is_fortinet_name("fortinet.com.example.org"));
        assert!(!is_fortinet_name("example.org"));
        for lab in [
            "127.0.0.1",
            "10.1.2.3",
            "172.30.14.43",
            "192.168.1.9",
            "100.64.0.1",
            "169.254.1.1",
            "::1",
            "fd00::5",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert_eq!(
                real_fortinet_address("push.fortinet.com", &[ip(lab)]),
                None,
                "{lab}"
            );
        }
        for public in ["96.45.36.1", "8.8.8.8", "2606:4700::1", "::ffff:8.8.4.4"] {
            assert_eq!(
                real_fortinet_address("push.fortinet.com", &[ip("127.0.0.1"), ip(public)]),
                Some(ip(public)),
                "{public}"
            );
            // Any other name may be anywhere: fortimock goes where it is told.
            assert_eq!(real_fortinet_address("example.org", &[ip(public)]), None);
        }
    }

    #[test]
    fn every_name_is_lowercase_and_served_once() {
        for (i, host) in EMULATED_HOSTS.iter().enumerate() {
            assert_eq!(host.name, host.name.to_ascii_lowercase());
            assert!(!host.name.ends_with('.'));
            assert!(EMULATED_HOSTS[..i].iter().all(|h| h.name != host.name));
        }
        assert_eq!(
            names_of("ftm").collect::<Vec<_>>(),
            [
                "fortitokenmobile.fortinet.com",
                "globalftm.fortinet.net",
                "directregistration.fortinet.com"
            ]
        );
    }
}
