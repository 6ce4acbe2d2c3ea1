//! State snapshots of one service (`GET` and `PUT /__admin/state`): every table of its store as readable
//! JSON records (`protocol::state`), with the scenarios armed. The tables come from the store's schema;
//! what a record must look like is the service's business ([`Service::check_record`],
//! [`Service::check_state`]).
//!
//! An import is checked whole first (the format, the service, the sealing key, every record decoded the
//! way the store reads it, the references between records, every scenario) and changes nothing when
//! something is wrong. Then the store's records are replaced in one transaction (emptied and written,
//! durable before the answer, all or nothing even across a crash), and the scenarios armed.
//!
//! [`Service::check_record`]: crate::service::Service::check_record
//! [`Service::check_state`]: crate::service::Service::check_state

use std::collections::{BTreeMap, HashSet};

use actix_web::http::StatusCode;
use protocol::crypto::{SealKey, seal};
use protocol::scenario::ScenarioSpec;
use protocol::state::{STATE_FORMAT, ServiceState, StateImported, StateRecord};

use crate::admin::ControlPlane;
use crate::http::ApiError;
use crate::service::Service;
use crate::store::{Entry, Reader, Store, StoreError, Table};

/// Largest state `PUT /__admin/state` reads.
pub const MAX_STATE_BYTES: usize = 1024 * 1024 * 1024;

/// The records of a state being imported, by table, once each is known to be readable.
pub struct Incoming {
    tables: Vec<(Table, Vec<Entry>)>,
}

impl Incoming {
    /// The records of the table named `table`, in the state's order.
    pub fn records(&self, table: Table) -> &[Entry] {
        self.tables
            .iter()
            .find(|(t, _)| *t == table)
            .map_or(&[], |(_, records)| records.as_slice())
    }

    /// The keys of `table`.
    pub fn keys(&self, table: Table) -> HashSet<&[u8]> {
        self.records(table)
            .iter()
            .map(|(k, _)| k.as_slice())
            .collect()
    }
}

/// A fingerprint of a sealing key that reveals nothing of it: the MAC of sealing a fixed text with it.
pub fn key_id(key: &SealKey) -> String {
    let sealed = seal(key, [0u8; 16], b"fortimock state key id");
    hex::encode(&sealed.mac[..8])
}

/// `GET /__admin/state`: every table, in one read transaction.
pub fn export(
    control: &ControlPlane,
    store: &Store,
    key_id: Option<String>,
) -> Result<ServiceState, StoreError> {
    let schema = store.schema();
    let trees = store.read(|r| {
        let mut trees = BTreeMap::new();
        for table in schema.tables {
            let records = r
                .all(*table)?
                .iter()
                .map(|(key, value)| StateRecord::from_bytes(key, value))
                .collect();
            trees.insert(table.name().to_owned(), records);
        }
        Ok(trees)
    })?;
    Ok(ServiceState {
        format: STATE_FORMAT.to_owned(),
        service: control.service.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        exported: control.clock.now(),
        key_id,
        trees,
        scenarios: control.scenarios.armed_specs(),
    })
}

/// A state checked whole and ready to replace the store's ([`prepare`]); nothing has changed yet.
pub struct Prepared {
    incoming: Incoming,
    scenarios: Vec<ScenarioSpec>,
    records: u64,
}

/// Checks `state` whole against `service`, changing nothing.
pub fn prepare<S: Service>(
    control: &ControlPlane,
    service: &S,
    state: ServiceState,
) -> Result<Prepared, ApiError> {
    let bad = |id: &'static str, message: String| ApiError::bad_request(id, message);
    if state.format != STATE_FORMAT {
        return Err(bad(
            "admin.state.format",
            format!("`format` is `{}`, not `{STATE_FORMAT}`", state.format),
        ));
    }
    if state.service != control.service {
        return Err(bad(
            "admin.state.service",
            format!(
                "this is the {} service's state; the {} service takes its own",
                state.service, control.service
            ),
        ));
    }
    let has_records = state.trees.values().any(|records| !records.is_empty());
    let key_id = service.key_id();
    if has_records && state.key_id != key_id {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "admin.state.key",
            format!(
                "this state's secrets are sealed with another data dir's key ({}; this service's is {}): \
                 import it into the data dir it came from, or start this one with that data dir's key file",
                state.key_id.as_deref().unwrap_or("none"),
                key_id.as_deref().unwrap_or("none")
            ),
        ));
    }
    let schema = service.store().schema();
    let mut tables: Vec<(Table, Vec<Entry>)> =
        schema.tables.iter().map(|t| (*t, Vec::new())).collect();
    for (name, records) in state.trees {
        let Some(at) = tables.iter().position(|(table, _)| table.name() == name) else {
            let known: Vec<&str> = schema.tables.iter().map(|t| t.name()).collect();
            return Err(bad(
                "admin.state.tree",
                format!(
                    "the {} service has no tree `{name}`; it has {}",
                    control.service,
                    known.join(", ")
                ),
            ));
        };
        let table = tables[at].0;
        tables[at].1.reserve(records.len());
        for (i, record) in records.into_iter().enumerate() {
            let (key, value) = record
                .into_bytes()
                .map_err(|e| bad("admin.state.record", format!("trees.{name}[{i}]: {e}")))?;
            service
                .check_record(table, &key, &value)
                .map_err(|e| bad("admin.state.record", format!("trees.{name}[{i}]: {e:#}")))?;
            tables[at].1.push((key, value));
        }
    }
    let incoming = Incoming { tables };
    service
        .check_state(&incoming)
        .map_err(|e| bad("admin.state.record", format!("{e:#}")))?;
    if state.scenarios.len() > protocol::scenario::MAX_SCENARIOS {
        return Err(bad(
            "admin.state.scenario",
            format!("more than {} scenarios", protocol::scenario::MAX_SCENARIOS),
        ));
    }
    for (i, spec) in state.scenarios.iter().enumerate() {
        spec.validate(control.service)
            .map_err(|e| bad("admin.state.scenario", format!("scenarios[{i}]: {e}")))?;
    }
    let records = incoming.tables.iter().map(|(_, r)| r.len() as u64).sum();
    Ok(Prepared {
        incoming,
        scenarios: state.scenarios,
        records,
    })
}

impl Prepared {
    /// What an import would do, for a dry run: nothing replaced yet.
    pub fn checked(&self, service: &str) -> StateImported {
        StateImported {
            service: service.to_owned(),
            records: self.records,
            replaced: 0,
            scenarios: self.scenarios.len() as u64,
        }
    }

    /// Replaces the store's records in one durable transaction, then the service's scenarios.
    pub async fn apply(
        self,
        control: &ControlPlane,
        store: &Store,
    ) -> Result<StateImported, ApiError> {
        let schema = store.schema();
        let incoming = self.incoming;
        let replaced = store
            .write(move |tx| {
                let replaced = tx.clear_all(schema)?;
                for (table, records) in incoming.tables {
                    tx.put_all(table, records);
                }
                Ok::<u64, StoreError>(replaced)
            })
            .await?;
        let scenarios = control
            .scenarios
            .replace(&self.scenarios, control.clock.now())
            .map_err(|e| ApiError::bad_request("admin.state.scenario", e))?;
        tracing::info!(
            service = control.service,
            records = self.records,
            replaced,
            scenarios,
            "state imported"
        );
        Ok(StateImported {
            service: control.service.to_owned(),
            records: self.records,
            replaced,
            scenarios: scenarios as u64,
        })
    }
}
