//! The virtual appliance's HTTP API: create appliances, then run FortiOS's FortiToken operations on them.
//! Every route is under `/appliances`; errors are [`ApplianceError`]s (`ErrorBody`, or `OperationFailure`
//! when the cloud refused). The appliances act for their admins and users (they hold seeds and mint
//! activation codes): with an admin token set, their whole API needs it.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use lab::api::Api;
use lab::clock::Clock;
use lab::http::{ApiError, Json, Query};
use lab::service::{Reset, Service};
use lab::state::Prepared;
use lab::store::{Store, Table};
use protocol::admin::ErrorBody;
use protocol::appliance::LoginOutcome;
use protocol::appliance::{
    ApplianceChange, ApplianceList, ApplianceMode, ApplianceSettings, ApplianceView, DebugLog,
    FtmPushChange, FtmPushSettings, ImportOutcome, ImportRequest, LoginRequest, LoginResult,
    NewAppliance, OperationFailure, PollOutcome, ProvisionOutcome, ProvisionTokenRequest,
    ServerCert, SettingsChange, SuiteSetting, UserView,
};
use protocol::id::ApplianceSerial;
use protocol::messages::MessagingSettings;
use protocol::paths;
use protocol::state::StateImported;
use rand::Rng;
use serde::Deserialize;

use crate::delivery::Outbox;
use crate::error::ApplianceError;
use crate::fortitoken::{Appliance, FtmPush, ServiceUrl};
use crate::ftm_push::{self, PushContext};
use crate::hardware_store::Profile;
use crate::messages::Mailbox;
use crate::operations::Ops;
use crate::store::Fleet;

/// What every handler shares.
pub(crate) struct Appliances {
    pub(crate) store: Fleet,
    pub(crate) clock: Clock,
    pub(crate) http: reqwest::Client,
    /// The suite's FortiToken server: what appliances created without an `ftm_url` talk to, looked up
    /// each time (`ServiceUrl::Suite`).
    pub(crate) default_ftm_url: String,
    /// The address pushes tell phones to answer at unless told otherwise (the service's own).
    pub(crate) default_push_server: String,
    /// Push sessions and ftm-push listeners.
    pub(crate) push: Arc<PushContext>,
    /// The email and SMS messages FortiAuthenticators sent.
    pub(crate) fac_outbox: Arc<crate::fac_messages::Outbox>,
    /// What new appliances get unless told otherwise: FortiGuard's token service and where activation
    /// messages go.
    pub(crate) defaults: ProfileDefaults,
    /// How the appliances send activation messages.
    pub(crate) outbox: Outbox,
    /// The captured messages (the SMTP listener's and the SMS sink's).
    pub(crate) mailbox: Mailbox,
    /// The FortiAuthenticators the lab declares, created at start when missing and again on reset.
    pub(crate) fixtures: Vec<protocol::fac_admin::FacFixture>,
    debug: Mutex<HashMap<ApplianceSerial, VecDeque<String>>>,
}

/// The suite's own addresses and settings that a profile follows unless they are set for its appliance.
#[derive(Debug, Clone)]
pub(crate) struct ProfileDefaults {
    /// FortiGuard's token service (the suite's forticare).
    pub(crate) fortiguard_url: String,
    /// The suite's SMTP listener and SMS sink.
    pub(crate) messaging: MessagingSettings,
}

/// Debug lines kept per appliance for `GET /appliances/{serial}/debug`.
const DEBUG_LINES: usize = 2000;

impl Appliances {
    pub(crate) fn new(
        push: Arc<PushContext>,
        default_ftm_url: String,
        default_push_server: Option<String>,
        defaults: ProfileDefaults,
        outbox: Outbox,
    ) -> Appliances {
        let default_push_server = default_push_server.unwrap_or_else(|| match push.bind {
            IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".to_owned(),
            IpAddr::V6(ip) if ip.is_unspecified() => "::1".to_owned(),
            ip => ip.to_string(),
        });
        Appliances {
            mailbox: Mailbox::new(push.store.store().clone()),
            defaults,
            outbox,
            store: push.store.clone(),
            clock: push.clock.clone(),
            http: push.http.clone(),
            default_ftm_url,
            default_push_server,
            push,
            fac_outbox: Arc::default(),
            fixtures: Vec::new(),
            debug: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn ops(&self) -> Ops<'_> {
        Ops {
            store: &self.store,
            http: &self.http,
            clock: &self.clock,
            suite_ftm_url: &self.default_ftm_url,
            suite_fortiguard_url: &self.defaults.fortiguard_url,
        }
    }

    pub(crate) fn record_debug(&self, appliance: &ApplianceSerial, lines: &[String]) {
        let mut debug = self.debug.lock().unwrap_or_else(PoisonError::into_inner);
        let ring = debug.entry(appliance.clone()).or_default();
        ring.extend(lines.iter().cloned());
        while ring.len() > DEBUG_LINES {
            ring.pop_front();
        }
    }

    /// The appliance's profile (firmware, FortiGuard, messaging); an appliance that has none (created
    /// before profiles, or imported from an older state) gets the defaults.
    pub(crate) fn profile_of(&self, appliance: &Appliance) -> Result<Profile, ApplianceError> {
        match self.store.hardware().profile(&appliance.serial)? {
            Some(profile) => Ok(profile),
            None => crate::hardware_routes::new_profile(self, &appliance.version, None, None, None)
                .map_err(ApplianceError::BadRequest),
        }
    }

    /// Where `profile`'s appliance sends activation messages: its own settings, or the suite's.
    pub(crate) fn messaging_of<'a>(&'a self, profile: &'a Profile) -> &'a MessagingSettings {
        profile
            .messaging
            .as_ref()
            .unwrap_or(&self.defaults.messaging)
    }

    async fn view(&self, appliance: &Appliance) -> Result<ApplianceView, ApplianceError> {
        let now = self.clock.now();
        let profile = self.profile_of(appliance)?;
        let push = &appliance.push;
        let ftm_push = FtmPushSettings {
            status: push.status,
            server: push.server.clone(),
            server_port: push.server_port,
            server_cert: push.server_cert,
            reachable: push.reachable,
            relay_url: push
                .relay_url
                .resolve(&self.push.suite_relay_url)
                .to_owned(),
            timeout_secs: push.timeout_secs,
            listening_port: self.push.listeners.port(&appliance.serial).await,
        };
        Ok(ApplianceView {
            ftm_push,
            serial: appliance.serial.clone(),
            peers: appliance.peers.clone(),
            vdom: appliance.vdom.clone(),
            mode: appliance.mode,
            version: appliance.version.clone(),
            build: appliance.build.clone(),
            ftm_url: appliance.ftm_url.resolve(&self.default_ftm_url).to_owned(),
            settings: appliance.settings,
            tokens: self
                .store
                .tokens(&appliance.serial)?
                .iter()
                .map(|t| t.view(now))
                .collect(),
            users: self
                .store
                .users(&appliance.serial)?
                .iter()
                .map(|u| u.view(now))
                .collect(),
            hardware_tokens: self
                .store
                .hardware()
                .tokens(&appliance.serial)?
                .iter()
                .map(crate::hardware::HardwareToken::row)
                .collect(),
            firmware: Some(profile.firmware.clone()),
            fortiguard_url: Some(
                profile
                    .fortiguard_url
                    .resolve(&self.defaults.fortiguard_url)
                    .to_owned(),
            ),
            messaging: Some(self.messaging_of(&profile).clone()),
            follows_suite: SuiteSetting::ALL
                .into_iter()
                .filter(|setting| match setting {
                    SuiteSetting::FtmUrl => appliance.ftm_url.follows_suite(),
                    SuiteSetting::FortiguardUrl => profile.fortiguard_url.follows_suite(),
                    SuiteSetting::RelayUrl => push.relay_url.follows_suite(),
                    SuiteSetting::Messaging => profile.messaging.is_none(),
                })
                .collect(),
        })
    }
}

impl Service for Appliances {
    const NAME: &'static str = crate::NAME;

    fn store(&self) -> &Store {
        self.store.store()
    }

    const DESCRIPTION: &'static str = "Virtual FortiGates and FortiAuthenticators: each sends every \
        SoftToken request the way FortiOS does, runs the FortiOS operations of a FortiToken Mobile \
        deployment (import, provision, renew, poll, login, push login) and shows FortiOS's debug lines. \
        A unit with push on opens its own ftm-push listener for the phone's callback.";

    fn routes(api: &mut Api<'_>) {
        api.guarded(paths::APPLIANCES, |appliances| {
            appliances
                .route(__path_create, create)
                .route(__path_list, list)
                .route(__path_show, show)
                .route(__path_change_appliance, change_appliance)
                .route(__path_change_settings, change_settings)
                .route(__path_change_ftm_push, change_ftm_push)
                .route(__path_import, import)
                .route(__path_provision, provision)
                .route(__path_renew, renew)
                .route(__path_poll, poll)
                .route(__path_login, login)
                .route(__path_unlock, unlock)
                .route(__path_debug_log, debug_log)
                .route(__path_delete_token, delete_token);
            crate::fac_api::admin::configure(appliances);
            crate::hardware_routes::appliance_routes(appliances);
        });
        crate::fac_api::routes::configure(api);
        crate::hardware_routes::device_routes(api);
        crate::hardware_routes::ledger_routes(api);
    }

    fn admin_routes(api: &mut Api<'_>) {
        crate::hardware_routes::admin_routes(api);
    }

    fn listener_routes(api: &mut Api<'_>) {
        ftm_push::listener_routes(api);
    }

    fn key_id(&self) -> Option<String> {
        Some(self.store.key_id())
    }

    fn check_record(&self, table: Table, key: &[u8], value: &[u8]) -> anyhow::Result<()> {
        self.store.check_record(table, key, value)
    }

    fn check_state(&self, incoming: &lab::state::Incoming) -> anyhow::Result<()> {
        self.store.check_state(incoming)
    }

    /// Every appliance gone, with its listener, push sessions and debug lines (the seal key stays).
    async fn reset(&self) -> Result<Reset, ApiError> {
        let removed = ftm_push::reset(&self.push).await?;
        self.fac_outbox.clear(None);
        self.debug
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        let fixtures = crate::fac_api::fixtures::load(self)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        Ok(Reset { removed, fixtures })
    }

    /// The appliances replaced, their ftm-push listeners started again.
    async fn import(
        &self,
        control: &lab::admin::ControlPlane,
        prepared: Prepared,
    ) -> Result<StateImported, ApiError> {
        let imported = ftm_push::import_state(&self.push, control, prepared).await?;
        self.debug
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        Ok(imported)
    }
}

/// An appliance path inside the `/appliances` scope.
/// `?debug=true`: include the operation's FortiOS debug lines in the answer.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DebugQuery {
    /// Include the operation's FortiOS debug lines (`diagnose fortitoken debug enable`).
    #[serde(default)]
    debug: bool,
}

/// The appliance a path names.
pub(crate) fn find(state: &Appliances, serial: &str) -> Result<Appliance, ApplianceError> {
    let serial: ApplianceSerial = serial
        .parse()
        .map_err(|e: protocol::id::IdError| ApplianceError::BadRequest(e.to_string()))?;
    state
        .store
        .appliance(&serial)?
        .ok_or_else(|| ApplianceError::NotFound(format!("no appliance {serial}")))
}

/// Applies `change` to `settings`, checking each value against the range FortiOS / FortiAuthenticator allow.
fn apply_settings(
    mut settings: ApplianceSettings,
    change: &SettingsChange,
) -> Result<ApplianceSettings, String> {
    fn within(
        name: &str,
        value: Option<u32>,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<Option<u32>, String> {
        match value {
            Some(v) if !range.contains(&v) => Err(format!(
                "{name} {v} is not between {} and {}",
                range.start(),
                range.end()
            )),
            other => Ok(other),
        }
    }
    if let Some(v) = within(
        "activation_expiry_minutes",
        change.activation_expiry_minutes,
        1..=10_080,
    )? {
        settings.activation_expiry_minutes = v;
    }
    if let Some(v) = change.period {
        // The activation code carries only these two (protocol::modeled::otp_to_wire), as FortiOS and
        // FortiAuthenticator offer them.
        if !matches!(v, 30 | 60) {
            return Err(format!("period {v} is neither 30 nor 60 seconds"));
        }
        settings.period = v;
    }
    if let Some(v) = change.digits {
        if !matches!(v, 6 | 8) {
            return Err(format!("digits {v} is neither 6 nor 8"));
        }
        settings.digits = v;
    }
    if let Some(v) = within("totp_window_secs", change.totp_window_secs, 0..=3600)? {
        settings.totp_window_secs = v;
    }
    if let Some(v) = within(
        "totp_sync_window_secs",
        change.totp_sync_window_secs,
        0..=28_800,
    )? {
        settings.totp_sync_window_secs = v;
    }
    if let Some(v) = within("lockout_threshold", change.lockout_threshold, 0..=100)? {
        settings.lockout_threshold = v;
    }
    if let Some(v) = within("lockout_secs", change.lockout_secs, 0..=86_400)? {
        settings.lockout_secs = v;
    }
    Ok(settings)
}

/// A short identifier-like text (vdom, version, build), or why it is not one.
fn short_text(
    name: &str,
    value: Option<&String>,
    default: &str,
    max: usize,
) -> Result<String, String> {
    let value = value.map_or(default, |v| v.trim());
    if value.is_empty()
        || value.len() > max
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(format!(
            "{name} `{value}` must be 1 to {max} letters, digits, dots, dashes or underscores"
        ));
    }
    Ok(value.to_owned())
}

#[utoipa::path(post, path = paths::APPLIANCES, tag = "virtual appliances", request_body(content = NewAppliance, description = "Every field optional."),
    responses(
        (status = 201, description = "The new unit.", body = ApplianceView),
        (status = 400, description = "A malformed field.", body = ErrorBody),
        (status = 409, description = "`appliance.exists`, or its ftm-push port is taken.", body = ErrorBody)))]
async fn create(
    state: web::Data<Appliances>,
    new: Json<NewAppliance>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = create_appliance(&state, &new).await?;
    Ok(HttpResponse::Created().json(state.view(&appliance).await?))
}

/// Creates the appliance `new` describes (every value checked first): what `POST /appliances` and the lab's
/// FortiAuthenticator fixtures do.
pub(crate) async fn create_appliance(
    state: &Appliances,
    new: &NewAppliance,
) -> Result<Appliance, ApplianceError> {
    let mode = new.mode.unwrap_or(ApplianceMode::Fortigate);
    let settings = apply_settings(
        ApplianceSettings::defaults(mode),
        &new.settings.clone().unwrap_or_default(),
    )
    .map_err(ApplianceError::BadSettings)?;
    let vdom =
        short_text("vdom", new.vdom.as_ref(), "root", 31).map_err(ApplianceError::BadRequest)?;
    let version = short_text("version", new.version.as_ref(), "7.4", 16)
        .map_err(ApplianceError::BadRequest)?;
    let build =
        short_text("build", new.build.as_ref(), "2829", 16).map_err(ApplianceError::BadRequest)?;
    if let Some(url) = &new.ftm_url {
        http_url("ftm_url", url).map_err(ApplianceError::BadRequest)?;
    }
    let default_push = FtmPush {
        status: false,
        server: state.default_push_server.clone(),
        server_port: 4433,
        server_cert: ServerCert::Lab,
        reachable: true,
        relay_url: ServiceUrl::Suite,
        timeout_secs: 60,
    };
    let push = apply_push_change(default_push, &new.ftm_push.clone().unwrap_or_default())
        .map_err(ApplianceError::BadFtmPush)?;
    let profile = crate::hardware_routes::new_profile(
        state,
        &version,
        new.firmware.as_deref(),
        new.fortiguard_url.as_deref(),
        new.messaging.as_ref(),
    )
    .map_err(ApplianceError::BadRequest)?;
    let serial = match new.serial.clone() {
        Some(serial) => serial,
        None => random_serial(mode).map_err(|e| ApplianceError::Internal(e.into()))?,
    };
    let appliance = Appliance {
        peers: new
            .peers
            .iter()
            .filter(|p| **p != serial)
            .cloned()
            .collect(),
        serial,
        vdom,
        mode,
        version,
        build,
        ftm_url: ServiceUrl::given(new.ftm_url.as_deref()),
        settings,
        push,
    };
    ftm_push::create(&state.push, &appliance).await?;
    state
        .store
        .hardware()
        .save_profile(&appliance.serial, &profile)
        .await?;
    tracing::info!(appliance = %appliance.serial, mode = ?appliance.mode, "appliance created");
    Ok(appliance)
}

/// A serial in the shape of a VM of the kind (`protocol::modeled::appliance_serial_prefix` + 8 digits).
fn random_serial(mode: ApplianceMode) -> Result<ApplianceSerial, protocol::id::IdError> {
    let prefix = protocol::modeled::appliance_serial_prefix(mode);
    let digits: u32 = rand::thread_rng().gen_range(0..100_000_000);
    format!("{prefix}{digits:08}").parse()
}

#[utoipa::path(get, path = paths::APPLIANCES, tag = "virtual appliances",
    responses((status = 200, description = "The units with their token tables and users.", body = ApplianceList)))]
async fn list(state: web::Data<Appliances>) -> Result<HttpResponse, ApplianceError> {
    let all = state.store.appliances()?;
    let mut appliances = Vec::with_capacity(all.len());
    for appliance in &all {
        appliances.push(state.view(appliance).await?);
    }
    Ok(HttpResponse::Ok().json(ApplianceList { appliances }))
}

#[utoipa::path(get, path = paths::APPLIANCE, tag = "virtual appliances", params(("serial" = String, Path, description = "The appliance's serial.")),
    responses((status = 200, description = "`show user fortitoken`: the unit with its token table and users.", body = ApplianceView), (status = 404, description = "`appliance.not-found`.", body = ErrorBody)))]
async fn show(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find(&state, &serial)?;
    Ok(HttpResponse::Ok().json(state.view(&appliance).await?))
}

/// `PATCH /appliances/{serial}`: the unit's FortiToken server and FortiGuard address set again, or settings
/// put back on the running suite's; the unit and its profile change in one transaction, after every value
/// was checked.
#[utoipa::path(patch, path = paths::APPLIANCE, tag = "virtual appliances", params(("serial" = String, Path, description = "The appliance's serial.")), request_body = ApplianceChange,
    responses(
        (status = 200, description = "The unit after the change; `follows_suite` lists what follows the suite.", body = ApplianceView),
        (status = 400, description = "`admin.body.invalid` (not JSON, an unknown field or setting), or `appliance.bad-request` naming the bad value (an address that is not an http(s) URL, a setting both given and put back on the suite's); nothing changes.", body = ErrorBody),
        (status = 404, description = "`appliance.not-found`.", body = ErrorBody)))]
async fn change_appliance(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    change: Json<ApplianceChange>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find(&state, &serial)?;
    let change = change.into_inner();
    check_appliance_change(&change).map_err(ApplianceError::BadRequest)?;
    let current = state.profile_of(&appliance)?;
    let changed = state
        .store
        .update_with_profile(&appliance.serial, current, move |appliance, profile| {
            apply_appliance_change(&change, appliance, profile);
            Ok::<_, std::convert::Infallible>(appliance.clone())
        })
        .await?
        .ok_or_else(|| ApplianceError::NotFound(format!("no appliance {}", appliance.serial)))?;
    let Ok(changed) = changed;
    Ok(HttpResponse::Ok().json(state.view(&changed).await?))
}

/// Why `change` cannot be made, naming the value: an address that is not an http(s) URL, or a setting both
/// given an address and put back on the suite's.
fn check_appliance_change(change: &ApplianceChange) -> Result<(), String> {
    for (setting, url) in [
        (SuiteSetting::FtmUrl, &change.ftm_url),
        (SuiteSetting::FortiguardUrl, &change.fortiguard_url),
    ] {
        let Some(url) = url else { continue };
        http_url(setting.as_str(), url)?;
        if change.follow_suite.contains(&setting) {
            return Err(format!(
                "{setting} is both given and put back on the suite's (follow_suite): choose one"
            ));
        }
    }
    Ok(())
}

/// Applies a checked `change` to an appliance and its profile.
fn apply_appliance_change(
    change: &ApplianceChange,
    appliance: &mut Appliance,
    profile: &mut Profile,
) {
    if let Some(url) = &change.ftm_url {
        appliance.ftm_url = ServiceUrl::given(Some(url));
    }
    if let Some(url) = &change.fortiguard_url {
        profile.fortiguard_url = ServiceUrl::given(Some(url));
    }
    for setting in &change.follow_suite {
        match setting {
            SuiteSetting::FtmUrl => appliance.ftm_url = ServiceUrl::Suite,
            SuiteSetting::FortiguardUrl => profile.fortiguard_url = ServiceUrl::Suite,
            SuiteSetting::RelayUrl => appliance.push.relay_url = ServiceUrl::Suite,
            SuiteSetting::Messaging => profile.messaging = None,
        }
    }
}

/// An address an appliance calls, or the sentence naming `name` when it is not an http(s) URL (at most
/// 2,048 bytes).
pub(crate) fn http_url(name: &str, url: &str) -> Result<(), String> {
    if (url.starts_with("https://") || url.starts_with("http://")) && url.len() <= 2048 {
        return Ok(());
    }
    Err(format!(
        "{name} `{}` is not an http(s) URL",
        url.chars().take(80).collect::<String>()
    ))
}

/// `PATCH /appliances/{serial}/ftm-push`: `config system ftm-push`. The listener follows the new settings;
/// if it cannot (the port is taken), nothing changes and the answer is 409.
#[utoipa::path(patch, path = paths::APPLIANCE_FTM_PUSH, tag = "virtual appliances", params(("serial" = String, Path, description = "The appliance's serial.")), request_body = FtmPushChange,
    responses(
        (status = 200, description = "`config system ftm-push`: the settings now, with the listener's port.", body = FtmPushSettings),
        (status = 400, description = "`appliance.bad-ftm-push`.", body = ErrorBody),
        (status = 404, description = "`appliance.not-found`.", body = ErrorBody),
        (status = 409, description = "The listener cannot follow (the port is taken); nothing changed.", body = ErrorBody)))]
async fn change_ftm_push(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    change: Json<FtmPushChange>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find(&state, &serial)?;
    let change = change.into_inner();
    apply_push_change(appliance.push.clone(), &change).map_err(ApplianceError::BadFtmPush)?;
    let changed = ftm_push::change(&state.push, &appliance.serial, move |push| {
        apply_push_change(push, &change)
    })
    .await?;
    Ok(HttpResponse::Ok().json(state.view(&changed).await?.ftm_push))
}

/// Applies `change` to `push`, checking each value.
fn apply_push_change(mut push: FtmPush, change: &FtmPushChange) -> Result<FtmPush, String> {
    if let Some(status) = change.status {
        push.status = status;
    }
    if let Some(server) = &change.server {
        let server = server.trim();
        if server.is_empty()
            || server.len() > 127
            || !server
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c))
        {
            return Err(format!(
                "server `{server}` must be an IP address or a host name (up to 127 characters)"
            ));
        }
        push.server = server.to_owned();
    }
    if let Some(port) = change.server_port {
        push.server_port = port;
    }
    if let Some(cert) = change.server_cert {
        push.server_cert = cert;
    }
    if let Some(reachable) = change.reachable {
        push.reachable = reachable;
    }
    if let Some(url) = &change.relay_url {
        http_url("relay_url", url)?;
        push.relay_url = ServiceUrl::given(Some(url));
    }
    if let Some(secs) = change.timeout_secs {
        if !(1..=300).contains(&secs) {
            return Err(format!(
                "timeout_secs {secs} is not between 1 and 300 (FortiOS remoteauthtimeout)"
            ));
        }
        push.timeout_secs = secs;
    }
    Ok(push)
}

#[utoipa::path(patch, path = paths::APPLIANCE_SETTINGS, tag = "virtual appliances", params(("serial" = String, Path, description = "The appliance's serial.")), request_body = SettingsChange,
    responses(
        (status = 200, description = "The settings now.", body = ApplianceSettings),
        (status = 400, description = "`appliance.bad-settings`.", body = ErrorBody),
        (status = 404, description = "`appliance.not-found`.", body = ErrorBody)))]
async fn change_settings(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    change: Json<SettingsChange>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find(&state, &serial)?;
    let change = change.into_inner();
    let settings = state
        .store
        .update(&appliance.serial, move |appliance| {
            appliance.settings = apply_settings(appliance.settings, &change)?;
            Ok::<_, String>(appliance.settings)
        })
        .await?
        .ok_or_else(|| ApplianceError::NotFound(format!("no appliance {}", appliance.serial)))?
        .map_err(ApplianceError::BadSettings)?;
    Ok(HttpResponse::Ok().json(settings))
}

/// An operation's outcome that carries FortiOS debug lines.
trait WithDebug {
    fn debug_lines(&mut self) -> &mut Vec<String>;
}

impl WithDebug for ImportOutcome {
    fn debug_lines(&mut self) -> &mut Vec<String> {
        &mut self.debug
    }
}

impl WithDebug for ProvisionOutcome {
    fn debug_lines(&mut self) -> &mut Vec<String> {
        &mut self.debug
    }
}

impl WithDebug for PollOutcome {
    fn debug_lines(&mut self) -> &mut Vec<String> {
        &mut self.debug
    }
}

impl WithDebug for OperationFailure {
    fn debug_lines(&mut self) -> &mut Vec<String> {
        &mut self.debug
    }
}

/// Records an operation's debug lines in the appliance's log and answers with its outcome, keeping the
/// lines in the answer only when asked (`?debug=true`).
fn answer<T: WithDebug + serde::Serialize>(
    state: &Appliances,
    appliance: &Appliance,
    query: &DebugQuery,
    result: Result<T, ApplianceError>,
) -> Result<HttpResponse, ApplianceError> {
    fn keep<D: WithDebug>(
        state: &Appliances,
        appliance: &Appliance,
        query: &DebugQuery,
        item: &mut D,
    ) {
        state.record_debug(&appliance.serial, item.debug_lines());
        if !query.debug {
            item.debug_lines().clear();
        }
    }
    match result {
        Ok(mut outcome) => {
            keep(state, appliance, query, &mut outcome);
            Ok(HttpResponse::Ok().json(outcome))
        }
        Err(ApplianceError::Cloud {
            status,
            mut failure,
        }) => {
            keep(state, appliance, query, &mut failure);
            Err(ApplianceError::Cloud { status, failure })
        }
        Err(other) => Err(other),
    }
}

#[utoipa::path(post, path = paths::APPLIANCE_IMPORT, tag = "virtual appliances", params(("serial" = String, Path, description = "The appliance's serial."), DebugQuery), request_body = ImportRequest, 
    responses(
        (status = 200, description = "`execute fortitoken-mobile import <code>`: the license and its tokens.", body = ImportOutcome),
        (status = 400, description = "A malformed request.", body = ErrorBody),
        (status = 404, description = "`appliance.not-found`.", body = ErrorBody),
        (status = 422, description = "The FortiToken server refused it: FortiOS's message, the error code and debug lines.", body = OperationFailure), (status = 502, description = "The FortiToken server could not be reached.", body = OperationFailure)))]
async fn import(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    query: Query<DebugQuery>,
    body: Json<ImportRequest>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find(&state, &serial)?;
    if let Err(refusal) = crate::kinds::may_import_license(appliance.mode, body.code.trim()) {
        return Err(ApplianceError::Cloud {
            status: 422,
            failure: OperationFailure {
                error_id: protocol::catalogue::FORTIPROXY_NO_FTM_IMPORT.id.to_owned(),
                message: refusal.to_owned(),
                error_code: None,
                debug: Vec::new(),
            },
        });
    }
    let result = state.ops().import(&appliance, &body.code).await;
    answer(&state, &appliance, &query, result)
}

#[utoipa::path(post, path = paths::APPLIANCE_PROVISION, tag = "virtual appliances", params(("serial" = String, Path, description = "The appliance's serial."), DebugQuery), request_body = ProvisionTokenRequest, 
    responses(
        (status = 200, description = "The token provisioned with a fresh seed: its activation code and QR string.", body = ProvisionOutcome),
        (status = 400, description = "A malformed request.", body = ErrorBody),
        (status = 404, description = "`appliance.not-found`.", body = ErrorBody),
        (status = 422, description = "The FortiToken server refused it: FortiOS's message, the error code and debug lines.", body = OperationFailure), (status = 502, description = "The FortiToken server could not be reached.", body = OperationFailure)))]
async fn provision(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    query: Query<DebugQuery>,
    body: Json<ProvisionTokenRequest>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find(&state, &serial)?;
    provision_and_deliver(&state, &appliance, &body, query.debug).await
}

/// Provisions a token to the request's user and, when the request names an email address or phone number,
/// sends the activation code there. A delivery failure answers `Failed to send activation code` (502); the
/// token stays Pending, so `send-activation` can try again.
pub(crate) async fn provision_and_deliver(
    state: &Appliances,
    appliance: &Appliance,
    body: &ProvisionTokenRequest,
    debug: bool,
) -> Result<HttpResponse, ApplianceError> {
    let query = DebugQuery { debug };
    let Some(user) = body.user.as_deref() else {
        return Err(ApplianceError::BadRequest(
            "provisioning needs the user the token is assigned to".into(),
        ));
    };
    let recipient = crate::hardware_routes::provision_recipient(body);
    let result = state
        .ops()
        .provision(appliance, &body.token, Some(user), body.expiry_minutes)
        .await;
    let result = match (result, recipient) {
        (Ok(mut outcome), Some(to)) => {
            let token = state
                .store
                .tokens(&appliance.serial)?
                .into_iter()
                .find(|t| t.serial == outcome.token.serial)
                .ok_or_else(|| {
                    ApplianceError::NotFound(format!("{} left the table", outcome.token.serial))
                })?;
            match crate::hardware_routes::deliver(state, appliance, &token, &to).await {
                Ok(delivered) => {
                    outcome.delivered = Some(delivered);
                    Ok(outcome)
                }
                Err(ApplianceError::Cloud {
                    status,
                    mut failure,
                }) => {
                    let mut lines = std::mem::take(&mut outcome.debug);
                    lines.append(&mut failure.debug);
                    failure.debug = lines;
                    Err(ApplianceError::Cloud { status, failure })
                }
                Err(other) => Err(other),
            }
        }
        (result, _) => result,
    };
    answer(state, appliance, &query, result)
}

#[utoipa::path(post, path = paths::APPLIANCE_RENEW, tag = "virtual appliances", params(("serial" = String, Path, description = "The appliance's serial."), DebugQuery), request_body = ProvisionTokenRequest, 
    responses(
        (status = 200, description = "`execute fortitoken-mobile renew <token>`: a new seed and code for the same user.", body = ProvisionOutcome),
        (status = 400, description = "A malformed request.", body = ErrorBody),
        (status = 404, description = "`appliance.not-found`.", body = ErrorBody),
        (status = 422, description = "The FortiToken server refused it: FortiOS's message, the error code and debug lines.", body = OperationFailure), (status = 502, description = "The FortiToken server could not be reached.", body = OperationFailure)))]
async fn renew(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    query: Query<DebugQuery>,
    body: Json<ProvisionTokenRequest>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find(&state, &serial)?;
    let result = state
        .ops()
        .provision(
            &appliance,
            &body.token,
            body.user.as_deref(),
            body.expiry_minutes,
        )
        .await;
    answer(&state, &appliance, &query, result)
}

#[utoipa::path(post, path = paths::APPLIANCE_POLL, tag = "virtual appliances", params(("serial" = String, Path, description = "The appliance's serial."), DebugQuery), 
    responses(
        (status = 200, description = "`execute fortitoken-mobile poll`: every assigned token's status.", body = PollOutcome),
        (status = 400, description = "A malformed request.", body = ErrorBody),
        (status = 404, description = "`appliance.not-found`.", body = ErrorBody),
        (status = 422, description = "The FortiToken server refused it: FortiOS's message, the error code and debug lines.", body = OperationFailure), (status = 502, description = "The FortiToken server could not be reached.", body = OperationFailure)))]
async fn poll(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    query: Query<DebugQuery>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find(&state, &serial)?;
    let result = state.ops().poll(&appliance).await;
    answer(&state, &appliance, &query, result)
}

#[utoipa::path(post, path = paths::APPLIANCE_LOGIN, tag = "virtual appliances", params(("serial" = String, Path, description = "The appliance's serial."), DebugQuery), request_body = LoginRequest,
    responses(
        (status = 200, description = "Authentication successful.", body = LoginOutcome),
        (status = 401, description = "Refused: `denied`, `replayed`, `locked`, `resync`, `timeout` or `push-failed`.", body = LoginOutcome),
        (status = 400, description = "A malformed request.", body = ErrorBody),
        (status = 404, description = "`appliance.not-found`, `appliance.no-user`.", body = ErrorBody)))]
async fn login(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    query: Query<DebugQuery>,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find(&state, &serial)?;
    if !body.push && body.otp.trim().is_empty() {
        return Err(ApplianceError::BadRequest(
            "a login needs `otp`, or `push: true` to approve a push on the phone".to_owned(),
        ));
    }
    let outcome = if body.push {
        let client_ip = body.client_ip.as_deref().unwrap_or("203.0.113.10");
        let mut outcome =
            ftm_push::login(&state.push, &appliance, body.user.trim(), client_ip).await?;
        state.record_debug(&appliance.serial, &outcome.debug);
        if !query.debug {
            outcome.debug.clear();
        }
        outcome
    } else if let Some(outcome) =
        crate::hardware_ops::login(&state.ops(), &appliance, &body.user, &body.otp).await?
    {
        outcome
    } else {
        state.ops().login(&appliance, &body.user, &body.otp).await?
    };
    tracing::debug!(appliance = %appliance.serial, user = body.user.as_str(), result = ?outcome.result, "login");
    let status = if outcome.result == LoginResult::Success {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    };
    Ok(HttpResponse::build(status).json(outcome))
}

#[utoipa::path(post, path = paths::APPLIANCE_UNLOCK, tag = "virtual appliances", params(("serial" = String, Path, description = "The appliance's serial."), ("user" = String, Path, description = "The user.")),
    responses(
        (status = 200, description = "The user, unlocked.", body = UserView),
        (status = 404, description = "`appliance.not-found`, `appliance.no-user`.", body = ErrorBody)))]
async fn unlock(
    state: web::Data<Appliances>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApplianceError> {
    let (serial, user) = path.into_inner();
    let appliance = find(&state, &serial)?;
    let unlocked = state
        .store
        .unlock(&appliance.serial, &user)
        .await?
        .ok_or_else(|| ApplianceError::NoUser(format!("no user {user} on {}", appliance.serial)))?;
    Ok(HttpResponse::Ok().json(unlocked.view(state.clock.now())))
}

/// `config user fortitoken`, `delete <serial>`: a token leaves the appliance's table (204); a token a user
/// still has is refused (409), as FortiOS refuses to delete an entry in use.
#[utoipa::path(delete, path = paths::APPLIANCE_TOKEN, tag = "virtual appliances", params(("serial" = String, Path, description = "The appliance's serial."), ("token" = String, Path, description = "The token serial.")),
    responses(
        (status = 204, description = "The token left the appliance's table."),
        (status = 404, description = "`appliance.not-found`.", body = ErrorBody),
        (status = 409, description = "A user still has it.", body = ErrorBody)))]
async fn delete_token(
    state: web::Data<Appliances>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApplianceError> {
    let (serial, token) = path.into_inner();
    let appliance = find(&state, &serial)?;
    let token: protocol::id::TokenSerial = token
        .parse()
        .map_err(|e: protocol::id::IdError| ApplianceError::BadRequest(e.to_string()))?;
    match state.store.delete_token(&appliance.serial, &token).await? {
        Ok(true) => {
            state.record_debug(
                &appliance.serial,
                &[format!("ftm_cfg_delete_token:delete token {token}")],
            );
            Ok(HttpResponse::NoContent().finish())
        }
        Ok(false) => Err(ApplianceError::NotFound(format!(
            "no token {token} on {}",
            appliance.serial
        ))),
        Err(user) => Err(ApplianceError::Conflict(format!(
            "{token} is used by user {user}: remove the user's two-factor authentication first"
        ))),
    }
}

#[utoipa::path(get, path = paths::APPLIANCE_DEBUG, tag = "virtual appliances", params(("serial" = String, Path, description = "The appliance's serial.")),
    responses((status = 200, description = "The unit's recent FortiOS debug lines.", body = DebugLog), (status = 404, description = "`appliance.not-found`.", body = ErrorBody)))]
async fn debug_log(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find(&state, &serial)?;
    let debug = state.debug.lock().unwrap_or_else(PoisonError::into_inner);
    let lines = debug
        .get(&appliance.serial)
        .map(|ring| ring.iter().cloned().collect())
        .unwrap_or_default();
    Ok(HttpResponse::Ok().json(DebugLog { lines }))
}
