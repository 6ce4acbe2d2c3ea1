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
