//! Scenarios: errors armed on demand through `/__admin/scenarios`, so a test or a support engineer gets the
//! real service's answer for a case (a refused import, a token that left the appliance, a burnt activation
//! code, a stale push registration) without building the state that would cause it.
//!
//! A scenario answers with a catalogue error in the real service's shape, or with a bare HTTP status, and may
//! hold the answer first (`delay_ms`). It fires on the requests its `match` selects, for the next `times`
//! of them or until cleared, with a `probability`. A request a scenario answers changes nothing. This module
//! holds the API types, which catalogue entries each service can answer with, and the matching rules;
//! `lab::scenario` keeps the armed scenarios of one service.

use serde::{Deserialize, Serialize};

use crate::activation::TokenActivationCode;
use crate::catalogue::{
    ACTIVATION_CODE_INVALID, CatalogueEntry, LICENSE_CODE_INVALID, NO_VALID_TOKEN, TOKEN_NOT_OWNED,
};
use crate::envelope::Message;
use crate::license::ActivationLicenseRequest;
use crate::mobile::MobileProvisionRequest;
use crate::modeled;
use crate::provision::{PollingRequest, ProvisionRequest};
use crate::time::UnixTime;

/// The `message_type` of a push sent to the relay (the relay's requests have no `__type`).
pub const PUSH_MESSAGE: &str = "push";

/// The `message_type` of an email the suite's SMTP listener receives (the appliance service's).
pub const EMAIL_MESSAGE: &str = "email";

/// The `message_type` of an SMS posted to the suite's SMS sink (the appliance service's).
pub const SMS_MESSAGE: &str = "sms";

/// The longest a scenario may hold an answer, in milliseconds (two minutes: past every client's timeout).
pub const MAX_DELAY_MS: u64 = 120_000;

/// The most scenarios one service holds at once, spent ones included.
pub const MAX_SCENARIOS: usize = 1000;

/// `POST /__admin/scenarios`: what to answer, and when.
///
/// Exactly one of `error` and `status`, or `delay_ms` alone (a slow service that then answers normally).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    /// A catalogue id this service can answer with (one `fortimock scenario errors` lists as armable), e.g. `ftm.mobile.code-invalid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// An HTTP status (400–599) answered with the service's own error body, e.g. 503.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Hold the answer this long first, in milliseconds (at most 120000 ms, two minutes, `MAX_DELAY_MS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Which requests it fires on; every field given must match. Empty: every request it applies to.
    #[serde(
        default,
        rename = "match",
        skip_serializing_if = "ScenarioMatch::is_empty"
    )]
    pub when: ScenarioMatch,
    /// Fire for the next `times` matching requests, then stay listed as spent. Absent: until cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// The chance that a matching request fires it, above 0 and at most 1 (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Seeds the random draws `probability` makes, so a run repeats exactly (default: random).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rng_seed: Option<u64>,
}

/// Which requests a scenario fires on. Letter case, dashes in license codes and the form of an activation
/// code (base32 or the phone's hex) do not matter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioMatch {
    /// The request's `__type` (`SoftToken.ProvisionRequest`, …), or `push` on the relay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_type: Option<String>,
    /// The appliance asking: `serial_number`, or the serial in a push's `sender`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// The license activation code being imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_code: Option<String>,
    /// A token serial the request names (provisioning, polling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The token activation code a phone redeems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_code: Option<String>,
    /// The redeeming phone's `mobile_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile_id: Option<String>,
    /// The push's `registration_id` (a phone's `reg-id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_id: Option<String>,
    /// An email's recipient address or an SMS's number (any letter case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
}

/// An armed scenario (`GET /__admin/scenarios`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScenarioView {
    /// `s1`, `s2`, … in arming order, unique for the life of the service.
    pub id: String,
    #[serde(flatten)]
    pub spec: ScenarioSpec,
    /// How many requests it has answered.
    pub fired: u64,
    /// How many more it will answer; absent when it has no `times`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u32>,
    /// `armed`, or `spent` once `times` requests have fired it.
    pub state: String,
    pub armed_at: UnixTime,
}

/// `GET /__admin/scenarios`: every scenario, in arming order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScenarioList {
    pub scenarios: Vec<ScenarioView>,
}

/// A catalogue error a service can be armed with, and what arming it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Armable {
    pub error: &'static CatalogueEntry,
    /// The service that answers with it (`forticare`, `ftm`, `push`).
    pub service: &'static str,
    /// The requests it answers.
    pub message_types: &'static [&'static str],
    /// What the answer is, for people.
    pub effect: &'static str,
}

const IMPORT: &[&str] = &[ActivationLicenseRequest::TYPE];
const PROVISION_AND_POLL: &[&str] = &[ProvisionRequest::TYPE, PollingRequest::TYPE];
const MOBILE: &[&str] = &[MobileProvisionRequest::TYPE];
const PUSH: &[&str] = &[PUSH_MESSAGE];
const EMAIL: &[&str] = &[EMAIL_MESSAGE];
const SMS: &[&str] = &[SMS_MESSAGE];
const V3_CALLS: &[&str] = crate::forticare_v3::API_CALLS;
const V3_TOKEN: &[&str] = &[crate::forticare_v3::OAUTH_TOKEN];
/// forticare's requests: license import, and the asset-management API (v3).
const FORTICARE: &[&str] = &[
    ActivationLicenseRequest::TYPE,
    crate::forticare_v3::OAUTH_TOKEN,
    crate::forticare_v3::LICENSES_REGISTER,
    crate::forticare_v3::LICENSES_LIST,
    crate::forticare_v3::LICENSES_DOWNLOAD,
    crate::forticare_v3::PRODUCTS_LIST,
    crate::forticare_v3::PRODUCTS_DETAILS,
    crate::forticare_v3::PRODUCTS_REGISTER,
    crate::forticare_v3::PRODUCTS_TRANSFER,
];

/// Every catalogue error a scenario can answer with. The others are the appliance's or the phone's own
/// (`appliance.import.forticare-error` follows from error 16; `phone.push.invalid-server-certificate` comes
/// from `server-cert untrusted`) or come from the ledger itself (`forticare.cluster.not-registered`).
pub const ARMABLE: &[Armable] = &[
    Armable {
        error: &LICENSE_CODE_INVALID,
        service: "forticare",
        message_types: IMPORT,
        effect: "the import is refused with error 16 whatever the code; the appliance prints -7566",
    },
    Armable {
        error: &modeled::LICENSE_REGISTERED_ELSEWHERE,
        service: "forticare",
        message_types: IMPORT,
        effect: "the import is refused with error 18, as if another appliance had registered the license",
    },
    Armable {
        error: &modeled::LICENSE_EXPIRED,
        service: "forticare",
        message_types: IMPORT,
        effect: "the import is refused with error 19, as if the redemption certificate had expired",
    },
    Armable {
        error: &modeled::OAUTH_INVALID_GRANT,
        service: "forticare",
        message_types: V3_TOKEN,
        effect: "the token request is refused with HTTP 401 `invalid_grant`, whatever the password",
    },
    Armable {
        error: &modeled::V3_UNAUTHORIZED,
        service: "forticare",
        message_types: V3_CALLS,
        effect: "the v3 call is refused with HTTP 401, as if its bearer token had expired",
    },
    Armable {
        error: &modeled::V3_RATE_LIMIT_MINUTE,
        service: "forticare",
        message_types: V3_CALLS,
        effect: "the v3 call is refused with HTTP 429, as past 100 calls in a minute",
    },
    Armable {
        error: &modeled::V3_RATE_LIMIT_HOUR,
        service: "forticare",
        message_types: V3_CALLS,
        effect: "the v3 call is refused with HTTP 429, as past 1,000 calls in an hour",
    },
    Armable {
        error: &modeled::V3_ERROR_LIMIT,
        service: "forticare",
        message_types: V3_CALLS,
        effect: "the v3 call is refused with HTTP 429, as past 10 errors in an hour",
    },
    Armable {
        error: &TOKEN_NOT_OWNED,
        service: "ftm",
        message_types: PROVISION_AND_POLL,
        effect: "the matching tokens (all of them without `match.token`) are refused with error 31, as after a \
                 license transfer; the others are served; top-level error 17 when none is left",
    },
    Armable {
        error: &NO_VALID_TOKEN,
        service: "ftm",
        message_types: PROVISION_AND_POLL,
        effect: "every token is refused with error 31 and the answer carries top-level error 17",
    },
    Armable {
        error: &ACTIVATION_CODE_INVALID,
        service: "ftm",
        message_types: MOBILE,
        effect: "the phone is refused with error 40; the code stays in escrow and can still be redeemed",
    },
    Armable {
        error: &modeled::PUSH_UNREGISTERED,
        service: "push",
        message_types: PUSH,
        effect: "the push is refused with HTTP 410 `Unregistered`, as for an uninstalled app",
    },
    Armable {
        error: &modeled::PUSH_BAD_DEVICE_TOKEN,
        service: "push",
        message_types: PUSH,
        effect: "the push is refused with HTTP 400 `BadDeviceToken`",
    },
    Armable {
        error: &modeled::MAILBOX_FULL,
        service: "appliance",
        message_types: EMAIL,
        effect: "the SMTP listener refuses the recipient with `552 5.2.2 Mailbox full`; the appliance shows \
                 `Failed to send activation code` and the token stays Pending",
    },
    Armable {
        error: &modeled::SMS_GATEWAY_REFUSED,
        service: "appliance",
        message_types: SMS,
        effect: "the SMS sink refuses the message (HTTP 503); the appliance shows `Failed to send activation \
                 code` and the token stays Pending",
    },
];

/// The requests each service that takes scenarios answers, by service.
pub const SERVICE_MESSAGES: &[(&str, &[&str])] = &[
    ("forticare", FORTICARE),
    (
        "ftm",
        &[
            ActivationLicenseRequest::TYPE,
            ProvisionRequest::TYPE,
            PollingRequest::TYPE,
            MobileProvisionRequest::TYPE,
        ],
    ),
    ("push", PUSH),
    // The appliance service takes scenarios only on the mail server and SMS gateway it runs for the
    // appliances; the virtual appliances themselves are simulators.
    ("appliance", &[EMAIL_MESSAGE, SMS_MESSAGE]),
];

/// The services that keep a request journal: the emulated Fortinet services devices talk to (the
/// simulators keep none, even the appliance service, whose SMTP listener and SMS sink take scenarios).
pub const JOURNALED: &[&str] = &["forticare", "ftm", "push"];

/// The requests `service` checks scenarios on; `None` for a service that takes none (the simulators).
pub fn service_messages(service: &str) -> Option<&'static [&'static str]> {
    SERVICE_MESSAGES
        .iter()
        .find(|(name, _)| *name == service)
        .map(|(_, types)| *types)
}

/// The armable entry with this catalogue id.
pub fn armable(id: &str) -> Option<&'static Armable> {
    ARMABLE.iter().find(|a| a.error.id == id)
}

/// What a scenario does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScenarioAction {
    /// Answer with this catalogue error in the service's shape.
    Error(&'static Armable),
    /// Answer with this HTTP status and the service's error body.
    Status(u16),
    /// Answer normally, late.
    Delay,
}

impl ScenarioSpec {
    /// Checks the spec against `service`, returning what it does; the error is a sentence for people.
    pub fn validate(&self, service: &str) -> Result<ScenarioAction, String> {
        let Some(messages) = service_messages(service) else {
            return Err(format!(
                "the {service} service takes no scenarios: it is a simulator, not a Fortinet service; arm \
                 scenarios on forticare, ftm or push"
            ));
        };
        let action = match (&self.error, self.status) {
            (Some(_), Some(_)) => {
                return Err("give `error` or `status`, not both".to_owned());
            }
            (Some(id), None) => match armable(id) {
                Some(entry) if entry.service == service => ScenarioAction::Error(entry),
                Some(entry) => {
                    return Err(format!(
                        "`{id}` is answered by the {} service, not {service}: arm it there",
                        entry.service
                    ));
                }
                None => {
                    let here: Vec<&str> = ARMABLE
                        .iter()
                        .filter(|a| a.service == service)
                        .map(|a| a.error.id)
                        .collect();
                    return Err(format!(
                        "`{id}` is not an error {service} can be armed with; it takes: {}",
                        here.join(", ")
                    ));
                }
            },
            (None, Some(status)) if (400..=599).contains(&status) => ScenarioAction::Status(status),
            (None, Some(status)) => {
                return Err(format!("status {status} is not an error status (400-599)"));
            }
            (None, None) if self.delay_ms.is_some() => ScenarioAction::Delay,
            (None, None) => {
                return Err("give `error`, `status` or `delay_ms`".to_owned());
            }
        };
        if let Some(delay) = self.delay_ms
            && delay > MAX_DELAY_MS
        {
            return Err(format!("delay_ms {delay} is over {MAX_DELAY_MS}"));
        }
        if self.times == Some(0) {
            return Err("times must be at least 1 (leave it out to fire until cleared)".to_owned());
        }
        if let Some(p) = self.probability
            && !(p > 0.0 && p <= 1.0)
        {
            return Err(format!("probability {p} is not above 0 and at most 1"));
        }
        if let Some(message_type) = &self.when.message_type {
            let applies = match action {
                ScenarioAction::Error(entry) => entry.message_types,
                _ => messages,
            };
            if !applies.contains(&message_type.as_str()) {
                return Err(format!(
                    "match.message_type `{message_type}` is not one it can answer here: {}",
                    applies.join(", ")
                ));
            }
        }
        if let Some(code) = &self.when.activation_code
            && TokenActivationCode::payload_from_input(code).is_err()
        {
            return Err(format!(
                "match.activation_code `{code}` is neither a 16-character activation code nor its 16 hex digits"
            ));
        }
        Ok(action)
    }
}

impl ScenarioMatch {
    pub fn is_empty(&self) -> bool {
        self == &ScenarioMatch::default()
    }

    /// Whether `request` is one this selects.
    pub fn matches(&self, request: &Trigger<'_>) -> bool {
        let field = |wanted: &Option<String>, got: Option<&str>, same: fn(&str, &str) -> bool| {
            wanted
                .as_deref()
                .is_none_or(|wanted| got.is_some_and(|got| same(wanted, got)))
        };
        field(&self.message_type, Some(request.message_type), |a, b| {
            a == b
        }) && field(&self.serial, request.serial, same_text)
            && field(&self.license_code, request.license_code, same_license_code)
            && self
                .token
                .as_deref()
                .is_none_or(|wanted| request.tokens.iter().any(|t| same_text(wanted, t)))
            && field(
                &self.activation_code,
                request.activation_code,
                same_activation_code,
            )
            && field(&self.mobile_id, request.mobile_id, |a, b| {
                a.trim() == b.trim()
            })
            && field(&self.registration_id, request.registration_id, |a, b| {
                a.trim() == b.trim()
            })
            && field(&self.recipient, request.recipient, same_text)
    }

    /// Whether a token-level error of this scenario refuses `token`: every token when no `token` is given.
    pub fn selects_token(&self, token: &str) -> bool {
        self.token
            .as_deref()
            .is_none_or(|wanted| same_text(wanted, token))
    }
}

/// What a service knows of a request when it checks its scenarios.
#[derive(Debug, Clone, Default)]
pub struct Trigger<'a> {
    pub message_type: &'a str,
    pub serial: Option<&'a str>,
    pub license_code: Option<&'a str>,
    pub tokens: Vec<&'a str>,
    pub activation_code: Option<&'a str>,
    pub mobile_id: Option<&'a str>,
    pub registration_id: Option<&'a str>,
    pub recipient: Option<&'a str>,
}

impl<'a> Trigger<'a> {
    pub fn new(message_type: &'a str) -> Trigger<'a> {
        Trigger {
            message_type,
            ..Trigger::default()
        }
    }
}

fn same_text(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

fn same_license_code(a: &str, b: &str) -> bool {
    let compact = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect()
    };
    compact(a) == compact(b)
}

fn same_activation_code(a: &str, b: &str) -> bool {
    match (
        TokenActivationCode::payload_from_input(a),
        TokenActivationCode::payload_from_input(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => same_text(a, b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::CATALOGUE;

    fn spec(json: &str) -> ScenarioSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn every_armable_error_is_in_the_catalogue_and_served_where_it_says() {
        for entry in ARMABLE {
            assert!(CATALOGUE.contains(&entry.error), "{}", entry.error.id);
            let served = service_messages(entry.service).unwrap();
            for message in entry.message_types {
                assert!(served.contains(message), "{} on {message}", entry.error.id);
            }
            assert!(entry.error.id.starts_with(entry.service));
        }
    }

    #[test]
    fn validation_names_what_is_wrong() {
        let ok = spec(r#"{"error": "ftm.mobile.code-invalid", "times": 1}"#);
        assert_eq!(
            ok.validate("ftm"),
            Ok(ScenarioAction::Error(
                armable("ftm.mobile.code-invalid").unwrap()
            ))
        );
        let elsewhere = ok.validate("forticare").unwrap_err();
        assert!(elsewhere.contains("ftm service"), "{elsewhere}");
        assert!(ok.validate("phone").unwrap_err().contains("simulator"));
        let unknown = spec(r#"{"error": "nope"}"#)
            .validate("forticare")
            .unwrap_err();
        assert!(
            unknown.contains("forticare.import.code-invalid"),
            "{unknown}"
        );
        for bad in [
            r#"{}"#,
            r#"{"error": "push.relay.unregistered", "status": 500}"#,
            r#"{"status": 200}"#,
            r#"{"status": 503, "times": 0}"#,
            r#"{"status": 503, "probability": 0}"#,
            r#"{"status": 503, "probability": 1.5}"#,
            r#"{"delay_ms": 120001}"#,
            r#"{"status": 503, "match": {"message_type": "SoftToken.ProvisionRequest"}}"#,
        ] {
            assert!(spec(bad).validate("push").is_err(), "{bad}");
        }
        assert_eq!(
            spec(r#"{"delay_ms": 250}"#).validate("push"),
            Ok(ScenarioAction::Delay)
        );
        assert_eq!(
            spec(r#"{"status": 503}"#).validate("forticare"),
            Ok(ScenarioAction::Status(503))
        );
        let wrong_type = spec(
            r#"{"error": "ftm.mobile.code-invalid", "match": {"message_type": "SoftToken.PollingRequest"}}"#,
        );
        assert!(wrong_type.validate("ftm").is_err());
        let bad_code =
            spec(r#"{"error": "ftm.mobile.code-invalid", "match": {"activation_code": "x"}}"#);
        assert!(bad_code.validate("ftm").is_err());
        assert!(serde_json::from_str::<ScenarioSpec>(r#"{"eror": "x"}"#).is_err());
    }

    #[test]
    fn matching_ignores_case_dashes_and_code_form() {
        let when = ScenarioMatch {
            serial: Some("fgvm01tm00000001".into()),
            license_code: Some("1111-2222-3333-4444-5555".into()),
            ..ScenarioMatch::default()
        };
        let mut request = Trigger::new(ActivationLicenseRequest::TYPE);
        assert!(!when.matches(&request), "fields it lacks never match");
        request.serial = Some(" FGVM01TM00000001 ");
        request.license_code = Some("11112222333344445555");
        assert!(when.matches(&request));
        request.license_code = Some("11112222333344445556");
        assert!(!when.matches(&request));

        let code = TokenActivationCode::new(0x10, [1, 2, 3, 4, 5, 6, 7, 8]);
        let when = ScenarioMatch {
            activation_code: Some(code.to_base32().to_lowercase()),
            ..ScenarioMatch::default()
        };
        let hex = code.wire_hex();
        let mut request = Trigger::new(MobileProvisionRequest::TYPE);
        request.activation_code = Some(&hex);
        assert!(when.matches(&request));

        let when = ScenarioMatch {
            token: Some("ftkmob0000000002".into()),
            ..ScenarioMatch::default()
        };
        let mut request = Trigger::new(ProvisionRequest::TYPE);
        request.tokens = vec!["FTKMOB0000000001", "FTKMOB0000000002"];
        assert!(when.matches(&request));
        assert!(when.selects_token("FTKMOB0000000002"));
        assert!(!when.selects_token("FTKMOB0000000001"));
        assert!(ScenarioMatch::default().selects_token("FTKMOB0000000001"));
        assert!(ScenarioMatch::default().matches(&request));
    }

    #[test]
    fn views_round_trip_with_match_spelled_match() {
        let view = ScenarioView {
            id: "s1".into(),
            spec: spec(r#"{"status": 503, "match": {"serial": "FGT60FTK20000099"}, "times": 2}"#),
            fired: 1,
            remaining: Some(1),
            state: "armed".into(),
            armed_at: UnixTime::from_secs(1_700_000_000),
        };
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["match"]["serial"], "FGT60FTK20000099");
        assert_eq!(json["status"], 503);
        let back: ScenarioView = serde_json::from_value(json).unwrap();
        assert_eq!(back, view);
    }
}
