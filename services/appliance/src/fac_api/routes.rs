//! The FortiAuthenticator REST API's handlers: one dispatcher under `/api/v1/` on the appliance service picks
//! the FAC by the request's host name, checks the administrator's API key (HTTP Basic), and serves each
//! resource in the Tastypie shape (`fac_rest`). Resources served: the root listing, `fortitokens/`,
//! `fortitokenmobilelicenses/`, `fortitokenmobileprovisioning/`, `userfortitokenpolicy/`, `localusers/`,
//! `ldapusers/`, `usergroups/`, `localgroup-memberships/` and `auth/`; `pushpoll/`, `transfertoken/`, `csv/`
//! and `oauth/` refuse administrator keys with 403, as FAC does.

use lab::flow::InFlow;
use std::collections::HashMap;

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use protocol::appliance::{FortiTokenStatus, LoginResult};
use protocol::fac_admin::{Attachment, Channel, MessageKind};
use protocol::fac_rest::{
    AuthAccepted, AuthRequest, FortiTokenObject, FtmLicenseCounts, FtmLicenseImport,
    FtmLicenseImported, FtmProvisioningChange, GroupMembershipObject, ImportMessages,
    LdapUserObject, LocalUserObject, NewGroupMembership, NewUserGroup, OfflineRequest,
    PushAuthRequest, ResourceEntry, TokenPolicyChange, UserChange, UserGroupObject,
};
use protocol::id::{HardwareSerial, TokenSerial};
use protocol::token_transfer::{
    TransferCodeIssued, TransferCodeRequest, TransferTokenAccepted, TransferTokenRequest,
};
use protocol::{modeled, paths};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::FacApiError;
use super::tastypie::{self, EXACT, Filterable, NUMBER, QueryParams, TEXT};
use crate::fac_messages::Outgoing;
use crate::fac_store::{FacUser, UserKind, UserRefusal, hash_password, verify_password};
use crate::fortitoken::Appliance;
use crate::routes::Appliances;
use crate::token_policy::{self, FacConfig};

/// The largest request body the FAC's API reads.
const BODY_LIMIT: usize = 64 * 1024;

/// Registers the dispatcher: every method on every path below [`paths::FAC_API`].
pub(crate) fn configure(api: &mut lab::api::Api<'_>) {
    api.emulated_product_api(paths::FAC_API, dispatch);
}

/// One request to the API: the FAC it is for, its query, its body.
struct Call<'a> {
    state: &'a Appliances,
    appliance: Appliance,
    config: FacConfig,
    query: QueryParams,
    method: Method,
    body: web::Bytes,
}

async fn dispatch(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<Appliances>,
) -> Result<HttpResponse, FacApiError> {
    let query = QueryParams::parse(request.query_string())?;
    query.check_format()?;
    let (appliance, config) = find_fac(&state, &request)?;
    let tail = request
        .match_info()
        .get("tail")
        .unwrap_or_default()
        .to_owned();
    // The phone-facing transfertoken/ takes no administrator credentials: the phone signs its request with
    // the tokens' seeds. With an administrator's key it is refused like the other phone-facing resources.
    let phone_facing = tail.trim_end_matches('/') == "transfertoken"
        && request
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .is_none();
    // The phone's answer to a push (`pushauthresp/`) is signed with the token's seed, not an administrator's
    // key, whoever sends it.
    let push_answer = tail.trim_end_matches('/') == "pushauthresp";
    if !phone_facing && !push_answer {
        authenticate(&state, &appliance, &request)?;
    }
    let body = lab::http::read_body(&request, payload.into_inner(), BODY_LIMIT)
        .await
        .map_err(|e| FacApiError::BadRequest(e.to_string()))?;
    let call = Call {
        state: &state,
        appliance,
        config,
        query,
        method: request.method().clone(),
        body,
    };
    let mut parts = tail.trim_end_matches('/').splitn(2, '/');
    let resource = parts.next().unwrap_or_default();
    let id = parts.next().filter(|id| !id.is_empty());
    match (resource, id) {
        (resource, Some("schema")) => call.schema(resource),
        ("transfertoken", None) if phone_facing => call.transfer_token().await,
        ("", None) => call.root(),
        ("fortitokens", None) => call.fortitokens(),
        ("fortitokens", Some(id)) => call.fortitoken(id).await,
        ("fortitokenmobilelicenses", None) => call.licenses().await,
        ("fortitokenmobileprovisioning", None) => call.provisioning().await,
        ("userfortitokenpolicy", None) => call.policy().await,
        ("localusers", None) => call.users(UserKind::Local).await,
        ("localusers", Some(id)) => call.user(UserKind::Local, id).await,
        ("ldapusers", None) => call.users(UserKind::Ldap).await,
        ("ldapusers", Some(id)) => call.user(UserKind::Ldap, id).await,
        ("usergroups", None) => call.groups().await,
        ("localgroup-memberships", None) => call.memberships().await,
        ("auth", None) => call.auth().await,
        ("pushauth", None) => call.push_auth().await,
        ("pushauthresp", None) => {
            call.only(&["POST"])?;
            // The phone's signed answer keeps the ftm-push listener's shape, refusals included.
            Ok(
                crate::ftm_push::answer_push(&call.state.push, &call.appliance.serial, &call.body)
                    .await
                    .unwrap_or_else(|refusal| actix_web::ResponseError::error_response(&refusal)),
            )
        }
        ("offlineotp", None) => call.offline(false).await,
        ("offlinehotpupdate", None) => call.offline(true).await,
        ("emergencytoken", None) => call.emergency().await,
        ("pushpoll" | "transfertoken" | "csv" | "oauth", _) => {
            Err(FacApiError::Forbidden(modeled::FAC_PHONE_ONLY.to_owned()))
        }
        _ => Err(FacApiError::NotFound(format!(
            "No resource at {}{tail}",
            paths::FAC_API
        ))),
    }
}

/// The FAC whose host name the request names (the `Host` header without its port); a request naming no FAC's
/// host name goes to the lab's only FAC when there is exactly one, so `https://127.0.0.1:<port>/api/v1/`
/// works in a one-FAC lab.
fn find_fac(
    state: &Appliances,
    request: &HttpRequest,
) -> Result<(Appliance, FacConfig), FacApiError> {
    let info = request.connection_info();
    let host = host_name(info.host());
    let mut facs = state.store.facs()?;
    if let Some(found) = facs
        .iter()
        .position(|(a, c)| c.host_name(&a.serial).eq_ignore_ascii_case(host))
    {
        return Ok(facs.swap_remove(found));
    }
    match facs.len() {
        1 => Ok(facs.swap_remove(0)),
        0 => Err(FacApiError::NotFound(
            "No FortiAuthenticator in this lab: create an appliance with mode fortiauthenticator"
                .to_owned(),
        )),
        _ => Err(FacApiError::NotFound(format!(
            "No FortiAuthenticator answers to host name `{host}`"
        ))),
    }
}

/// `host` without its port (`fac.lab.test:8446` → `fac.lab.test`, `[::1]:8446` → `::1`).
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// HTTP Basic with an administrator's name and API key; anything else is a bodiless 401.
fn authenticate(
    state: &Appliances,
    appliance: &Appliance,
    request: &HttpRequest,
) -> Result<(), FacApiError> {
    let header = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(FacApiError::Unauthenticated)?;
    let encoded = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))
        .ok_or(FacApiError::Unauthenticated)?;
    let decoded = BASE64
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(FacApiError::Unauthenticated)?;
    let (admin, key) = decoded
        .split_once(':')
        .ok_or(FacApiError::Unauthenticated)?;
    if state.store.check_api_key(&appliance.serial, admin, key)? {
        Ok(())
    } else {
        Err(FacApiError::Unauthenticated)
    }
}

fn json(status: StatusCode, body: &impl Serialize) -> Result<HttpResponse, FacApiError> {
    Ok(HttpResponse::build(status).json(body))
}

fn to_value(body: &impl Serialize) -> Result<Value, FacApiError> {
    serde_json::to_value(body).map_err(|e| FacApiError::Internal(e.into()))
}

/// A resource's id from its path segment.
fn parse_id(id: &str) -> Result<u64, FacApiError> {
    id.parse()
        .map_err(|_| FacApiError::NotFound(format!("No object with id `{id}`")))
}

/// `path` with the id filled in.
fn object_uri(template: &'static str, id: u64) -> String {
    paths::fill(template, &[&id.to_string()])
}

impl Call<'_> {
    /// The request body as `T`: JSON whatever the content type says.
    fn body<T: DeserializeOwned>(&self) -> Result<T, FacApiError> {
        let value: Value = serde_json::from_slice(&self.body)
            .map_err(|_| FacApiError::BadRequest(protocol::fac_rest::INVALID_JSON.to_owned()))?;
        T::deserialize(protocol::strict::Strict(value))
            .map_err(|e| FacApiError::BadRequest(e.to_string()))
    }

    fn only(&self, allowed: &'static [&'static str]) -> Result<(), FacApiError> {
        if allowed.contains(&self.method.as_str()) {
            Ok(())
        } else {
            Err(FacApiError::MethodNotAllowed(allowed))
        }
    }

    fn list(
        &self,
        objects: Vec<Value>,
        path: &str,
        filtering: &[Filterable],
    ) -> Result<HttpResponse, FacApiError> {
        let kept = tastypie::filter(objects, &self.query, filtering)?;
        json(StatusCode::OK, &tastypie::page(kept, path, &self.query)?)
    }

    fn root(&self) -> Result<HttpResponse, FacApiError> {
        self.only(&["GET"])?;
        let resources: HashMap<&str, ResourceEntry> = [
            ("fortitokens", paths::FAC_FORTITOKENS),
            ("fortitokenmobilelicenses", paths::FAC_FTM_LICENSES),
            ("fortitokenmobileprovisioning", paths::FAC_FTM_PROVISIONING),
            ("userfortitokenpolicy", paths::FAC_TOKEN_POLICY),
            ("localusers", paths::FAC_LOCALUSERS),
            ("ldapusers", paths::FAC_LDAPUSERS),
            ("usergroups", paths::FAC_USERGROUPS),
            ("localgroup-memberships", paths::FAC_GROUP_MEMBERSHIPS),
            ("auth", paths::FAC_AUTH),
            ("pushauth", paths::FAC_PUSHAUTH),
            ("pushauthresp", paths::FAC_PUSHAUTHRESP),
            ("offlineotp", paths::FAC_OFFLINE_OTP),
            ("offlinehotpupdate", paths::FAC_OFFLINE_HOTP_UPDATE),
            ("emergencytoken", paths::FAC_EMERGENCY_TOKEN),
        ]
        .into_iter()
        .map(|(name, path)| {
            (
                name,
                ResourceEntry {
                    list_endpoint: path.to_owned(),
                    schema: format!("{path}schema/"),
                },
            )
        })
        .collect();
        json(StatusCode::OK, &resources)
    }

    /// `GET <resource>/schema/`: the methods a resource serves (list, detail) and the paging defaults, for every
    /// resource the root lists.
    fn schema(&self, resource: &str) -> Result<HttpResponse, FacApiError> {
        self.only(&["GET"])?;
        let (list, detail): (&[&str], &[&str]) = match resource {
            "fortitokens" => (&["get"], &["get", "delete"]),
            "fortitokenmobilelicenses" => (&["get", "post"], &[]),
            "fortitokenmobileprovisioning" | "userfortitokenpolicy" => {
                (&["get", "post", "put", "patch"], &[])
            }
            "localusers" => (&["get", "post"], &["get", "put", "patch"]),
            "ldapusers" => (&["get"], &["get", "put", "patch"]),
            "usergroups" | "localgroup-memberships" => (&["get", "post"], &[]),
            "auth" | "pushauth" | "pushauthresp" | "offlineotp" | "offlinehotpupdate"
            | "emergencytoken" => (&["post"], &[]),
            _ => {
                return Err(FacApiError::NotFound(format!(
                    "No resource at {}{resource}/",
                    paths::FAC_API
                )));
            }
        };
        let names = |methods: &[&str]| methods.iter().map(|m| (*m).to_owned()).collect();
        json(
            StatusCode::OK,
            &protocol::fac_rest::ResourceSchema {
                allowed_list_http_methods: names(list),
                allowed_detail_http_methods: names(detail),
                default_format: "application/json".to_owned(),
                default_limit: 20,
            },
        )
    }

    /// Every token as `fortitokens/` shows it, in id order.
    fn token_objects(&self) -> Result<Vec<(TokenSerial, FortiTokenObject)>, FacApiError> {
        let now = self.state.clock.now();
        let serial = &self.appliance.serial;
        let facts = self.state.store.fac_tokens(serial)?;
        let mut objects: Vec<(TokenSerial, FortiTokenObject)> = self
            .state
            .store
            .tokens(serial)?
            .into_iter()
            .filter_map(|token| {
                let info = facts.get(&token.serial)?;
                Some((
                    token.serial.clone(),
                    FortiTokenObject {
                        id: info.id,
                        resource_uri: object_uri(paths::FAC_FORTITOKEN, info.id),
                        serial: token.serial.to_string(),
                        kind: "ftm".to_owned(),
                        status: modeled::fac_token_status(token.status_at(now)).to_owned(),
                        locked: info.locked,
                        license: token.license.to_string(),
                        last_used_at: info
                            .last_used_at
                            .map(|secs| protocol::time::UnixTime::from_secs(secs).rfc3339()),
                    },
                ))
            })
            .collect();
        objects.sort_by_key(|(_, o)| o.id);
        Ok(objects)
    }

    /// Every hardware token (type `ftk`) as `fortitokens/` shows it, in id order.
    fn hardware_objects(&self) -> Result<Vec<(HardwareSerial, FortiTokenObject)>, FacApiError> {
        let serial = &self.appliance.serial;
        let facts = self.state.store.fac_hardware_tokens(serial)?;
        let mut objects: Vec<(HardwareSerial, FortiTokenObject)> = self
            .state
            .store
            .hardware()
            .tokens(serial)?
            .into_iter()
            .filter_map(|token| {
                let info = facts.get(&token.serial)?;
                Some((
                    token.serial.clone(),
                    FortiTokenObject {
                        id: info.id,
                        resource_uri: object_uri(paths::FAC_FORTITOKEN, info.id),
                        serial: token.serial.to_string(),
                        kind: "ftk".to_owned(),
                        status: modeled::fac_hardware_token_status(token.status.name()).to_owned(),
                        locked: info.locked,
                        license: String::new(),
                        last_used_at: info
                            .last_used_at
                            .map(|secs| protocol::time::UnixTime::from_secs(secs).rfc3339()),
                    },
                ))
            })
            .collect();
        objects.sort_by_key(|(_, o)| o.id);
        Ok(objects)
    }

    /// `GET fortitokens/`: mobile (`ftm`) and hardware (`ftk`) tokens, in id order, with Tastypie's filters.
    fn fortitokens(&self) -> Result<HttpResponse, FacApiError> {
        self.only(&["GET"])?;
        let mut all: Vec<FortiTokenObject> = self
            .token_objects()?
            .into_iter()
            .map(|(_, o)| o)
            .chain(self.hardware_objects()?.into_iter().map(|(_, o)| o))
            .collect();
        all.sort_by_key(|o| o.id);
        let objects = all.iter().map(to_value).collect::<Result<_, _>>()?;
        self.list(
            objects,
            paths::FAC_FORTITOKENS,
            &[
                Filterable {
                    field: "serial",
                    lookups: TEXT,
                },
                Filterable {
                    field: "type",
                    lookups: EXACT,
                },
                Filterable {
                    field: "status",
                    lookups: EXACT,
                },
                Filterable {
                    field: "license",
                    lookups: TEXT,
                },
                Filterable {
                    field: "id",
                    lookups: NUMBER,
                },
            ],
        )
    }

    async fn fortitoken(&self, id: &str) -> Result<HttpResponse, FacApiError> {
        self.only(&["GET", "DELETE"])?;
        let id = parse_id(id)?;
        if let Some((token, object)) = self
            .hardware_objects()?
            .into_iter()
            .find(|(_, o)| o.id == id)
        {
            if self.method == Method::GET {
                return json(StatusCode::OK, &object);
            }
            return match self
                .state
                .store
                .hardware()
                .delete(&self.appliance.serial, &token)
                .await?
            {
                Ok(_) => Ok(HttpResponse::NoContent().finish()),
                Err(user) => Err(FacApiError::BadRequest(format!(
                    "FortiToken {token} is assigned to user {user}: unassign it first"
                ))),
            };
        }
        let (token, object) = self
            .token_objects()?
            .into_iter()
            .find(|(_, o)| o.id == id)
            .ok_or_else(|| FacApiError::NotFound(format!("No FortiToken with id {id}")))?;
        if self.method == Method::GET {
            return json(StatusCode::OK, &object);
        }
        match self
            .state
            .store
            .delete_token(&self.appliance.serial, &token)
            .await?
        {
            Ok(_) => Ok(HttpResponse::NoContent().finish()),
            Err(user) => Err(FacApiError::BadRequest(format!(
                "FortiToken {token} is assigned to user {user}: unassign it first"
            ))),
        }
    }

    async fn licenses(&self) -> Result<HttpResponse, FacApiError> {
        self.only(&["GET", "POST"])?;
        if self.method == Method::POST {
            let import: FtmLicenseImport = self.body()?;
            let outcome = self
                .state
                .ops()
                .import(&self.appliance, import.license.trim())
                .await?;
            return json(
                StatusCode::CREATED,
                &FtmLicenseImported {
                    license: import.license.trim().to_owned(),
                    messages: ImportMessages {
                        success: format!(
                            "Successfully imported {} FortiTokens",
                            outcome.tokens.len()
                        ),
                    },
                },
            );
        }
        let objects = self.token_objects()?;
        let available = objects
            .iter()
            .filter(|(_, o)| o.status == "available")
            .count();
        json(
            StatusCode::OK,
            &FtmLicenseCounts {
                available_ftm: available,
                total_ftm: objects.len(),
                used_ftm: objects.len() - available,
            },
        )
    }

    async fn provisioning(&self) -> Result<HttpResponse, FacApiError> {
        self.only(&["GET", "POST", "PUT", "PATCH"])?;
        if self.method != Method::GET {
            let change: FtmProvisioningChange = self.body()?;
            self.change_config(move |settings, config| {
                token_policy::apply_provisioning(settings, config, &change)
            })
            .await?;
        }
        let appliance = self.fresh_appliance()?;
        let config = self.state.store.fac_config(&appliance.serial)?;
        json(
            StatusCode::OK,
            &token_policy::provisioning_view(&appliance.settings, &config),
        )
    }

    async fn policy(&self) -> Result<HttpResponse, FacApiError> {
        self.only(&["GET", "POST", "PUT", "PATCH"])?;
        if self.method != Method::GET {
            let change: TokenPolicyChange = self.body()?;
            self.change_config(move |settings, config| {
                token_policy::apply_policy(settings, config, &change)
            })
            .await?;
        }
        let appliance = self.fresh_appliance()?;
        let config = self.state.store.fac_config(&appliance.serial)?;
        json(
            StatusCode::OK,
            &token_policy::policy_view(&appliance.settings, &config),
        )
    }

    async fn change_config(
        &self,
        change: impl FnOnce(
            &mut protocol::appliance::ApplianceSettings,
            &mut FacConfig,
        ) -> Result<(), String>
        + Send
        + 'static,
    ) -> Result<(), FacApiError> {
        match self
            .state
            .store
            .update_fac(&self.appliance.serial, change)
            .await?
        {
            Some(Ok(())) => Ok(()),
            Some(Err(refused)) => Err(FacApiError::BadRequest(refused)),
            None => Err(FacApiError::NotFound(format!(
                "No FortiAuthenticator {}",
                self.appliance.serial
            ))),
        }
    }

    fn fresh_appliance(&self) -> Result<Appliance, FacApiError> {
        self.state
            .store
            .appliance(&self.appliance.serial)?
            .ok_or_else(|| FacApiError::NotFound(format!("No appliance {}", self.appliance.serial)))
    }

    /// A user as its resource shows it (`?returnseed=` adds the seed where asked).
    fn user_object(&self, user: &FacUser, seed: Option<String>) -> Result<Value, FacApiError> {
        let holder = self
            .state
            .store
            .user(&self.appliance.serial, &user.username)?;
        let token_status = match &holder {
            Some(holder) => self
                .state
                .store
                .tokens(&self.appliance.serial)?
                .into_iter()
                .find(|t| t.serial == holder.token)
                .map(|t| t.status_at(self.state.clock.now())),
            None => None,
        };
        let reason = modeled::fac_user_reason(token_status, user.reason);
        let token_serial = match holder {
            Some(holder) => Some(holder.token.to_string()),
            None => self
                .state
                .store
                .hardware()
                .user(&self.appliance.serial, &user.username)?
                .map(|h| h.token.to_string()),
        };
        match user.kind {
            UserKind::Local => to_value(&LocalUserObject {
                id: user.id,
                resource_uri: object_uri(paths::FAC_LOCALUSER, user.id),
                username: user.username.clone(),
                first_name: user.first_name.clone(),
                last_name: user.last_name.clone(),
                email: user.email.clone(),
                mobile_number: user.mobile_number.clone(),
                active: user.active,
                token_auth: user.token_auth,
                token_type: user.token_type.clone(),
                token_serial,
                ftm_act_method: user.ftm_act_method.clone(),
                custom1: user.custom[0].clone(),
                custom2: user.custom[1].clone(),
                custom3: user.custom[2].clone(),
                reason,
                expires_at: user.expires_at.clone(),
                seed,
            }),
            UserKind::Ldap => to_value(&LdapUserObject {
                id: user.id,
                resource_uri: object_uri(paths::FAC_LDAPUSER, user.id),
                username: user.username.clone(),
                dn: user.dn.clone(),
                active: user.active,
                first_name: user.first_name.clone(),
                last_name: user.last_name.clone(),
                email: user.email.clone(),
                mobile_number: user.mobile_number.clone(),
                token_auth: user.token_auth,
                token_type: user.token_type.clone(),
                token_serial,
                ftm_act_method: user.ftm_act_method.clone(),
                seed,
            }),
        }
    }

    fn users_of(&self, kind: UserKind) -> Result<Vec<FacUser>, FacApiError> {
        let mut users: Vec<FacUser> = self
            .state
            .store
            .fac_users(&self.appliance.serial)?
            .into_iter()
            .filter(|u| u.kind == kind)
            .collect();
        users.sort_by_key(|u| u.id);
        Ok(users)
    }

    async fn users(&self, kind: UserKind) -> Result<HttpResponse, FacApiError> {
        match kind {
            UserKind::Local => self.only(&["GET", "POST"])?,
            UserKind::Ldap => self.only(&["GET"])?,
        }
        if self.method == Method::POST {
            return self.create_user().await;
        }
        let objects = self
            .users_of(kind)?
            .iter()
            .map(|u| self.user_object(u, None))
            .collect::<Result<_, _>>()?;
        let path = match kind {
            UserKind::Local => paths::FAC_LOCALUSERS,
            UserKind::Ldap => paths::FAC_LDAPUSERS,
        };
        self.list(
            objects,
            path,
            &[
                Filterable {
                    field: "id",
                    lookups: NUMBER,
                },
                Filterable {
                    field: "username",
                    lookups: TEXT,
                },
                Filterable {
                    field: "email",
                    lookups: TEXT,
                },
                Filterable {
                    field: "dn",
                    lookups: TEXT,
                },
                Filterable {
                    field: "active",
                    lookups: EXACT,
                },
                Filterable {
                    field: "token_auth",
                    lookups: EXACT,
                },
                Filterable {
                    field: "token_serial",
                    lookups: TEXT,
                },
            ],
        )
    }

    /// `POST localusers/`: 207 with `[{…the user…, "statue": 201}]`; a user created with FortiToken Mobile
    /// authentication and no serial gets the next Available token and its activation message. Everything is
    /// checked before anything is written: a refused request (a taken name, a serial that is not available,
    /// no free token) leaves no user behind. With a token, the provisioning creates the user and assigns the
    /// token in one transaction; only the activation message can fail after that (the user and its token
    /// stay, as on FAC, and a retry sends the message again).
    async fn create_user(&self) -> Result<HttpResponse, FacApiError> {
        let change: UserChange = self.body()?;
        let username = change
            .username
            .clone()
            .map(|u| u.trim().to_owned())
            .filter(|u| crate::fortitoken::valid_user_name(u))
            .ok_or_else(|| {
                FacApiError::BadRequest(
                    "username: 1 to 64 printable characters, no spaces".to_owned(),
                )
            })?;
        let mut user = FacUser::named(&username, UserKind::Local);
        let wants_token = apply_user_change(&mut user, &change)?;
        if let Some(password) = &change.password {
            user.password_hash = Some(hash_password(password));
        }
        let serial = &self.appliance.serial;
        let exists = || {
            FacApiError::BadRequest(format!("A user with username `{username}` already exists."))
        };
        let user = match wants_token {
            None => match self.state.store.create_fac_user(serial, user).await? {
                Ok(user) => user,
                Err(UserRefusal::Exists) => return Err(exists()),
                Err(UserRefusal::NoAppliance) => {
                    return Err(FacApiError::NotFound(
                        "No such FortiAuthenticator".to_owned(),
                    ));
                }
            },
            Some(wanted) => {
                if self.state.store.fac_user(serial, &username)?.is_some()
                    || self.state.store.user(serial, &username)?.is_some()
                {
                    return Err(exists());
                }
                let token = self.pick_token(&username, wanted.as_deref())?;
                let outcome = self.provision_token(&username, &token).await?;
                let fields = user.clone();
                self.state
                    .store
                    .update_fac_user(serial, &username, move |stored| {
                        let id = stored.id;
                        *stored = fields;
                        stored.id = id;
                        Ok::<_, FacApiError>(())
                    })
                    .await?
                    .transpose()?;
                self.send_activation(&user, &outcome).await?;
                // FAC 8.0.0 answers the creation as failed although the message went out; the user and
                // its token stay, and a retry sends the message again.
                let profile = self.state.profile_of(&self.appliance)?;
                if outcome.token.activation_code.is_some()
                    && modeled::fac_reports_sent_activation_as_failed(&profile.firmware)
                {
                    return Err(FacApiError::ActivationMessageFailed);
                }
                user
            }
        };
        let user = self
            .state
            .store
            .fac_user(serial, &username)?
            .unwrap_or(user);
        let mut object = self.user_object(&user, None)?;
        if let Value::Object(map) = &mut object {
            map.insert(
                modeled::FAC_STATUE_KEY.to_owned(),
                Value::from(StatusCode::CREATED.as_u16()),
            );
        }
        json(StatusCode::MULTI_STATUS, &vec![object])
    }

    /// `PATCH localusers/{id}/` (and `ldapusers/{id}/`): the whole change is checked, the token it asks for
    /// included, before anything is written; then the token is provisioned (the token and the user's
    /// `token_auth` in one transaction), then the user's fields are saved, then the activation message goes
    /// out. Asking again for the token the user holds while it waits for activation provisions it again and
    /// sends a new message (the retry after `Failed to send FortiToken Mobile activation message`).
    async fn user(&self, kind: UserKind, id: &str) -> Result<HttpResponse, FacApiError> {
        self.only(&["GET", "PATCH", "PUT"])?;
        let id = parse_id(id)?;
        let user = self
            .users_of(kind)?
            .into_iter()
            .find(|u| u.id == id)
            .ok_or_else(|| FacApiError::NotFound(format!("No user with id {id}")))?;
        if self.method == Method::GET {
            return json(StatusCode::OK, &self.user_object(&user, None)?);
        }
        let change: UserChange = self.body()?;
        if change
            .username
            .as_deref()
            .is_some_and(|u| u != user.username)
        {
            return Err(FacApiError::BadRequest(
                "username: a user cannot be renamed".to_owned(),
            ));
        }
        let returnseed = match self.query.get("returnseed") {
            None | Some("0") => None,
            Some("1") => Some(1),
            Some("2") => Some(2),
            Some(other) => {
                return Err(FacApiError::BadRequest(format!(
                    "returnseed={other}: only 1 (encrypted) and 2 (plain) are known"
                )));
            }
        };
        if returnseed == Some(1) && self.config.seed_passphrase.is_none() {
            return Err(FacApiError::BadRequest(
                "returnseed=1 needs the token policy's seed encryption passphrase".to_owned(),
            ));
        }
        // Check the whole change, and pick the token it asks for, before anything is written.
        let serial = &self.appliance.serial;
        let mut checked = user.clone();
        let wants_token = apply_user_change(&mut checked, &change)?;
        if checked.token_auth
            && checked.token_type.as_deref() == Some("ftk")
            && (change.token_auth == Some(true) || change.token_serial.is_some())
        {
            return self.assign_hardware(&user, change).await;
        }
        let token = match &wants_token {
            None => None,
            Some(wanted) => {
                let now = self.state.clock.now();
                let held = match self.state.store.user(serial, &user.username)? {
                    Some(holder) => self
                        .state
                        .store
                        .tokens(serial)?
                        .into_iter()
                        .find(|t| t.serial == holder.token),
                    None => None,
                };
                match held {
                    Some(held)
                        if wanted.as_deref().is_none_or(|w| {
                            held.serial.as_str().eq_ignore_ascii_case(w.trim())
                        }) =>
                    {
                        // The token the user holds: provisioned again only while it waits for activation.
                        matches!(
                            held.status_at(now),
                            FortiTokenStatus::Pending | FortiTokenStatus::ProvisionTimeout
                        )
                        .then(|| held.serial.to_string())
                    }
                    _ => Some(self.pick_token(&user.username, wanted.as_deref())?),
                }
            }
        };
        let outcome = match &token {
            Some(token) => Some(self.provision_token(&user.username, token).await?),
            None => None,
        };
        let password = change.password.clone().map(|p| hash_password(&p));
        let updated = self
            .state
            .store
            .update_fac_user(serial, &user.username, move |stored| {
                apply_user_change(stored, &change)?;
                if let Some(hash) = password {
                    stored.password_hash = Some(hash);
                }
                Ok::<_, FacApiError>(())
            })
            .await?;
        match updated {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(e),
            None => return Err(FacApiError::NotFound(format!("No user with id {id}"))),
        }
        let mut seed = None;
        if let Some(outcome) = &outcome {
            self.send_activation(&checked, outcome).await?;
            if let Some(mode) = returnseed
                && let Some(plain) = self.state.store.seed_of(serial, &outcome.token.serial)?
            {
                seed = Some(
                    modeled::returned_seed(
                        mode,
                        &plain,
                        self.config.seed_passphrase.as_deref(),
                        rand::random(),
                    )
                    .map_err(FacApiError::BadRequest)?,
                );
            }
        }
        let user = self
            .state
            .store
            .fac_user(serial, &user.username)?
            .unwrap_or(user);
        json(StatusCode::ACCEPTED, &self.user_object(&user, seed)?)
    }

    /// `PATCH` a user with `{"token_auth": true, "token_type": "ftk", "token_serial": "FTK…"}`: the hardware
    /// token (or, with no serial, the next available one that is not locked) is checked as a mobile token is
    /// (unknown, locked, without its seed or another user's: "This serial number is not available for use."),
    /// assigned in one transaction, then the user's fields are saved. Nothing is sent: the user holds the token.
    async fn assign_hardware(
        &self,
        user: &FacUser,
        change: UserChange,
    ) -> Result<HttpResponse, FacApiError> {
        let serial = &self.appliance.serial;
        let objects = self.hardware_objects()?;
        let wanted = change
            .token_serial
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let held_by = |token: &HardwareSerial| -> Result<Option<String>, FacApiError> {
            Ok(self
                .state
                .store
                .hardware()
                .tokens(serial)?
                .into_iter()
                .find(|t| &t.serial == token)
                .and_then(|t| t.user))
        };
        let picked = match wanted {
            Some(wanted) => objects
                .iter()
                .find(|(token, _)| token.as_str().eq_ignore_ascii_case(wanted)),
            None => objects
                .iter()
                .find(|(_, o)| o.status == "available" && !o.locked),
        };
        let Some((token, object)) = picked else {
            return Err(FacApiError::SerialNotAvailable);
        };
        let mine = held_by(token)?.is_some_and(|holder| holder == user.username);
        if object.locked || !(object.status == "available" || mine) {
            return Err(FacApiError::SerialNotAvailable);
        }
        if self.state.store.user(serial, &user.username)?.is_some() {
            return Err(FacApiError::BadRequest(format!(
                "{} already has a FortiToken Mobile token: unassign it first",
                user.username
            )));
        }
        match self
            .state
            .store
            .hardware()
            .assign(serial, token.to_string(), user.username.clone())
            .await?
        {
            Ok(_) => {}
            Err(crate::hardware_store::AssignRefusal::Taken(why)) => {
                return Err(FacApiError::BadRequest(why));
            }
            Err(_) => return Err(FacApiError::SerialNotAvailable),
        }
        let updated = self
            .state
            .store
            .update_fac_user(serial, &user.username, move |stored| {
                apply_user_change(stored, &change)?;
                Ok::<_, FacApiError>(())
            })
            .await?;
        match updated {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(e),
            None => {
                return Err(FacApiError::NotFound(format!(
                    "No user with id {}",
                    user.id
                )));
            }
        }
        let user = self
            .state
            .store
            .fac_user(serial, &user.username)?
            .unwrap_or_else(|| user.clone());
        json(StatusCode::ACCEPTED, &self.user_object(&user, None)?)
    }

    /// Refuses a token that is locked, unknown, or another user's, as FAC does.
    fn check_assignable(&self, user: &str, wanted: &str) -> Result<(), FacApiError> {
        let objects = self.token_objects()?;
        let Some((serial, object)) = objects
            .iter()
            .find(|(serial, _)| serial.as_str().eq_ignore_ascii_case(wanted.trim()))
        else {
            return Err(FacApiError::SerialNotAvailable);
        };
        let holder = self.state.store.holder(&self.appliance.serial, serial)?;
        if object.locked || holder.is_some_and(|h| h.name != user) {
            return Err(FacApiError::SerialNotAvailable);
        }
        Ok(())
    }

    /// The token a request for `user` asks for, checked before anything is written: the serial it names
    /// (refused when locked, unknown or another user's), or with none the next Available token that is not
    /// locked (refused when there is none).
    fn pick_token(&self, user: &str, wanted: Option<&str>) -> Result<String, FacApiError> {
        match wanted {
            Some(wanted) => {
                self.check_assignable(user, wanted)?;
                Ok(wanted.trim().to_owned())
            }
            None => self
                .token_objects()?
                .into_iter()
                .find(|(_, o)| o.status == "available" && !o.locked)
                .map(|(serial, _)| serial.to_string())
                .ok_or(FacApiError::SerialNotAvailable),
        }
    }

    /// Provisions `token` for `user`: the token and the user (created as a local user when it does not exist
    /// yet) change in one transaction, or nothing changes.
    async fn provision_token(
        &self,
        user: &str,
        token: &str,
    ) -> Result<protocol::appliance::ProvisionOutcome, FacApiError> {
        Ok(self
            .state
            .ops()
            .provision(&self.appliance, token, Some(user), None)
            .await?)
    }

    /// Sends the activation message of a provisioned token to `user` by its activation method.
    async fn send_activation(
        &self,
        user: &FacUser,
        outcome: &protocol::appliance::ProvisionOutcome,
    ) -> Result<(), FacApiError> {
        let Some(code) = outcome.token.activation_code.clone() else {
            // Offline provisioning: the activation page carries the QR code, nothing is sent.
            return Ok(());
        };
        let expires = outcome
            .token
            .activation_expire
            .map(|secs| protocol::time::UnixTime::from_secs(secs).rfc3339())
            .unwrap_or_default();
        let (channel, to) = if user.ftm_act_method == "sms" {
            (Channel::Sms, user.mobile_number.clone())
        } else {
            (Channel::Email, user.email.clone())
        };
        // The message goes out the way every appliance's activation message does (email over SMTP to the
        // suite's listener, with the QR code, or SMS to the sink), captured under `/__admin/messages`; the
        // FAC's outbox keeps its copy in FortiAuthenticator's wording.
        if !to.trim().is_empty() {
            let recipient = match channel {
                Channel::Email => crate::delivery::Recipient::Email(to.trim().to_owned()),
                Channel::Sms => crate::delivery::Recipient::Sms(
                    to.chars().filter(|c| !matches!(c, '-' | ' ')).collect(),
                ),
            };
            let expires_at = protocol::time::UnixTime::from_secs(
                outcome.token.activation_expire.unwrap_or_default(),
            );
            crate::delivery::send_activation(
                self.state,
                &self.appliance,
                &user.username,
                &recipient,
                outcome.token.serial.as_str(),
                &code,
                expires_at,
            )
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "FortiToken Mobile activation message not sent");
                FacApiError::ActivationMessageFailed
            })?;
        }
        let (subject, body, attachments) = match channel {
            Channel::Email => {
                let (subject, body) = modeled::activation_email(
                    &user.username,
                    &outcome.token.serial,
                    &code,
                    &expires,
                );
                let png = crate::offline::qr_png(&outcome.qr_code)?;
                (
                    subject,
                    body,
                    vec![Attachment {
                        filename: "activation.png".to_owned(),
                        content_type: "image/png".to_owned(),
                        data: BASE64.encode(png),
                    }],
                )
            }
            Channel::Sms => (
                String::new(),
                modeled::activation_sms(&outcome.token.serial, &code, &expires),
                Vec::new(),
            ),
        };
        self.state
            .fac_outbox
            .send(
                Outgoing {
                    appliance: self.appliance.serial.clone(),
                    kind: MessageKind::Activation,
                    channel,
                    user: user.username.clone(),
                    to,
                    subject,
                    body,
                    code,
                    attachments,
                },
                self.state.clock.now(),
            )
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "FortiToken Mobile activation message not sent");
                FacApiError::ActivationMessageFailed
            })
    }

    async fn groups(&self) -> Result<HttpResponse, FacApiError> {
        self.only(&["GET", "POST"])?;
        let serial = &self.appliance.serial;
        if self.method == Method::POST {
            let group: NewUserGroup = self.body()?;
            let name = group.name.trim().to_owned();
            if name.is_empty() || name.len() > 64 {
                return Err(FacApiError::BadRequest(
                    "name: 1 to 64 characters".to_owned(),
                ));
            }
            let created = self
                .state
                .store
                .create_fac_group(serial, &name)
                .await?
                .ok_or_else(|| {
                    FacApiError::BadRequest(format!("A group named `{name}` already exists."))
                })?;
            return json(
                StatusCode::CREATED,
                &UserGroupObject {
                    id: created.id,
                    resource_uri: object_uri(paths::FAC_USERGROUP, created.id),
                    name: created.name,
                },
            );
        }
        let objects = self
            .state
            .store
            .fac_groups(serial)?
            .into_iter()
            .map(|g| {
                to_value(&UserGroupObject {
                    id: g.id,
                    resource_uri: object_uri(paths::FAC_USERGROUP, g.id),
                    name: g.name,
                })
            })
            .collect::<Result<_, _>>()?;
        self.list(
            objects,
            paths::FAC_USERGROUPS,
            &[Filterable {
                field: "name",
                lookups: TEXT,
            }],
        )
    }

    async fn memberships(&self) -> Result<HttpResponse, FacApiError> {
        self.only(&["GET", "POST"])?;
        let serial = &self.appliance.serial;
        if self.method == Method::POST {
            let membership: NewGroupMembership = self.body()?;
            let users: Vec<String> = self
                .users_of(UserKind::Local)?
                .iter()
                .map(|u| object_uri(paths::FAC_LOCALUSER, u.id))
                .collect();
            if !users.contains(&membership.user) {
                return Err(FacApiError::BadRequest(format!(
                    "user: `{}` is not a local user's resource_uri",
                    membership.user
                )));
            }
            let groups: Vec<String> = self
                .state
                .store
                .fac_groups(serial)?
                .iter()
                .map(|g| object_uri(paths::FAC_USERGROUP, g.id))
                .collect();
            if !groups.contains(&membership.group) {
                return Err(FacApiError::BadRequest(format!(
                    "group: `{}` is not a user group's resource_uri",
                    membership.group
                )));
            }
            let created = self
                .state
                .store
                .create_fac_membership(serial, &membership.user, &membership.group)
                .await?
                .ok_or_else(|| {
                    FacApiError::BadRequest("The user is in that group already.".to_owned())
                })?;
            return json(
                StatusCode::CREATED,
                &GroupMembershipObject {
                    id: created.id,
                    resource_uri: object_uri(paths::FAC_GROUP_MEMBERSHIP, created.id),
                    user: created.user,
                    group: created.group,
                },
            );
        }
        let objects = self
            .state
            .store
            .fac_memberships(serial)?
            .into_iter()
            .map(|m| {
                to_value(&GroupMembershipObject {
                    id: m.id,
                    resource_uri: object_uri(paths::FAC_GROUP_MEMBERSHIP, m.id),
                    user: m.user,
                    group: m.group,
                })
            })
            .collect::<Result<_, _>>()?;
        self.list(
            objects,
            paths::FAC_GROUP_MEMBERSHIPS,
            &[
                Filterable {
                    field: "user",
                    lookups: EXACT,
                },
                Filterable {
                    field: "group",
                    lookups: EXACT,
                },
            ],
        )
    }

    /// `auth/` for a user with email or SMS tokens: without a code, a fresh one is sent (valid the token
    /// policy's timeout) and the answer asks for it; with one, it is redeemed once.
    async fn auth_by_message(
        &self,
        user: &FacUser,
        code: Option<&str>,
    ) -> Result<HttpResponse, FacApiError> {
        let serial = &self.appliance.serial;
        let now = self.state.clock.now();
        let Some(code) = code else {
            let channel = if user.token_type.as_deref() == Some("sms") {
                Channel::Sms
            } else {
                Channel::Email
            };
            let timeout = self.config.email_sms_token_timeout;
            let code: String = {
                let mut rng = rand::thread_rng();
                (0..modeled::EMAIL_SMS_CODE_DIGITS)
                    .map(|_| char::from(b'0' + rand::Rng::gen_range(&mut rng, 0..10u8)))
                    .collect()
            };
            let (subject, body) = modeled::token_code_message(&code, timeout);
            let (name, to) = match channel {
                Channel::Email => ("email", user.email.clone()),
                Channel::Sms => ("sms", user.mobile_number.clone()),
            };
            self.state
                .store
                .issue_token_code(
                    serial,
                    &user.username,
                    &code,
                    name,
                    protocol::time::UnixTime::from_secs(now.secs() + i64::from(timeout)),
                )
                .await?;
            self.state
                .fac_outbox
                .send(
                    Outgoing {
                        appliance: serial.clone(),
                        kind: MessageKind::TokenCode,
                        channel,
                        user: user.username.clone(),
                        to,
                        subject,
                        body,
                        code,
                        attachments: Vec::new(),
                    },
                    now,
                )
                .await
                .map_err(|e| {
                    FacApiError::Status(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
                })?;
            return Err(FacApiError::Refused(modeled::fac_token_code_sent(name)));
        };
        if self
            .state
            .store
            .redeem_token_code(serial, &user.username, code, now)
            .await?
        {
            self.state
                .store
                .succeed_fac_login(serial, &user.username)
                .await?;
            return json(
                StatusCode::OK,
                &AuthAccepted {
                    username: user.username.clone(),
                    status: modeled::FAC_AUTH_OK.to_owned(),
                },
            );
        }
        self.state
            .store
            .fail_fac_login(serial, &user.username, self.appliance.settings, now)
            .await?;
        Err(FacApiError::Refused(modeled::FAC_AUTH_FAILED.to_owned()))
    }

    /// `POST transfertoken/` from the old phone (token transfer between phones, steps 5 to 7): with the
    /// token policy's FortiToken Mobile transfer on and the request signed with the tokens' seeds, the FAC
    /// fetches the transfer code from the transfer service and sends it to the tokens' user by email (QR code
    /// attached) or SMS.
    async fn transfer_token(&self) -> Result<HttpResponse, FacApiError> {
        self.only(&["POST"])?;
        let request: TransferTokenRequest = self.body()?;
        if !self.config.transfer_enabled {
            return Err(FacApiError::Forbidden(
                modeled::FAC_TRANSFER_DISABLED.text.to_owned(),
            ));
        }
        let serial = &self.appliance.serial;
        let not_holder =
            || FacApiError::Forbidden(modeled::FAC_TRANSFER_NOT_HOLDER.text.to_owned());
        if !request.sn.trim().eq_ignore_ascii_case(serial.as_str()) || request.tokens.is_empty() {
            return Err(not_holder());
        }
        let mut seeds = Vec::new();
        let mut holder = None;
        for token in &request.tokens {
            let token: TokenSerial = token
                .parse()
                .map_err(|e: protocol::id::IdError| FacApiError::BadRequest(e.to_string()))?;
            let seed = self
                .state
                .store
                .seed_of(serial, &token)?
                .ok_or_else(not_holder)?;
            let user = self
                .state
                .store
                .holder(serial, &token)?
                .ok_or_else(not_holder)?;
            holder.get_or_insert(user.name);
            seeds.push((token, seed));
        }
        let pairs: Vec<(&str, &[u8])> = seeds
            .iter()
            .map(|(t, s)| (t.as_str(), s.as_bytes()))
            .collect();
        let expected = modeled::transfer_hmac(serial.as_str(), &request.reg_id, &pairs);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            expected.as_bytes(),
            request.hmac.as_bytes(),
        )) {
            return Err(not_holder());
        }
        let url = format!(
            "{}{}",
            self.appliance
                .ftm_url
                .resolve(&self.state.default_ftm_url)
                .trim_end_matches('/'),
            paths::TOKEN_TRANSFER_CODE
        );
        let gateway =
            |e: reqwest::Error| FacApiError::Status(StatusCode::BAD_GATEWAY, format!("{url}: {e}"));
        let issued: TransferCodeIssued = self
            .state
            .http
            .post(&url)
            .in_flow()
            .json(&TransferCodeRequest {
                sn: serial.to_string(),
                transfer_id: request.transfer_id.clone(),
            })
            .send()
            .await
            .map_err(gateway)?
            .json()
            .await
            .map_err(gateway)?;
        let code = match (issued.transfer_code, issued.error) {
            (Some(code), None) => code,
            (_, error) => {
                return Err(FacApiError::BadRequest(error.map_or_else(
                    || "no transfer code".to_owned(),
                    |e| e.error_message,
                )));
            }
        };
        let name = holder.unwrap_or_default();
        let user = self
            .state
            .store
            .fac_user(serial, &name)?
            .unwrap_or_else(|| FacUser::named(&name, UserKind::Local));
        let (channel, to, method) = if user.ftm_act_method == "sms" {
            (Channel::Sms, user.mobile_number.clone(), "sms")
        } else {
            (Channel::Email, user.email.clone(), "email")
        };
        let qr = modeled::transfer_qr_payload(&code);
        let attachments = match channel {
            Channel::Email => vec![Attachment {
                filename: "transfer.png".to_owned(),
                content_type: "image/png".to_owned(),
                data: BASE64.encode(crate::offline::qr_png(&qr)?),
            }],
            Channel::Sms => Vec::new(),
        };
        self.state
            .fac_outbox
            .send(
                Outgoing {
                    appliance: serial.clone(),
                    kind: MessageKind::TransferCode,
                    channel,
                    user: name.clone(),
                    to,
                    subject: modeled::TRANSFER_EMAIL_SUBJECT.to_owned(),
                    body: modeled::transfer_message(&name, &code),
                    code,
                    attachments,
                },
                self.state.clock.now(),
            )
            .await
            .map_err(|e| FacApiError::BadRequest(e.to_string()))?;
        json(
            StatusCode::OK,
            &TransferTokenAccepted {
                status: "code-sent".to_owned(),
                message: format!("Transfer Activation Code sent by {method}"),
                method: method.to_owned(),
            },
        )
    }

    /// `POST pushauth/`: sends the user an FTM push through the FAC's ftm-push settings and waits for the
    /// phone's answer (the phone answers on the FAC's `pushauthresp/`, served by its ftm-push listener and on
    /// this API). A user that does not exist or holds no FortiToken Mobile token gets 404.
    async fn push_auth(&self) -> Result<HttpResponse, FacApiError> {
        self.only(&["POST"])?;
        let request: PushAuthRequest = self.body()?;
        let name = request.username.trim().to_owned();
        if self
            .state
            .store
            .user(&self.appliance.serial, &name)?
            .is_none()
        {
            return Err(FacApiError::NotFound(
                modeled::FAC_PUSH_NO_USER.text.to_owned(),
            ));
        }
        let client_ip = request.user_ip.as_deref().unwrap_or("203.0.113.10");
        let outcome =
            crate::ftm_push::login(&self.state.push, &self.appliance, &name, client_ip).await?;
        match outcome.result {
            LoginResult::Success => json(
                StatusCode::OK,
                &AuthAccepted {
                    username: name,
                    status: modeled::FAC_AUTH_OK.to_owned(),
                },
            ),
            LoginResult::Locked => Err(FacApiError::Forbidden(modeled::FAC_USER_LOCKED.to_owned())),
            LoginResult::PushFailed if outcome.message.contains("refus") => {
                Err(FacApiError::Status(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    protocol::fac_rest::PUSH_SERVER_REFUSING.to_owned(),
                ))
            }
            LoginResult::PushFailed => Err(FacApiError::Status(
                StatusCode::SERVICE_UNAVAILABLE,
                protocol::fac_rest::PUSH_SERVER_UNREACHABLE.to_owned(),
            )),
            _ => Err(FacApiError::Refused(modeled::FAC_AUTH_FAILED.to_owned())),
        }
    }

    /// `POST offlineotp/` (and `offlinehotpupdate/` with the last counter the agent used): the user's
    /// offline cache for the Windows agent, sealed with the shared secret.
    async fn offline(&self, hotp_update: bool) -> Result<HttpResponse, FacApiError> {
        self.only(&["POST"])?;
        let request: OfflineRequest = self.body()?;
        let used = match (hotp_update, request.counter) {
            (true, None) => {
                return Err(FacApiError::BadRequest(
                    "counter: the last HOTP counter the agent used is required".to_owned(),
                ));
            }
            (true, Some(counter)) => Some(counter),
            (false, _) => None,
        };
        let (object, _) = crate::agent::build(
            &self.state.store,
            &self.appliance,
            request.username.trim(),
            used,
            self.state.clock.now(),
        )
        .await
        .map_err(agent_refusal)?;
        json(StatusCode::OK, &object)
    }

    /// `POST emergencytoken/`: the user's emergency codes.
    async fn emergency(&self) -> Result<HttpResponse, FacApiError> {
        self.only(&["POST"])?;
        let request: OfflineRequest = self.body()?;
        let codes = crate::agent::emergency_codes(
            &self.state.store,
            &self.appliance,
            request.username.trim(),
            self.state.clock.now(),
        )
        .await
        .map_err(agent_refusal)?;
        json(StatusCode::OK, &codes)
    }

    /// `POST auth/`: the password first (when given or set), then the token code; the lockout applies.
    async fn auth(&self) -> Result<HttpResponse, FacApiError> {
        self.only(&["POST"])?;
        let request: AuthRequest = self.body()?;
        let serial = &self.appliance.serial;
        let now = self.state.clock.now();
        let name = request.username.trim().to_owned();
        let refused = || FacApiError::Refused(modeled::FAC_AUTH_FAILED.to_owned());
        let Some(user) = self.state.store.fac_user(serial, &name)? else {
            return Err(refused());
        };
        if !user.active {
            return Err(FacApiError::Forbidden(
                modeled::FAC_USER_DISABLED.to_owned(),
            ));
        }
        if self.state.store.fac_lockout(serial, &name)?.is_locked(now) {
            return Err(FacApiError::Forbidden(modeled::FAC_USER_LOCKED.to_owned()));
        }
        let settings = self.appliance.settings;
        if let Some(password) = &request.password {
            let good = user
                .password_hash
                .as_deref()
                .is_some_and(|hash| verify_password(hash, password));
            if !good {
                self.state
                    .store
                    .fail_fac_login(serial, &name, settings, now)
                    .await?;
                return Err(refused());
            }
        } else if user.password_hash.is_some() && !user.token_auth {
            return Err(refused());
        }
        if user.token_auth && matches!(user.token_type.as_deref(), Some("email" | "sms")) {
            return self
                .auth_by_message(&user, request.token_code.as_deref())
                .await;
        }
        if user.token_auth {
            let Some(code) = request.token_code.as_deref() else {
                return Err(refused());
            };
            let hardware = if user.token_type.as_deref() == Some("ftk") {
                crate::hardware_ops::login(&self.state.ops(), &self.appliance, &name, code).await?
            } else {
                None
            };
            let outcome = match hardware {
                Some(outcome) => outcome,
                None => self.state.ops().login(&self.appliance, &name, code).await?,
            };
            return match outcome.result {
                LoginResult::Success => json(
                    StatusCode::OK,
                    &AuthAccepted {
                        username: name,
                        status: modeled::FAC_AUTH_OK.to_owned(),
                    },
                ),
                LoginResult::Locked => {
                    Err(FacApiError::Forbidden(modeled::FAC_USER_LOCKED.to_owned()))
                }
                LoginResult::Resync => Err(FacApiError::Refused(outcome.message)),
                _ => Err(refused()),
            };
        }
        if request.password.is_none() {
            return Err(refused());
        }
        self.state.store.succeed_fac_login(serial, &name).await?;
        json(
            StatusCode::OK,
            &AuthAccepted {
                username: name,
                status: modeled::FAC_AUTH_OK.to_owned(),
            },
        )
    }
}

/// How the agent's refusals read on the REST API: offline support or emergency codes off is a 403, an unknown
/// user a 404.
fn agent_refusal(e: crate::error::ApplianceError) -> FacApiError {
    use crate::error::ApplianceError;
    match e {
        ApplianceError::Conflict(m) => FacApiError::Forbidden(m),
        ApplianceError::NoUser(m) => FacApiError::NotFound(m),
        other => FacApiError::from(other),
    }
}

/// Applies the plain fields of a user change, checking them; returns `Some(serial or None for the next
/// available)` when the change turns FortiToken Mobile authentication on.
fn apply_user_change(
    user: &mut FacUser,
    change: &UserChange,
) -> Result<Option<Option<String>>, FacApiError> {
    if let Some(number) = &change.mobile_number {
        if !number.is_empty() && !protocol::fac_rest::valid_mobile_number(number) {
            return Err(FacApiError::BadRequest(
                modeled::FAC_BAD_MOBILE_NUMBER.text.to_owned(),
            ));
        }
        user.mobile_number = number.clone();
    }
    if let Some(email) = &change.email {
        if !email.is_empty() && !email.contains('@') {
            return Err(FacApiError::BadRequest(format!(
                "email: `{email}` is not an email address"
            )));
        }
        user.email = email.clone();
    }
    if let Some(method) = &change.ftm_act_method {
        if !["email", "sms"].contains(&method.as_str()) {
            return Err(FacApiError::BadRequest(format!(
                "ftm_act_method: `{method}` is neither email nor sms"
            )));
        }
        user.ftm_act_method = method.clone();
    }
    if let Some(kind) = &change.token_type {
        if !["ftk", "ftm", "ftc", "email", "sms"].contains(&kind.as_str()) {
            return Err(FacApiError::BadRequest(format!(
                "token_type: `{kind}` is not ftk, ftm, ftc, email or sms"
            )));
        }
        user.token_type = Some(kind.clone());
    }
    let [custom1, custom2, custom3] = &mut user.custom;
    for (field, value) in [
        (&mut user.first_name, &change.first_name),
        (&mut user.last_name, &change.last_name),
        (custom1, &change.custom1),
        (custom2, &change.custom2),
        (custom3, &change.custom3),
    ] {
        if let Some(value) = value {
            value.clone_into(field);
        }
    }
    if let Some(active) = change.active {
        user.active = active;
    }
    if let Some(expires) = &change.expires_at {
        user.expires_at = (!expires.is_empty()).then(|| expires.clone());
    }
    if let Some(token_auth) = change.token_auth {
        user.token_auth = token_auth;
    }
    let ftm = user.token_auth && user.token_type.as_deref().unwrap_or("ftm") == "ftm";
    if change.token_auth == Some(true) || change.token_serial.is_some() {
        if !ftm {
            return Ok(None);
        }
        user.token_type = Some("ftm".to_owned());
        return Ok(Some(change.token_serial.clone().filter(|s| !s.is_empty())));
    }
    Ok(None)
}
