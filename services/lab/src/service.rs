//! What a fortimock service is to the lab: the one trait a service implements so that `lab::server`
//! serves it with the whole control plane. The service gives its store, its routes and its admin routes,
//! how to check a record of a state being imported, and what a reset and an import do besides replacing
//! records; `lab` serves `/__admin/state` and `/__admin/reset` for every service from that.

use protocol::state::StateImported;

use crate::admin::ControlPlane;
use crate::api::Api;
use crate::http::ApiError;
use crate::state::{Incoming, Prepared};
use crate::store::{Store, Table};

/// What a reset did to a service's store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reset {
    /// Records removed.
    pub removed: u64,
    /// Fixture records created again.
    pub fixtures: u64,
}

/// A fortimock service, as `lab::server::start` serves it.
///
/// Handlers get the service with `web::Data<Self>`; the lab registers it.
#[allow(async_fn_in_trait)]
pub trait Service: Sized + Send + Sync + 'static {
    /// The service's name: its `--ready-file` key, its data-dir subfolder and its log tag.
    const NAME: &'static str;

    /// The service's store.
    fn store(&self) -> &Store;

    /// The SoftToken `__type`s the service serves: what the coverage report lists as never seen.
    const MESSAGE_TYPES: &'static [&'static str] = &[];

    /// What the service is, one paragraph: its OpenAPI document's description.
    const DESCRIPTION: &'static str = "A fortimock service.";

    /// Bearer-token security schemes the service's own operations name in their `security(...)`, besides
    /// the admin token's (`lab::api::ADMIN_TOKEN_SCHEME`): `(name, description)`.
    const BEARER_SCHEMES: &'static [(&'static str, &'static str)] = &[];

    /// The service's own routes (appliances' and phones' endpoints, the simulators' APIs), each a handler
    /// with its `#[utoipa::path]` documentation (see `lab::api`).
    fn routes(api: &mut Api<'_>);

    /// The service's admin routes, mounted in the guarded `/__admin` scope (their paths are the full
    /// `protocol::paths::ADMIN_*` constants).
    fn admin_routes(_api: &mut Api<'_>) {}

    /// Routes the service serves on listeners it opens itself (an appliance's ftm-push listeners), so its
    /// document covers them too.
    fn listener_routes(_api: &mut Api<'_>) {}

    /// The fingerprint of the key the store seals secrets with (`lab::state::key_id`); `None` if it
    /// seals nothing.
    fn key_id(&self) -> Option<String> {
        None
    }

    /// Whether `value` under `key` is a record the store can read in `table` (a state import).
    fn check_record(&self, table: Table, key: &[u8], value: &[u8]) -> anyhow::Result<()>;

    /// Whether the records of a state, each readable, hold together (every reference points at a record
    /// that is there).
    fn check_state(&self, _incoming: &Incoming) -> anyhow::Result<()> {
        Ok(())
    }

    /// What the service keeps beside its store brought in line after the store's records were replaced by
    /// the default [`Service::reset`] or [`Service::import`] (an index rebuilt, waiters woken), before
    /// either answers.
    async fn records_replaced(&self) -> Result<(), ApiError> {
        Ok(())
    }

    /// Empties the service's store and brings back its fixtures, as one change where it can: what
    /// `POST /__admin/reset` does besides clearing scenarios and the journal.
    async fn reset(&self) -> Result<Reset, ApiError> {
        let removed = self.store().clear().await?;
        self.records_replaced().await?;
        Ok(Reset {
            removed,
            fixtures: 0,
        })
    }

    /// Replaces the service's records with a checked state (`PUT /__admin/state`). Services with side
    /// effects (listeners, registrations) wrap [`Prepared::apply`]; those that only keep something beside
    /// the store in line implement [`Service::records_replaced`].
    async fn import(
        &self,
        control: &ControlPlane,
        prepared: Prepared,
    ) -> Result<StateImported, ApiError> {
        let imported = prepared.apply(control, self.store()).await?;
        self.records_replaced().await?;
        Ok(imported)
    }
}
