//! The coverage recorder (`/__admin/coverage`): what the services of the process served, answered and
//! fired, counted in memory from the start, and the drift they saw (`protocol::coverage`). Resets and
//! state imports leave it alone: it covers a whole test run.
//!
//! It is fed where the work already happens: `server`'s middleware counts routes and the catalogue errors
//! an answer carries ([`mark_answered`]), `softtoken::read_inbound` counts message types and checks each
//! SoftToken body for drift (the unknown fields only once per distinct key set, so a polling appliance
//! costs a hash of its keys), `scenario::fire` counts scenarios, and store-change sites note state
//! transitions through `flow::transition`.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use actix_web::HttpResponse;
use actix_web::http::Method;
use protocol::catalogue::{CATALOGUE, CatalogueEntry, WireError};
use protocol::coverage::{CoverageItem, CoverageReport, CoverageSection, DriftItem, DriftKind};
use protocol::drift::{Shape, known_request};
use protocol::envelope::Inbound;
use protocol::scenario::ARMABLE;
use serde_json::Value;

/// The catalogue errors an answer carries, for the coverage report and the timeline.
#[derive(Clone, Debug, Default)]
pub struct AnsweredErrors(pub Vec<&'static CatalogueEntry>);

/// Notes that `response` answers with catalogue error `entry`.
pub fn mark_answered(response: &mut HttpResponse, entry: &'static CatalogueEntry) {
    let mut extensions = response.extensions_mut();
    match extensions.get_mut::<AnsweredErrors>() {
        Some(answered) => answered.0.push(entry),
        None => {
            extensions.insert(AnsweredErrors(vec![entry]));
        }
    }
}

/// [`mark_answered`], taking and giving the response.
pub fn answered(mut response: HttpResponse, entry: &'static CatalogueEntry) -> HttpResponse {
    mark_answered(&mut response, entry);
    response
}

/// The catalogue entries of the wire errors (`{"error_code": N, "error_message": "…"}`) in a SoftToken
/// answer. Only a body that spells `error_code` is parsed, so an answer without an error costs one scan.
pub fn wire_errors_in(body: &[u8]) -> Vec<&'static CatalogueEntry> {
    static NEEDLE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"error_code\""));
    if NEEDLE.find(body).is_none() {
        return Vec::new();
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    collect_wire_errors(&value, &mut found);
    found
}

fn collect_wire_errors(value: &Value, found: &mut Vec<&'static CatalogueEntry>) {
    match value {
        Value::Object(map) => {
            if map.contains_key("error_code")
                && let Ok(error) = serde_json::from_value::<WireError>(value.clone())
            {
                if let Some(entry) = CATALOGUE.iter().copied().find(|e| e.matches(&error)) {
                    found.push(entry);
                }
                return;
            }
            map.values().for_each(|v| collect_wire_errors(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_wire_errors(v, found)),
        _ => {}
    }
}

/// The process's coverage counts.
#[derive(Default)]
pub struct Coverage {
    counts: Mutex<Counts>,
}

/// What the report counts.
///
/// Hashed with foldhash: every exchange counts its route and every SoftToken body its message type here,
/// and SipHash was about 1% of a one-token poll's instructions.
#[derive(Default)]
struct Counts {
    /// The services recorded, with what each serves: message types and routes.
    services: BTreeMap<&'static str, Known>,
    errors: foldhash::HashMap<&'static str, u64>,
    /// By service, then message type.
    message_types: foldhash::HashMap<&'static str, foldhash::HashMap<String, u64>>,
    /// By service and method, then route pattern.
    routes: foldhash::HashMap<(&'static str, Method), foldhash::HashMap<String, u64>>,
    scenarios: foldhash::HashMap<(&'static str, String), u64>,
    transitions: foldhash::HashMap<(String, String, String), u64>,
    drift: foldhash::HashMap<(&'static str, DriftKind, String, String), u64>,
    /// Key sets already checked for unknown fields, with what was found.
    key_sets: foldhash::HashMap<u64, Vec<String>>,
}

#[derive(Default)]
struct Known {
    message_types: BTreeSet<&'static str>,
    routes: BTreeSet<String>,
    /// Where the rest of `routes` comes from, read when the first report is made.
    routes_of: Vec<RouteList>,
}

/// A function that lists a service's routes (`METHOD /path`).
type RouteList = fn() -> Vec<String>;

impl Coverage {
    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers `service` with the message types and the routes (`METHOD /path`) it serves, as `routes`
    /// lists them when the first report is made.
    ///
    /// Listing a service's routes builds its whole route table once more (a pattern compiled per route
    /// with a parameter): a start would pay that for every service, and most runs never ask for a report.
    pub fn register(
        &self,
        service: &'static str,
        message_types: &[&'static str],
        routes: RouteList,
    ) {
        let mut counts = self.counts();
        let known = counts.services.entry(service).or_default();
        known.message_types.extend(message_types.iter().copied());
        known.routes_of.push(routes);
    }

    /// Lists the routes registered services have not listed yet, outside the lock: requests keep being
    /// counted meanwhile.
    fn list_routes(&self) {
        let pending: Vec<(&'static str, Vec<RouteList>)> = self
            .counts()
            .services
            .iter_mut()
            .filter(|(_, known)| !known.routes_of.is_empty())
            .map(|(service, known)| (*service, std::mem::take(&mut known.routes_of)))
            .collect();
        if pending.is_empty() {
            return;
        }
        let listed: Vec<(&'static str, Vec<String>)> = pending
            .into_iter()
            .map(|(service, lists)| (service, lists.into_iter().flat_map(|list| list()).collect()))
            .collect();
        let mut counts = self.counts();
        for (service, routes) in listed {
            counts
                .services
                .entry(service)
                .or_default()
                .routes
                .extend(routes);
        }
    }

    /// An exchange `service` answered: the route it took and the catalogue errors its answer carried.
    pub fn exchange(
        &self,
        service: &'static str,
        method: &Method,
        pattern: Option<Cow<'_, str>>,
        errors: &[&'static CatalogueEntry],
    ) {
        let mut counts = self.counts();
        if let Some(pattern) = pattern {
            let patterns = counts.routes.entry((service, method.clone())).or_default();
            // A pattern's name is copied once, the first time it is reached.
            match patterns.get_mut(&*pattern) {
                Some(count) => *count += 1,
                None => {
                    patterns.insert(pattern.into_owned(), 1);
                }
            }
        }
        for entry in errors {
            *counts.errors.entry(entry.id).or_default() += 1;
        }
    }

    /// A SoftToken body `service` received: its message type, and any drift (an unknown `__type` or
    /// `__version`; unknown fields, looked for once per distinct key set).
    pub fn message(&self, service: &'static str, inbound: &Inbound) {
        let type_name = inbound.type_name();
        let Some(known) = known_request(type_name) else {
            let mut counts = self.counts();
            *counts
                .drift
                .entry((
                    service,
                    DriftKind::UnknownType,
                    type_name.to_owned(),
                    type_name.to_owned(),
                ))
                .or_default() += 1;
            return;
        };
        let shape = inbound.shape();
        let Shape {
            key_set: keys,
            ref version,
        } = *shape;
        let mut counts = self.counts();
        let types = counts.message_types.entry(service).or_default();
        // Counted under the name already there: a name is copied once, the first time it is seen.
        match types.get_mut(type_name) {
            Some(count) => *count += 1,
            None => {
                types.insert(type_name.to_owned(), 1);
            }
        }
        if let Some(version) = version
            && !known.knows_version(version)
        {
            *counts
                .drift
                .entry((
                    service,
                    DriftKind::UnknownVersion,
                    type_name.to_owned(),
                    version.clone(),
                ))
                .or_default() += 1;
        }
        let unknown = match counts.key_sets.get(&keys) {
            Some(unknown) => unknown.clone(),
            None => {
                // A key set not seen before: decode and compare once (outside the lock), then remember.
                drop(counts);
                let unknown = (known.unknown_fields)(&inbound.fields());
                counts = self.counts();
                counts.key_sets.insert(keys, unknown.clone());
                unknown
            }
        };
        for field in unknown {
            *counts
                .drift
                .entry((
                    service,
                    DriftKind::UnknownField,
                    type_name.to_owned(),
                    field,
                ))
                .or_default() += 1;
        }
    }

    /// A scenario `service` fired: the catalogue id it answers with, or `status` / `delay`.
    pub fn scenario(&self, service: &'static str, answer: &str) {
        *self
            .counts()
            .scenarios
            .entry((service, answer.to_owned()))
            .or_default() += 1;
    }

    /// A state transition of `machine`.
    pub fn transition(&self, machine: &str, from: &str, to: &str) {
        *self
            .counts()
            .transitions
            .entry((machine.to_owned(), from.to_owned(), to.to_owned()))
            .or_default() += 1;
    }

    /// The report: what was reached, and what was not among what the registered services know.
    pub fn report(&self) -> CoverageReport {
        self.list_routes();
        let counts = self.counts();
        let services: Vec<&'static str> = counts.services.keys().copied().collect();
        let serves = |id: &str| {
            let owner = id.split('.').next().unwrap_or_default();
            services.contains(&owner)
        };
        let catalogue = CATALOGUE
            .iter()
            .filter(|e| serves(e.id) || counts.errors.contains_key(e.id))
            .map(|e| CoverageItem {
                service: e.id.split('.').next().unwrap_or_default().to_owned(),
                name: e.id.to_owned(),
                count: counts.errors.get(e.id).copied().unwrap_or_default(),
            })
            .collect();
        let mut message_types: HashMap<(String, String), u64> = HashMap::new();
        let mut routes: HashMap<(String, String), u64> = HashMap::new();
        for (service, known) in &counts.services {
            for name in &known.message_types {
                message_types.insert(((*service).to_owned(), (*name).to_owned()), 0);
            }
            for route in &known.routes {
                routes.insert(((*service).to_owned(), route.clone()), 0);
            }
        }
        for (service, types) in &counts.message_types {
            for (name, count) in types {
                *message_types
                    .entry(((*service).to_owned(), name.clone()))
                    .or_default() += count;
            }
        }
        for ((service, method), patterns) in &counts.routes {
            for (pattern, count) in patterns {
                *routes
                    .entry(((*service).to_owned(), format!("{method} {pattern}")))
                    .or_default() += count;
            }
        }
        let mut scenarios: HashMap<(String, String), u64> = ARMABLE
            .iter()
            .filter(|a| services.contains(&a.service))
            .map(|a| ((a.service.to_owned(), a.error.id.to_owned()), 0))
            .collect();
        for ((service, name), count) in &counts.scenarios {
            *scenarios
                .entry(((*service).to_owned(), name.clone()))
                .or_default() += count;
        }
        let items = |map: HashMap<(String, String), u64>| {
            CoverageSection::of(
                map.into_iter()
                    .map(|((service, name), count)| CoverageItem {
                        service,
                        name,
                        count,
                    })
                    .collect(),
            )
        };
        let transitions = CoverageSection::of(
            counts
                .transitions
                .iter()
                .map(|((machine, from, to), count)| CoverageItem {
                    service: machine.clone(),
                    name: format!("{from} -> {to}"),
                    count: *count,
                })
                .collect(),
        );
        let mut drift: Vec<DriftItem> = counts
            .drift
            .iter()
            .map(|((service, kind, message_type, value), count)| DriftItem {
                service: (*service).to_owned(),
                kind: *kind,
                message_type: message_type.clone(),
                value: value.clone(),
                count: *count,
            })
            .collect();
        drift.sort_by(|a, b| {
            (&a.service, a.kind, &a.message_type, &a.value).cmp(&(
                &b.service,
                b.kind,
                &b.message_type,
                &b.value,
            ))
        });
        CoverageReport {
            services: services.iter().map(|s| (*s).to_owned()).collect(),
            catalogue: CoverageSection::of(catalogue),
            message_types: items(message_types),
            routes: items(routes),
            scenarios: items(scenarios),
            transitions,
            drift,
        }
    }

    /// Ids of catalogue errors answered at least once (for tests).
    pub fn errors_answered(&self) -> HashSet<&'static str> {
        self.counts().errors.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::catalogue::LICENSE_CODE_INVALID;

    /// A received message of `type_name` whose `d` (without `__type`) is `fields`.
    fn inbound(type_name: &str, fields: &str) -> Inbound {
        let fields = fields.trim().trim_start_matches('{');
        let comma = if fields.trim_start().starts_with('}') {
            ""
        } else {
            ","
        };
        let body = format!(r#"{{"d":{{"__type":"{type_name}"{comma}{fields}}}"#);
        Inbound::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn wire_errors_are_found_in_answers() {
        let answer = br#"{"d":{"tokens":[{"error":{"error_code":16,"error_message":"forticare license activation code invalid"}}],"error":null}}"#;
        assert_eq!(wire_errors_in(answer), [&LICENSE_CODE_INVALID]);
        assert!(wire_errors_in(br#"{"d":{"error":null}}"#).is_empty());
    }

    #[test]
    fn the_report_lists_reached_and_missed() {
        let coverage = Coverage::default();
        coverage.register("forticare", &["SoftToken.ActivationLicenseRequest"], || {
            vec!["POST /SoftToken/Provisioning.asmx/Process".to_owned()]
        });
        coverage.exchange(
            "forticare",
            &Method::POST,
            Some("/SoftToken/Provisioning.asmx/Process".into()),
            &[&LICENSE_CODE_INVALID],
        );
        coverage.scenario("forticare", LICENSE_CODE_INVALID.id);
        coverage.transition("license", "Unregistered", "Registered");
        let polling =
            r#"{"__version": "9", "serial_number": "FGVM01TM00000001", "x_new": 1, "tokens": []}"#;
        coverage.message("forticare", &inbound("SoftToken.PollingRequest", polling));
        coverage.message("forticare", &inbound("SoftToken.PollingRequest", polling));
        coverage.message("forticare", &inbound("SoftToken.Unheard", "{}"));
        let report = coverage.report();
        assert_eq!(report.catalogue.count(LICENSE_CODE_INVALID.id), 1);
        assert!(
            report
                .catalogue
                .missed()
                .any(|i| i.name == "forticare.import.license-expired")
        );
        assert!(!report.catalogue.items.iter().any(|i| i.service == "ftm"));
        assert_eq!(report.routes.reached, 1);
        assert_eq!(report.scenarios.count(LICENSE_CODE_INVALID.id), 1);
        assert!(report.scenarios.missed().count() > 0);
        assert_eq!(report.transitions.count("Unregistered -> Registered"), 1);
        let drift: Vec<(DriftKind, &str, u64)> = report
            .drift
            .iter()
            .map(|d| (d.kind, d.value.as_str(), d.count))
            .collect();
        assert_eq!(
            drift,
            [
                (DriftKind::UnknownType, "SoftToken.Unheard", 1),
                (DriftKind::UnknownVersion, "9", 2),
                (DriftKind::UnknownField, "x_new", 2),
            ]
        );
    }
}
