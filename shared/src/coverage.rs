//! The coverage report (`/__admin/coverage`): what a test run reached of the lab (catalogue errors answered,
//! message types and routes served, scenarios fired, state transitions) and what it did not, and every
//! request shape the services did not know (version drift from real appliances). fortimock's own API:
//! fields may be added, never renamed.
//!
//! A section lists what was reached with its count and, where fortimock knows the whole list (the
//! catalogue, the armable scenarios, each service's message types and routes), what was not, with count 0.

use serde::{Deserialize, Serialize};

/// One thing a run reached (or, with `count` 0, did not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CoverageItem {
    /// The service it belongs to (for a state transition, the state machine: `token`, `license`, `escrow`).
    pub service: String,
    /// The catalogue id, message type, `METHOD /path/{template}`, scenario (the catalogue id it answers, or
    /// `status` / `delay`), or `from -> to`.
    pub name: String,
    pub count: u64,
}

/// One part of the report.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CoverageSection {
    /// How many items were reached at least once.
    pub reached: u64,
    /// How many items fortimock knows of (reached ones included); for transitions, the reached ones.
    pub known: u64,
    /// Reached items first (most often first), then the ones never reached.
    pub items: Vec<CoverageItem>,
}

impl CoverageSection {
    /// A section of `items`, sorted: reached first, most often first, then by service and name.
    pub fn of(mut items: Vec<CoverageItem>) -> CoverageSection {
        items.sort_by(|a, b| {
            (b.count.min(1), b.count, &a.service, &a.name).cmp(&(
                a.count.min(1),
                a.count,
                &b.service,
                &b.name,
            ))
        });
        CoverageSection {
            reached: items.iter().filter(|i| i.count > 0).count() as u64,
            known: items.len() as u64,
            items,
        }
    }

    /// The items never reached.
    pub fn missed(&self) -> impl Iterator<Item = &CoverageItem> {
        self.items.iter().filter(|i| i.count == 0)
    }

    /// The count of `name` (of any service), 0 when never reached or unknown.
    pub fn count(&self, name: &str) -> u64 {
        self.items
            .iter()
            .filter(|i| i.name == name)
            .map(|i| i.count)
            .sum()
    }
}

/// What kind of unknown a request carried.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// A `__type` the service does not serve.
    UnknownType,
    /// A `__version` fortimock has not seen from a real appliance or app.
    UnknownVersion,
    /// A field the message type does not have (`tokens[].x_new` for one inside an array).
    UnknownField,
}

/// One unknown a service saw in the requests it received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DriftItem {
    pub service: String,
    pub kind: DriftKind,
    /// The message's `__type`.
    pub message_type: String,
    /// The unknown itself: the `__type`, the `__version` value, or the field's path.
    pub value: String,
    /// Requests that carried it.
    pub count: u64,
}

/// `GET /__admin/coverage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CoverageReport {
    /// The services it covers (every service of `fortimock up`; a standalone binary, itself).
    pub services: Vec<String>,
    /// Catalogue errors answered, by catalogue id (the service is the id's first part).
    pub catalogue: CoverageSection,
    /// SoftToken `__type`s served, per service.
    pub message_types: CoverageSection,
    /// Routes served, as `METHOD /path/{template}`, per service (the control plane left out).
    pub routes: CoverageSection,
    /// Armable scenarios fired, by the catalogue id they answer (`status` and `delay` for the others).
    pub scenarios: CoverageSection,
    /// State transitions, per state machine, as `from -> to`.
    pub transitions: CoverageSection,
    /// Unknown `__type`s, `__version`s and fields the services received.
    pub drift: Vec<DriftItem>,
}
