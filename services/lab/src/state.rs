//! State snapshots of one service (`GET` and `PUT /__admin/state`): every tree of its database as readable
//! JSON records (`protocol::state`), with the scenarios armed. A service's store implements [`Snapshot`];
//! its routes call [`export`] and [`import`] (and do what the service needs after an import, such as
//! starting listeners).
//!
//! An import checks everything first (the format, the service, the sealing key, every record decoded by
//! the store, every scenario) and changes nothing when something is wrong; then it replaces the store's
//! records (emptied as in a reset, then written in one transaction), flushes, and arms the scenarios.
//! Requests that arrive during an import may see the store half-replaced: import while the lab is quiet.

use std::ops::ControlFlow;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use protocol::crypto::{SealKey, seal};
use protocol::state::{STATE_FORMAT, ServiceState, StateImported, StateRecord};

use crate::admin::{ControlPlane, error, internal};
use crate::store::{Abort, clear_trees, committed, flush};

/// Largest state `PUT /__admin/state` reads.
pub const MAX_STATE_BYTES: usize = 256 * 1024 * 1024;

/// A store whose records can be exported and imported.
pub trait Snapshot {
    fn db(&self) -> &sled::Db;
    /// Every tree, by the name a snapshot shows.
    fn trees(&self) -> Vec<(&'static str, sled::Tree)>;
    /// The fingerprint of the key the store seals secrets with ([`key_id`]); `None` if it seals nothing.
    fn key_id(&self) -> Option<String> {
        None
    }
    /// Whether `value` under `key` is a record the store can read in tree `tree`.
    fn check(&self, tree: &str, key: &[u8], value: &[u8]) -> anyhow::Result<()>;
    /// Whether the records, each readable, hold together (every reference points at a record that is there).
    fn check_whole(&self, _incoming: &Incoming) -> anyhow::Result<()> {
        Ok(())
    }
}

/// One stored record: its key and value bytes.
pub type Record = (Vec<u8>, Vec<u8>);

/// The records of a state being imported, by tree, once each is known to be readable.
pub struct Incoming {
    trees: Vec<(&'static str, Vec<Record>)>,
}

/// Why a state was not imported.
#[derive(Debug)]
pub enum StateError {
    /// The state is refused: the status, a stable id and a sentence naming the problem.
    Refused {
        status: StatusCode,
        id: &'static str,
        message: String,
    },
    /// The service failed (its storage).
    Internal(anyhow::Error),
}

impl StateError {
    fn bad(id: &'static str, message: String) -> StateError {
        StateError::Refused {
            status: StatusCode::BAD_REQUEST,
            id,
            message,
        }
    }

    /// The answer to send.
    pub fn response(&self) -> HttpResponse {
        match self {
            StateError::Refused {
                status,
                id,
                message,
            } => error(*status, id, message.clone()),
            StateError::Internal(e) => internal(e),
        }
    }
}

impl Incoming {
    /// The records of `tree`, in the state's order.
    pub fn records(&self, tree: &str) -> &[Record] {
        self.trees
            .iter()
            .find(|(name, _)| *name == tree)
            .map_or(&[], |(_, records)| records.as_slice())
    }

    /// The keys of `tree`.
    pub fn keys(&self, tree: &str) -> std::collections::HashSet<&[u8]> {
        self.records(tree)
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

fn control(request: &HttpRequest) -> Option<&web::Data<ControlPlane>> {
    request.app_data::<web::Data<ControlPlane>>()
}

/// `GET /__admin/state`.
pub fn export(request: &HttpRequest, store: &impl Snapshot) -> HttpResponse {
    let Some(control) = control(request) else {
        return internal(&anyhow::anyhow!("state outside a lab service"));
    };
    let mut trees = std::collections::BTreeMap::new();
    for (name, tree) in store.trees() {
        let records: Result<Vec<StateRecord>, sled::Error> = tree
            .iter()
            .map(|item| item.map(|(key, value)| StateRecord::from_bytes(&key, &value)))
            .collect();
        match records {
            Ok(records) => {
                trees.insert(name.to_owned(), records);
            }
            Err(e) => return internal(&anyhow::Error::new(e).context("reading the store")),
        }
    }
    HttpResponse::Ok().json(ServiceState {
        format: STATE_FORMAT.to_owned(),
        service: control.service.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        exported: control.clock.now(),
        key_id: store.key_id(),
        trees,
        scenarios: control.scenarios.armed_specs(),
    })
}

/// `PUT /__admin/state`: checks `state` whole, then replaces the store's records and the scenarios with it
/// (with `?dry_run=true`, only checks it). The error is the response to send.
pub async fn import(
    request: &HttpRequest,
    store: &impl Snapshot,
    state: ServiceState,
) -> Result<StateImported, StateError> {
    let prepared = prepare(request, store, state)?;
    if dry_run(request) {
        return Ok(prepared.checked());
    }
    prepared.apply(store).await
}

/// The `/__admin/state` resource of a service: `GET` answered by `export_handler`, `PUT` by
/// `import_handler`, whose JSON body may be up to [`MAX_STATE_BYTES`].
pub fn resource<E, EArgs, I, IArgs>(export_handler: E, import_handler: I) -> actix_web::Resource
where
    E: actix_web::Handler<EArgs>,
    EArgs: actix_web::FromRequest + 'static,
    E::Output: actix_web::Responder + 'static,
    I: actix_web::Handler<IArgs>,
    IArgs: actix_web::FromRequest + 'static,
    I::Output: actix_web::Responder + 'static,
{
    web::resource("/__admin/state")
        .app_data(crate::admin::json_config_with_limit(MAX_STATE_BYTES))
        .route(web::get().to(export_handler))
        .route(web::put().to(import_handler))
}

/// The start of a `PUT /__admin/state` handler that does more than [`import`]: the state checked and ready
/// to apply, or the answer already (a refusal, or a dry run's verdict).
pub fn begin_import(
    request: &HttpRequest,
    store: &impl Snapshot,
    state: ServiceState,
) -> ControlFlow<HttpResponse, Prepared> {
    match prepare(request, store, state) {
        Err(refusal) => ControlFlow::Break(refusal.response()),
        Ok(prepared) if dry_run(request) => {
            ControlFlow::Break(HttpResponse::Ok().json(prepared.checked()))
        }
        Ok(prepared) => ControlFlow::Continue(prepared),
    }
}

/// Whether `PUT /__admin/state` was asked only to check the state (`?dry_run=true`).
pub fn dry_run(request: &HttpRequest) -> bool {
    request
        .query_string()
        .split('&')
        .any(|pair| pair == "dry_run=true" || pair == "dry_run=1")
}

/// A state checked whole and ready to replace the store's ([`prepare`]); nothing has changed yet.
pub struct Prepared {
    control: web::Data<ControlPlane>,
    incoming: Incoming,
    scenarios: Vec<protocol::scenario::ScenarioSpec>,
    records: u64,
}

/// Checks `state` whole against the service serving `request` and its `store`, changing nothing. The
/// error is the response to send.
pub fn prepare(
    request: &HttpRequest,
    store: &impl Snapshot,
    state: ServiceState,
) -> Result<Prepared, StateError> {
    let Some(control) = control(request).cloned() else {
        return Err(StateError::Internal(anyhow::anyhow!(
            "state outside a lab service"
        )));
    };
    if state.format != STATE_FORMAT {
        return Err(StateError::bad(
            "admin.state.format",
            format!("`format` is `{}`, not `{STATE_FORMAT}`", state.format),
        ));
    }
    if state.service != control.service {
        return Err(StateError::bad(
            "admin.state.service",
            format!(
                "this is the {} service's state; the {} service takes its own",
                state.service, control.service
            ),
        ));
    }
    let has_records = state.trees.values().any(|records| !records.is_empty());
    if has_records && state.key_id != store.key_id() {
        return Err(StateError::Refused {
            status: StatusCode::CONFLICT,
            id: "admin.state.key",
            message: format!(
                "this state's secrets are sealed with another data dir's key ({}; this service's is {}): \
                 import it into the data dir it came from, or start this one with that data dir's key file",
                state.key_id.as_deref().unwrap_or("none"),
                store.key_id().as_deref().unwrap_or("none")
            ),
        });
    }
    let trees = store.trees();
    let mut writes: Vec<Vec<Record>> = vec![Vec::new(); trees.len()];
    for (name, records) in &state.trees {
        let Some(at) = trees.iter().position(|(tree, _)| tree == name) else {
            let known: Vec<&str> = trees.iter().map(|(tree, _)| *tree).collect();
            return Err(StateError::bad(
                "admin.state.tree",
                format!(
                    "the {} service has no tree `{name}`; it has {}",
                    control.service,
                    known.join(", ")
                ),
            ));
        };
        for (i, record) in records.iter().enumerate() {
            let (key, value) = record.to_bytes().map_err(|e| {
                StateError::bad("admin.state.record", format!("trees.{name}[{i}]: {e}"))
            })?;
            store.check(name, &key, &value).map_err(|e| {
                StateError::bad("admin.state.record", format!("trees.{name}[{i}]: {e:#}"))
            })?;
            writes[at].push((key, value));
        }
    }
    let incoming = Incoming {
        trees: trees.iter().map(|(name, _)| *name).zip(writes).collect(),
    };
    store
        .check_whole(&incoming)
        .map_err(|e| StateError::bad("admin.state.record", format!("{e:#}")))?;
    if state.scenarios.len() > protocol::scenario::MAX_SCENARIOS {
        return Err(StateError::bad(
            "admin.state.scenario",
            format!("more than {} scenarios", protocol::scenario::MAX_SCENARIOS),
        ));
    }
    for (i, spec) in state.scenarios.iter().enumerate() {
        spec.validate(control.service)
            .map_err(|e| StateError::bad("admin.state.scenario", format!("scenarios[{i}]: {e}")))?;
    }
    let records = state.trees.values().map(Vec::len).sum::<usize>() as u64;
    Ok(Prepared {
        control,
        incoming,
        scenarios: state.scenarios,
        records,
    })
}

impl Prepared {
    /// What an import would do, for a dry run: nothing replaced yet.
    pub fn checked(&self) -> StateImported {
        StateImported {
            service: self.control.service.to_owned(),
            records: self.records,
            replaced: 0,
            scenarios: self.scenarios.len() as u64,
        }
    }

    /// Replaces the store's records (flushed) and the service's scenarios.
    pub async fn apply(self, store: &impl Snapshot) -> Result<StateImported, StateError> {
        let control = self.control;
        let replaced = replace(store, self.incoming)
            .await
            .map_err(StateError::Internal)?;
        let scenarios = control
            .scenarios
            .replace(&self.scenarios, control.clock.now())
            .map_err(|e| StateError::bad("admin.state.scenario", e))?;
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

/// Empties the trees, writes the new records in one transaction, and flushes.
async fn replace(store: &impl Snapshot, incoming: Incoming) -> anyhow::Result<u64> {
    let trees: Vec<sled::Tree> = store.trees().into_iter().map(|(_, tree)| tree).collect();
    let writes: Vec<Vec<Record>> = incoming
        .trees
        .into_iter()
        .map(|(_, records)| records)
        .collect();
    let replaced = tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
        use sled::Transactional;
        let replaced = clear_trees(&trees)?;
        let result = trees.transaction(|views| {
            for (view, records) in views.iter().zip(&writes) {
                for (key, value) in records {
                    view.insert(key.as_slice(), value.as_slice())?;
                }
            }
            Ok::<(), Abort>(())
        });
        committed(result, "writing the imported state")?;
        Ok(replaced)
    })
    .await
    .context("the import task failed")??;
    flush(store.db()).await?;
    Ok(replaced)
}
