//! fortimock's own API for virtual FortiAuthenticators, inside the guarded `/appliances` scope: issue an
//! administrator's REST API key, read and change the FAC's host name, provisioning settings and token
//! policy, give it LDAP users (the lab has no LDAP server), read the messages it sent, and show a token's
//! offline activation page (JSON, or the QR code as a PNG). Errors are the service's `ApplianceError`.

use actix_web::{HttpResponse, web};
use lab::api::Api;
use lab::http::{Json, Query};
use protocol::fac_admin::{
    AdminPassword, AdminPasswordSet, AgentLogin, AgentLoginResult, AgentSync, ApiKeyIssued,
    ApiKeyRequest, FacChange, FacView, NewLdapUser, Outbox, TokenLockChange, TokenLockView,
};
use protocol::id::TokenSerial;
use protocol::paths;
use serde::Deserialize;

use crate::error::ApplianceError;
use crate::fac_store::{FacUser, UserKind, UserRefusal, hash_password};
use crate::fortitoken::Appliance;
use crate::routes::{Appliances, find};
use crate::{kinds, token_policy};

/// Registers the routes inside the `/appliances` scope.
pub(crate) fn configure(api: &mut Api<'_>) {
    api.route(__path_issue_api_key, issue_api_key)
        .route(__path_set_admin_password, set_admin_password)
        .route(__path_show_fac, show_fac)
        .route(__path_change_fac, change_fac)
        .route(__path_add_ldap_user, add_ldap_user)
        .route(__path_lock_token, lock_token)
        .route(__path_outbox, outbox)
        .route(__path_clear_outbox, clear_outbox)
        .route(__path_activation_page, activation_page)
        .route(__path_agents, agents)
        .route(__path_agent_sync, agent_sync)
        .route(__path_agent_login, agent_login);
}

/// An LDAP user as the FAC keeps it, every value checked (what `POST …/ldap-users` and the lab's fixtures
/// add).
pub(crate) fn ldap_user(new: NewLdapUser) -> Result<FacUser, ApplianceError> {
    let username = new.username.trim();
    if !crate::fortitoken::valid_user_name(username) {
        return Err(ApplianceError::BadRequest(format!(
            "`{username}` is not a valid user name (1 to 64 printable characters, no spaces)"
        )));
    }
    if new.dn.trim().is_empty() || !new.dn.contains('=') {
        return Err(ApplianceError::BadRequest(format!(
            "dn `{}` is not a distinguished name",
            new.dn
        )));
    }
    if let Some(number) = new.mobile_number.as_deref().filter(|n| !n.is_empty())
        && !protocol::fac_rest::valid_mobile_number(number)
    {
        return Err(ApplianceError::BadRequest(
            protocol::modeled::FAC_BAD_MOBILE_NUMBER.text.to_owned(),
        ));
    }
    let mut user = FacUser::named(username, UserKind::Ldap);
    user.dn = new.dn.trim().to_owned();
    user.active = new.active.unwrap_or(true);
    user.first_name = new.first_name.unwrap_or_default();
    user.last_name = new.last_name.unwrap_or_default();
    user.email = new.email.unwrap_or_default();
    user.mobile_number = new.mobile_number.unwrap_or_default();
    user.password_hash = new.password.as_deref().map(hash_password);
    Ok(user)
}

/// Whether `admin` can name a FAC administrator (1 to 64 printable characters, no spaces or colons: HTTP
/// Basic splits at the first colon).
pub(crate) fn valid_admin_name(admin: &str) -> bool {
    crate::fortitoken::valid_user_name(admin) && !admin.contains(':')
}

/// The FortiAuthenticator a path names; another kind is refused, named as it is.
fn find_fac(state: &Appliances, serial: &str) -> Result<Appliance, ApplianceError> {
    let appliance = find(state, serial)?;
    if appliance.mode != protocol::appliance::ApplianceMode::Fortiauthenticator {
        return Err(ApplianceError::BadRequest(format!(
            "{} is a {}: only a FortiAuthenticator has this",
            appliance.serial,
            kinds::product(appliance.mode)
        )));
    }
    Ok(appliance)
}

/// The appliance a path names, for offline (QR) activation: another kind than FortiAuthenticator is refused
/// with its message ([`kinds::may_activate_offline`], `OFFLINE_ACTIVATION_FAC_ONLY`), its kind named.
fn find_offline_fac(state: &Appliances, serial: &str) -> Result<Appliance, ApplianceError> {
    let appliance = find(state, serial)?;
    kinds::may_activate_offline(appliance.mode).map_err(|refusal| ApplianceError::Cloud {
        status: 422,
        failure: protocol::appliance::OperationFailure {
            error_id: protocol::catalogue::OFFLINE_ACTIVATION_FAC_ONLY
                .id
                .to_owned(),
            message: format!(
                "{refusal} ({} is a {})",
                appliance.serial,
                kinds::product(appliance.mode)
            ),
            error_code: None,
            debug: Vec::new(),
        },
    })?;
    Ok(appliance)
}

fn view(state: &Appliances, appliance: &Appliance) -> Result<FacView, ApplianceError> {
    let appliance = find(state, appliance.serial.as_str())?;
    let config = state.store.fac_config(&appliance.serial)?;
    Ok(FacView {
        serial: appliance.serial.clone(),
        host_name: config.host_name(&appliance.serial),
        provisioning: token_policy::provisioning_view(&appliance.settings, &config),
        token_policy: token_policy::policy_view(&appliance.settings, &config),
        admins: state.store.fac_admins(&appliance.serial)?,
    })
}

/// `POST /appliances/{serial}/api-keys`: a new API key for the administrator (default `admin`); it replaces
/// the old one and is shown only here.
#[utoipa::path(post, path = paths::APPLIANCE_API_KEYS, tag = "virtual FortiAuthenticators", params(("serial" = String, Path, description = "The appliance's serial number.")), request_body = ApiKeyRequest, responses((status = 201, description = "A new API key for the administrator (default `admin`); it replaces the old one and is shown only here.", body = ApiKeyIssued), (status = 404, description = "No such FortiAuthenticator.", body = protocol::admin::ErrorBody)))]
async fn issue_api_key(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    Json(request): Json<ApiKeyRequest>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find_fac(&state, &serial)?;
    let admin = request.admin.unwrap_or_else(|| "admin".to_owned());
    if !valid_admin_name(&admin) {
        return Err(ApplianceError::BadRequest(format!(
            "`{admin}` is not an administrator name (1 to 64 printable characters, no spaces or colons)"
        )));
    }
    let api_key = state
        .store
        .issue_api_key(&appliance.serial, &admin, state.clock.now())
        .await?;
    let config = state.store.fac_config(&appliance.serial)?;
    Ok(HttpResponse::Created().json(ApiKeyIssued {
        admin,
        api_key,
        host_name: config.host_name(&appliance.serial),
    }))
}

/// `PUT /appliances/{serial}/admins/{admin}/password`: the administrator's login password (GUI, SSH), kept as
/// a salted hash; the REST API never takes it (HTTP Basic with it gets 401).
#[utoipa::path(put, path = paths::APPLIANCE_ADMIN_PASSWORD, tag = "virtual FortiAuthenticators", params(("serial" = String, Path, description = "The appliance's serial number."), ("admin" = String, Path, description = "The administrator (one with an API key).")), request_body = AdminPassword, responses((status = 200, description = "The administrator's login password is set (the answer never holds it).", body = AdminPasswordSet), (status = 400, description = "A password of 0 or more than 128 characters, or not a FortiAuthenticator.", body = protocol::admin::ErrorBody), (status = 404, description = "No such FortiAuthenticator, or no such administrator.", body = protocol::admin::ErrorBody)))]
async fn set_admin_password(
    state: web::Data<Appliances>,
    path: web::Path<(String, String)>,
    Json(request): Json<AdminPassword>,
) -> Result<HttpResponse, ApplianceError> {
    let (serial, admin) = path.into_inner();
    let appliance = find_fac(&state, &serial)?;
    let length = request.password.chars().count();
    if length == 0 || length > 128 {
        return Err(ApplianceError::BadRequest(
            "password: 1 to 128 characters".to_owned(),
        ));
    }
    if !state
        .store
        .set_admin_password(&appliance.serial, &admin, &request.password)
        .await?
    {
        return Err(ApplianceError::NotFound(format!(
            "{} has no administrator `{admin}`: issue its API key first",
            appliance.serial
        )));
    }
    Ok(HttpResponse::Ok().json(AdminPasswordSet {
        admin,
        password_set: true,
    }))
}

#[utoipa::path(get, path = paths::APPLIANCE_FAC, tag = "virtual FortiAuthenticators", params(("serial" = String, Path, description = "The appliance's serial number.")), responses((status = 200, description = "The FortiAuthenticator's settings: host name, provisioning, token policy, admins.", body = FacView), (status = 404, description = "No such FortiAuthenticator.", body = protocol::admin::ErrorBody)))]
async fn show_fac(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find_fac(&state, &serial)?;
    Ok(HttpResponse::Ok().json(view(&state, &appliance)?))
}

/// `PATCH /appliances/{serial}/fac`: host name, provisioning settings and token policy, all checked before
/// anything changes.
#[utoipa::path(patch, path = paths::APPLIANCE_FAC, tag = "virtual FortiAuthenticators", params(("serial" = String, Path, description = "The appliance's serial number.")), request_body = FacChange, responses((status = 200, description = "Host name, provisioning settings and token policy, all checked before anything changes: the settings after.", body = FacView), (status = 400, description = "A value the FortiAuthenticator refuses; nothing changed.", body = protocol::admin::ErrorBody), (status = 404, description = "No such FortiAuthenticator.", body = protocol::admin::ErrorBody)))]
async fn change_fac(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    Json(change): Json<FacChange>,
) -> Result<HttpResponse, ApplianceError> {
    let offline = change
        .provisioning
        .as_ref()
        .and_then(|p| p.provision_mode.as_deref())
        .is_some_and(|mode| mode.trim().eq_ignore_ascii_case("offline"));
    let appliance = if offline {
        find_offline_fac(&state, &serial)?
    } else {
        find_fac(&state, &serial)?
    };
    let host = change
        .host_name
        .as_deref()
        .map(token_policy::check_host_name)
        .transpose()
        .map_err(ApplianceError::BadSettings)?;
    let outcome = state
        .store
        .update_fac(&appliance.serial, move |settings, config| {
            if let Some(provisioning) = &change.provisioning {
                token_policy::apply_provisioning(settings, config, provisioning)?;
            }
            if let Some(policy) = &change.token_policy {
                token_policy::apply_policy(settings, config, policy)?;
            }
            if let Some(host) = host {
                config.host_name = Some(host);
            }
            Ok(())
        })
        .await?;
    match outcome {
        Some(Ok(())) => Ok(HttpResponse::Ok().json(view(&state, &appliance)?)),
        Some(Err(refused)) => Err(ApplianceError::BadSettings(refused)),
        None => Err(ApplianceError::NotFound(format!(
            "no appliance {}",
            appliance.serial
        ))),
    }
}

/// `PATCH /appliances/{serial}/fac/tokens/{token}`: locks or unlocks one of the FAC's tokens for assignment.
#[utoipa::path(patch, path = paths::APPLIANCE_FAC_TOKEN, tag = "virtual FortiAuthenticators",
    params(("serial" = String, Path, description = "The appliance's serial number."), ("token" = String, Path, description = "The token's serial number.")),
    request_body = TokenLockChange,
    responses(
        (status = 200, description = "The token locked (assigning it is refused with `This serial number is not available for use.`) or unlocked.", body = TokenLockView),
        (status = 400, description = "`admin.body.invalid`, or a token serial that is not one.", body = protocol::admin::ErrorBody),
        (status = 404, description = "No such FortiAuthenticator, or no such token on it.", body = protocol::admin::ErrorBody)))]
async fn lock_token(
    state: web::Data<Appliances>,
    path: web::Path<(String, String)>,
    Json(change): Json<TokenLockChange>,
) -> Result<HttpResponse, ApplianceError> {
    let (serial, token) = path.into_inner();
    let appliance = find_fac(&state, &serial)?;
    let token: TokenSerial = token
        .parse()
        .map_err(|e: protocol::id::IdError| ApplianceError::BadRequest(e.to_string()))?;
    if !state
        .store
        .set_token_locked(&appliance.serial, &token, change.locked)
        .await?
    {
        return Err(ApplianceError::NotFound(format!(
            "no token {token} on {}",
            appliance.serial
        )));
    }
    Ok(HttpResponse::Ok().json(TokenLockView {
        serial: token,
        locked: change.locked,
    }))
}

/// `POST /appliances/{serial}/ldap-users`: a user as the FAC's LDAP synchronisation would bring it.
#[utoipa::path(post, path = paths::APPLIANCE_LDAP_USERS, tag = "virtual FortiAuthenticators", params(("serial" = String, Path, description = "The appliance's serial number.")), request_body = NewLdapUser, responses((status = 201, description = "A user as the FAC's LDAP synchronisation would bring it.", body = protocol::fac_admin::LdapUserCreated), (status = 409, description = "The user exists.", body = protocol::admin::ErrorBody), (status = 404, description = "No such FortiAuthenticator.", body = protocol::admin::ErrorBody)))]
async fn add_ldap_user(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    Json(new): Json<NewLdapUser>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find_fac(&state, &serial)?;
    let user = ldap_user(new)?;
    let username = user.username.clone();
    match state.store.create_fac_user(&appliance.serial, user).await? {
        Ok(user) => Ok(HttpResponse::Created().json(serde_json::json!({
            "id": user.id,
            "resource_uri": paths::fill(paths::FAC_LDAPUSER, &[&user.id.to_string()]),
            "username": user.username,
            "dn": user.dn,
        }))),
        Err(UserRefusal::Exists) => Err(ApplianceError::Exists(format!(
            "{} already has a user {username}",
            appliance.serial
        ))),
        Err(UserRefusal::NoAppliance) => Err(ApplianceError::NotFound(format!(
            "no appliance {}",
            appliance.serial
        ))),
    }
}

#[utoipa::path(get, path = paths::APPLIANCE_OUTBOX, tag = "virtual FortiAuthenticators", params(("serial" = String, Path, description = "The appliance's serial number.")), responses((status = 200, description = "The emails and SMS the FortiAuthenticator sent.", body = Outbox), (status = 404, description = "No such FortiAuthenticator.", body = protocol::admin::ErrorBody)))]
async fn outbox(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find_fac(&state, &serial)?;
    Ok(HttpResponse::Ok().json(Outbox {
        messages: state.fac_outbox.of(&appliance.serial),
    }))
}

#[utoipa::path(delete, path = paths::APPLIANCE_OUTBOX, tag = "virtual FortiAuthenticators", params(("serial" = String, Path, description = "The appliance's serial number.")), responses((status = 204, description = "The outbox emptied."), (status = 404, description = "No such FortiAuthenticator.", body = protocol::admin::ErrorBody)))]
async fn clear_outbox(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find_fac(&state, &serial)?;
    state.fac_outbox.clear(Some(&appliance.serial));
    Ok(HttpResponse::NoContent().finish())
}

/// `?format=png` for the QR code itself.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageFormat {
    #[serde(default)]
    format: Option<String>,
}

/// `GET /appliances/{serial}/activation/{token}`: the offline activation page of a token provisioned offline
/// and waiting for its phone.
#[utoipa::path(get, path = paths::APPLIANCE_ACTIVATION, tag = "virtual FortiAuthenticators", params(("serial" = String, Path, description = "The appliance's serial number."), ("token" = String, Path, description = "The activation token."), ("format" = Option<String>, Query, description = "`json` (default) or `png` (the QR code itself).")), responses((status = 200, description = "The offline activation page of a token provisioned offline and waiting for its phone (`?format=png`: the QR code as a PNG).", content((protocol::fac_admin::ActivationPage = "application/json"), (Vec<u8> = "image/png"))), (status = 404, description = "No such FortiAuthenticator.", body = protocol::admin::ErrorBody)))]
async fn activation_page(
    state: web::Data<Appliances>,
    path: web::Path<(String, String)>,
    Query(format): Query<PageFormat>,
) -> Result<HttpResponse, ApplianceError> {
    let (serial, token) = path.into_inner();
    let appliance = find_offline_fac(&state, &serial)?;
    let token: TokenSerial = token
        .parse()
        .map_err(|e: protocol::id::IdError| ApplianceError::BadRequest(e.to_string()))?;
    let page =
        crate::offline::activation_page(&state.ops(), &appliance, &token, state.clock.now())?;
    match format.format.as_deref() {
        None | Some("json") => Ok(HttpResponse::Ok().json(page)),
        Some("png") => Ok(HttpResponse::Ok()
            .content_type("image/png")
            .body(crate::offline::qr_png(&page.payload)?)),
        Some(other) => Err(ApplianceError::BadRequest(format!(
            "format `{other}` is neither json nor png"
        ))),
    }
}

/// `GET /appliances/{serial}/agents`: what every virtual Windows agent holds.
#[utoipa::path(get, path = paths::APPLIANCE_AGENTS, tag = "virtual FortiAuthenticators", params(("serial" = String, Path, description = "The appliance's serial number.")), responses((status = 200, description = "What every virtual Windows agent holds.", body = Vec<protocol::fac_admin::AgentCacheView>), (status = 404, description = "No such FortiAuthenticator.", body = protocol::admin::ErrorBody)))]
async fn agents(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find_fac(&state, &serial)?;
    let views = state
        .store
        .agent_caches(&appliance.serial)?
        .iter()
        .map(|(agent, record)| crate::agent::view(agent, record))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(views))
}

/// An agent's name: what a Windows PC is called.
fn agent_name(agent: &str) -> Result<&str, ApplianceError> {
    if crate::fortitoken::valid_user_name(agent) {
        Ok(agent)
    } else {
        Err(ApplianceError::BadRequest(format!(
            "`{agent}` is not an agent name (1 to 64 printable characters, no spaces)"
        )))
    }
}

/// `POST /appliances/{serial}/agents/{agent}/sync`: the agent fetches `user`'s offline cache (`offlineotp/`).
#[utoipa::path(post, path = paths::APPLIANCE_AGENT_SYNC, tag = "virtual FortiAuthenticators", params(("serial" = String, Path, description = "The appliance's serial number."), ("agent" = String, Path, description = "The agent's id.")), request_body = AgentSync, responses((status = 200, description = "The agent fetches `user`'s offline cache (`offlineotp/`).", body = protocol::fac_admin::AgentCacheView), (status = 404, description = "No such FortiAuthenticator.", body = protocol::admin::ErrorBody)))]
async fn agent_sync(
    state: web::Data<Appliances>,
    path: web::Path<(String, String)>,
    Json(sync): Json<AgentSync>,
) -> Result<HttpResponse, ApplianceError> {
    let (serial, agent) = path.into_inner();
    let appliance = find_fac(&state, &serial)?;
    let agent = agent_name(&agent)?;
    let (_, record) = crate::agent::build(
        &state.store,
        &appliance,
        sync.user.trim(),
        None,
        state.clock.now(),
    )
    .await?;
    let view = crate::agent::view(agent, &record)?;
    state
        .store
        .save_agent_cache(&appliance.serial, agent, record)
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `POST /appliances/{serial}/agents/{agent}/login`: an offline login on the agent's PC, checked against its
/// cache alone (200 on success, 401 otherwise).
#[utoipa::path(post, path = paths::APPLIANCE_AGENT_LOGIN, tag = "virtual FortiAuthenticators", params(("serial" = String, Path, description = "The appliance's serial number."), ("agent" = String, Path, description = "The agent's id.")), request_body = AgentLogin, responses((status = 200, description = "An offline login on the agent's PC, checked against its cache alone: success.", body = protocol::fac_admin::AgentLoginOutcome), (status = 401, description = "The code was refused (the outcome says why).", body = protocol::fac_admin::AgentLoginOutcome), (status = 404, description = "No such FortiAuthenticator.", body = protocol::admin::ErrorBody)))]
async fn agent_login(
    state: web::Data<Appliances>,
    path: web::Path<(String, String)>,
    Json(login): Json<AgentLogin>,
) -> Result<HttpResponse, ApplianceError> {
    let (serial, agent) = path.into_inner();
    let appliance = find_fac(&state, &serial)?;
    let agent = agent_name(&agent)?;
    let secret = state
        .store
        .fac_config(&appliance.serial)?
        .offline_secret
        .ok_or_else(|| {
            ApplianceError::Conflict(format!(
                "{} has no offline shared secret: the agent cannot open its cache",
                appliance.serial
            ))
        })?;
    let now = state.clock.now();
    let code = login.code.clone();
    let outcome = state
        .store
        .update_agent_cache(&appliance.serial, agent, login.user.trim(), move |record| {
            crate::agent::login(record, &secret, &code, now)
        })
        .await?
        .ok_or_else(|| {
            ApplianceError::NoUser(format!(
                "agent {agent} has no offline cache for {}",
                login.user.trim()
            ))
        })?;
    let status = if outcome.result == AgentLoginResult::Success {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::UNAUTHORIZED
    };
    Ok(HttpResponse::build(status).json(outcome))
}
