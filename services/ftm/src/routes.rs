//! ftm's HTTP surface: the appliance front door (`POST /SoftToken/Provisioning.asmx/Process`: provisioning
//! and polling here, license import forwarded to forticare), the phone's endpoint
//! (`POST /SoftToken/Provisioning.asmx/Mobile`) and read-only admin views of the escrow. `lab` serves the
//! rest of the control plane from [`Service`].

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use lab::api::Api;
use lab::clock::Clock;
use lab::http::ApiError;
use lab::scenario::{self, Fired};
use lab::server::with_outcome;
use lab::service::Service;
use lab::softtoken::{Fault, read_softtoken_body, reply};
use lab::store::{Store, Table};
use protocol::activation::TokenActivationCode;
use protocol::admin::{ActivationList, EscrowList};
use protocol::catalogue::{ACTIVATION_CODE_INVALID, NO_VALID_TOKEN, TOKEN_NOT_OWNED};
use protocol::envelope::{EnvelopeError, Message};
use protocol::header::{RequestHeader, ResponseHeader};
use protocol::id::{ApplianceSerial, LicenseId, MobileId, TokenSerial};
use protocol::ledger::{OwnershipAnswer, OwnershipQuery, TokenOwnership};
use protocol::license::ActivationLicenseRequest;
use protocol::mobile::{MobileProvisionRequest, MobileProvisionResponse};
use protocol::modeled::{self, TokenStatus};
use protocol::paths;
use protocol::provision::{
    PolledToken, PollingRequest, PollingResponse, ProvisionRequest, ProvisionResponse,
    ProvisionedToken,
};
use protocol::scenario::{ScenarioAction, Trigger};
use protocol::seed::encrypt_for_phone;
use protocol::token_transfer::MobileTransferRequest;

use crate::error::FtmError;
use crate::escrow::{self, Activation};
use crate::forticare::ForticareClient;
use crate::store::Escrow;

/// What every ftm handler shares.
pub(crate) struct Ftm {
    pub(crate) escrow: Escrow,
    pub(crate) clock: Clock,
    /// Where license imports are forwarded (forticare's front door, over HTTP).
    pub(crate) forticare: ForticareClient,
    /// Who answers ownership questions: forticare's ledger in-process, or the same client over HTTP.
    pub(crate) ledger: std::sync::Arc<dyn protocol::ledger::OwnershipLedger>,
}

impl Service for Ftm {
    const NAME: &'static str = crate::NAME;
    const MESSAGE_TYPES: &'static [&'static str] = &[
        ProvisionRequest::TYPE,
        PollingRequest::TYPE,
        ActivationLicenseRequest::TYPE,
        MobileProvisionRequest::TYPE,
        <MobileTransferRequest as Message>::TYPE,
    ];

    fn store(&self) -> &Store {
        self.escrow.store()
    }

    const DESCRIPTION: &'static str = "The FTM provisioning server: appliances' front door (`/Process`: \
        license import forwarded to forticare, provisioning into the seed escrow, polling) and phones' \
        (`/Mobile`: a seed downloaded once), with the escrow's admin views.";

    fn routes(api: &mut Api<'_>) {
        api.route(__path_process, process)
            .route(__path_mobile, mobile)
            .route(crate::transfer::__path_start, crate::transfer::start)
            .route(crate::transfer::__path_code, crate::transfer::code)
            .route(crate::transfer::__path_status, crate::transfer::status);
    }

    fn admin_routes(api: &mut Api<'_>) {
        api.route(__path_escrow_entries, escrow_entries)
            .route(__path_activations, activations);
    }

    fn key_id(&self) -> Option<String> {
        Some(self.escrow.key_id())
    }

    fn check_record(&self, table: Table, key: &[u8], value: &[u8]) -> anyhow::Result<()> {
        self.escrow.check_record(table, key, value)
    }

    fn check_state(&self, incoming: &lab::state::Incoming) -> anyhow::Result<()> {
        self.escrow.check_state(incoming)
    }

    /// After a reset or an import: any records of an earlier layout moved into their tokens, and the code
    /// index built from what the store now holds.
    async fn records_replaced(&self) -> Result<(), ApiError> {
        self.escrow.reindex().await?;
        Ok(())
    }
}

/// The most tokens one ProvisionRequest or PollingRequest may name (a 10,000-seat license).
const MAX_TOKENS: usize = 10_000;

/// Longest `registration_id` FortiOS stores (`reg-id`, 256 characters).
const MAX_REG_ID: usize = 256;

/// Longest app version fortimock records; FortiOS's `os-ver` field holds 15.
const MAX_OS_VER: usize = 64;

/// The appliance messages ftm serves itself, and those it forwards to forticare.
const LOCAL_TYPES: [&str; 2] = [ProvisionRequest::TYPE, PollingRequest::TYPE];
const FORWARDED_TYPES: [&str; 1] = [ActivationLicenseRequest::TYPE];

#[utoipa::path(post, path = paths::PROCESS, tag = "SoftToken (Fortinet's wire)",
    request_body(content = Object, content_type = "application/json", description = "A SoftToken message in its `{\"d\": {\"__type\": …}}` envelope (Fortinet's wire: see the README)."),
    responses(
        (status = 200, description = "The answer message; a refusal is `d.error` with its code, as the real service answers.", body = Object),
        (status = 400, description = "An undecodable body: the ASP.NET fault shape with a stable `error_id`.", body = Object),
        (status = 413, description = "A body over 1 MiB.", body = Object)))]
async fn process(
    state: web::Data<Ftm>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, FtmError> {
    let body = read_softtoken_body(&request, payload.into_inner()).await?;
    let inbound = lab::softtoken::parse_inbound(&body)?;
    // Each message's work is boxed, so this future, which actix boxes per request, stays under 1 KB: glibc
    // serves a larger block from its large bins and merges its fast bins first (measured: 1.6 to 1.8% of a
    // poll's samples while this future was 2.6 KB, 0.28% since). Two small boxes cost less.
    let type_name = inbound.type_name().to_owned();
    match type_name.as_str() {
        ProvisionRequest::TYPE => {
            let message = inbound
                .decode::<ProvisionRequest>()
                .map_err(Fault::Refused)?;
            Box::pin(provision(&state, &request, message)).await
        }
        PollingRequest::TYPE => {
            let message = inbound.decode::<PollingRequest>().map_err(Fault::Refused)?;
            Box::pin(poll(&state, &request, message)).await
        }
        name if FORWARDED_TYPES.contains(&name) => {
            // ftm's own scenarios (a status, a delay) apply before forwarding; forticare's errors are
            // armed on forticare.
            let import = inbound.decode::<ActivationLicenseRequest>().ok();
            let trigger = Trigger {
                serial: import.as_ref().map(|i| i.header.serial_number.as_str()),
                license_code: import.as_ref().map(|i| i.license_activation_code.as_str()),
                ..Trigger::new(ActivationLicenseRequest::TYPE)
            };
            if let Some(fired) = Box::pin(scenario::fire(&request, &trigger)).await
                && let ScenarioAction::Status(status) = fired.action
            {
                return Err(Fault::scenario(&fired, ActivationLicenseRequest::TYPE, status).into());
            }
            Box::pin(forward(&state, name.to_owned(), body.to_vec())).await
        }
        other => {
            let accepted: Vec<&str> = LOCAL_TYPES
                .iter()
                .chain(&FORWARDED_TYPES)
                .copied()
                .collect();
            Err(Fault::Refused(EnvelopeError::unknown_type(other, &accepted)).into())
        }
    }
}

/// Passes a message forticare owns through, answer unchanged.
async fn forward(state: &Ftm, type_name: String, body: Vec<u8>) -> Result<HttpResponse, FtmError> {
    let forwarded = state
        .forticare
        .forward(body)
        .await
        .map_err(|error| Fault::Upstream {
            request_type: ActivationLicenseRequest::TYPE,
            peer: "forticare",
            error,
        })?;
    let status = StatusCode::from_u16(forwarded.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = HttpResponse::build(status);
    for (name, value) in &forwarded.headers {
        response.insert_header((name.as_str(), value.as_str()));
    }
    // The answer carries forticare's error, if any, to the appliance: the timeline shows it on both arrows.
    let errors = lab::coverage::wire_errors_in(&forwarded.body);
    let mut response = response.body(forwarded.body);
    for entry in errors {
        lab::coverage::mark_answered(&mut response, entry);
    }
    Ok(with_outcome(
        response,
        &type_name,
        format!("forwarded to forticare ({status})"),
    ))
}

/// The requester and its cluster, or the fault for an unusable `serial_number`.
fn cluster(header: &RequestHeader, type_name: &'static str) -> Result<Vec<ApplianceSerial>, Fault> {
    header
        .cluster()
        .map_err(|e| Fault::invalid(type_name, format!("serial_number: {e}")))
}

fn at_most_max_tokens(count: usize, type_name: &'static str) -> Result<(), Fault> {
    if count > MAX_TOKENS {
        return Err(Fault::invalid(
            type_name,
            format!("tokens: {count} tokens in one request; at most {MAX_TOKENS}"),
        ));
    }
    Ok(())
}

/// Asks forticare's ledger (in-process or over HTTP) which tokens the cluster may use.
async fn ownership(
    state: &Ftm,
    query: &OwnershipQuery,
    type_name: &'static str,
) -> Result<OwnershipAnswer, Fault> {
    state
        .ledger
        .ownership(query)
        .await
        .map_err(|error| Fault::Upstream {
            request_type: type_name,
            peer: "forticare",
            error: anyhow::anyhow!(error),
        })
}

/// The response header: registered members `null`, others `Product is not registered`.
fn reply_header(
    header: RequestHeader,
    requester: &ApplianceSerial,
    answer: &OwnershipAnswer,
) -> ResponseHeader {
    header
        .reply(|member| modeled::member_error(member, requester, |s| answer.registered.contains(s)))
}

async fn provision(
    state: &Ftm,
    http: &HttpRequest,
    request: ProvisionRequest,
) -> Result<HttpResponse, FtmError> {
    const TYPE: &str = ProvisionRequest::TYPE;
    let cluster = cluster(&request.header, TYPE)?;
    at_most_max_tokens(request.tokens.len(), TYPE)?;
    // Every field is checked before anything else happens: a bad one refuses the whole request.
    let mut specs = Vec::with_capacity(request.tokens.len());
    for (i, wire) in request.tokens.iter().enumerate() {
        let spec = match wire.token.parse::<TokenSerial>() {
            Ok(serial) => Some(
                escrow::validate(&serial, wire)
                    .map_err(|detail| Fault::invalid(TYPE, format!("tokens[{i}].{detail}")))?,
            ),
            Err(_) => None,
        };
        specs.push(spec);
    }
    // Scenarios fire on well-formed requests only: a refused one does not use up a scenario's `times`.
    let fired = Box::pin(token_scenario(
        http,
        TYPE,
        &cluster[0],
        &request.tokens,
        |t| &t.token,
    ))
    .await?;
    let query = OwnershipQuery {
        appliances: cluster.clone(),
        tokens: specs.iter().flatten().map(|s| s.token.clone()).collect(),
    };
    let answer = ownership(state, &query, TYPE).await?;
    let owned = |entry: Option<&TokenOwnership>| -> Option<LicenseId> {
        entry.filter(|t| t.owned).and_then(|t| t.license.clone())
    };
    let refused = |serial: &TokenSerial| matches!(&fired, Some(TokenScenario::Refuse(fired)) if refuses(fired, serial.as_str()));
    // The ledger's entry for each token of the request (none for a serial that did not parse).
    let mut in_order = answer.in_query_order(&query.tokens).into_iter();
    let entries: Vec<Option<&TokenOwnership>> = specs
        .iter()
        .map(|spec| spec.as_ref().and_then(|_| in_order.next().flatten()))
        .collect();
    let items: Vec<_> = specs
        .iter()
        .zip(&entries)
        .filter_map(|(spec, entry)| Some((spec.as_ref()?, *entry)))
        .filter(|(spec, _)| !refused(&spec.token))
        .filter_map(|(spec, entry)| Some((spec.clone(), owned(entry)?)))
        .collect();
    let requester = &cluster[0];
    let now = state.clock.now();
    let minted = Box::pin(state.escrow.provision(requester.clone(), items, now))
        .await
        .map_err(Fault::storage(TYPE))?;
    let minted: HashMap<&TokenSerial, _> = minted.iter().map(|s| (&s.token, s)).collect();
    let tokens: Vec<ProvisionedToken> = request
        .tokens
        .iter()
        .zip(&specs)
        .zip(&entries)
        .map(|((wire, spec), entry)| {
            let state = spec
                .as_ref()
                .and_then(|spec| minted.get(&spec.token).copied());
            match state.and_then(|s| Some((s, s.code?))) {
                Some((state, code)) => ProvisionedToken {
                    token: wire.token.clone(),
                    license: Some(state.license.to_string()),
                    token_activation_code: Some(code.to_base32()),
                    qr_code: Some(modeled::qr_payload(&code.to_base32())),
                    code_expire: Some(state.expires.secs()),
                    error: None,
                },
                None => {
                    let moved = entry.is_some_and(|t| t.moved && !t.owned);
                    let error = if moved {
                        modeled::MOVED_PROVISION_ERROR
                    } else {
                        &TOKEN_NOT_OWNED
                    };
                    ProvisionedToken::refused(&wire.token, error.wire_error())
                }
            }
        })
        .collect();
    let provisioned = tokens.iter().filter(|t| t.error.is_none()).count();
    let response = ProvisionResponse {
        header: reply_header(request.header, requester, &answer),
        error: (provisioned == 0).then(|| NO_VALID_TOKEN.wire_error()),
        result: 0,
        tokens,
    };
    let result = format!(
        "{provisioned} of {} provisioned for {requester}",
        request.tokens.len()
    );
    Ok(reply(
        &response,
        TYPE,
        with_scenario(result, fired.as_ref()),
    ))
}

/// What a scenario that fired on a provisioning or polling request does (a bare status is answered as a
/// fault before this).
enum TokenScenario {
    /// Refuse the tokens [`refuses`] picks with error 31, serve the others.
    Refuse(Fired),
    /// Served as usual (after its delay).
    Delay(Fired),
}

/// Checks the scenarios for a provisioning or polling request by `requester` naming `tokens`; a scenario's
/// bare status is the error.
async fn token_scenario<T>(
    http: &HttpRequest,
    type_name: &'static str,
    requester: &ApplianceSerial,
    tokens: &[T],
    serial: impl Fn(&T) -> &String,
) -> Result<Option<TokenScenario>, Fault> {
    let trigger = Trigger {
        serial: Some(requester.as_str()),
        tokens: tokens.iter().map(|t| serial(t).as_str()).collect(),
        ..Trigger::new(type_name)
    };
    let Some(fired) = scenario::fire(http, &trigger).await else {
        return Ok(None);
    };
    Ok(Some(match fired.action {
        ScenarioAction::Status(status) => return Err(Fault::scenario(&fired, type_name, status)),
        ScenarioAction::Error(_) => TokenScenario::Refuse(fired),
        ScenarioAction::Delay => TokenScenario::Delay(fired),
    }))
}

/// Whether a fired error refuses `token`: `ftm.provision.no-valid-token` refuses every token,
/// `ftm.provision.not-owner` those its `match` selects.
fn refuses(fired: &Fired, token: &str) -> bool {
    match fired.action {
        ScenarioAction::Error(armed) if armed.error == &NO_VALID_TOKEN => true,
        ScenarioAction::Error(_) => fired.when.selects_token(token),
        _ => false,
    }
}

/// The log line's result, naming the scenario that shaped the answer.
fn with_scenario(result: String, fired: Option<&TokenScenario>) -> String {
    match fired {
        Some(TokenScenario::Refuse(fired) | TokenScenario::Delay(fired)) => {
            format!("{result} ({})", fired.outcome())
        }
        None => result,
    }
}

async fn poll(
    state: &Ftm,
    http: &HttpRequest,
    request: PollingRequest,
) -> Result<HttpResponse, FtmError> {
    const TYPE: &str = PollingRequest::TYPE;
    let cluster = cluster(&request.header, TYPE)?;
    at_most_max_tokens(request.tokens.len(), TYPE)?;
    let fired = token_scenario(http, TYPE, &cluster[0], &request.tokens, |t| &t.token).await?;
    let serials: Vec<Option<TokenSerial>> = request
        .tokens
        .iter()
        .map(|t| t.token.parse().ok())
        .collect();
    let query = OwnershipQuery {
        appliances: cluster.clone(),
        tokens: serials.iter().flatten().cloned().collect(),
    };
    let answer = ownership(state, &query, TYPE).await?;
    // The ledger's entry for each parsed serial, taken in turn (the query holds the parsed serials in order).
    let mut answered = answer.in_query_order(&query.tokens).into_iter();
    let token_states = state
        .escrow
        .token_states(&serials)
        .map_err(Fault::storage(TYPE))?;
    let now = state.clock.now();
    let PollingRequest {
        header,
        tokens: wire_tokens,
    } = request;
    let asked = wire_tokens.len();
    let mut tokens = Vec::with_capacity(asked);
    // A poll's tokens are mostly of one license: its text is made once and copied to each answer.
    let mut license_text: Option<(&LicenseId, String)> = None;
    // Each token's serial as sent is moved into its answer, not copied.
    for ((wire, serial), token_state) in wire_tokens.into_iter().zip(&serials).zip(&token_states) {
        let refused =
            matches!(&fired, Some(TokenScenario::Refuse(fired)) if refuses(fired, &wire.token));
        let entry = serial.as_ref().and_then(|_| answered.next().flatten());
        let found = entry.filter(|_| !refused);
        let Some(ownership) = found.filter(|t| t.owned) else {
            // A token whose license moved away after the grace period is reported as not this appliance's.
            let error = if found.is_some_and(|t| t.moved) {
                modeled::MOVED_POLL_ERROR
            } else {
                &TOKEN_NOT_OWNED
            };
            tokens.push(PolledToken {
                token: wire.token,
                license: None,
                status: TokenStatus::Unknown.as_str().into(),
                reg_id: None,
                os_ver: None,
                activated: None,
                error: Some(error.wire_error()),
            });
            continue;
        };
        let (status, carried) =
            escrow::status_since(token_state.as_deref(), ownership.since, &cluster, now);
        let activation = token_state
            .as_deref()
            .filter(|_| carried)
            .and_then(|s| s.activation.as_ref());
        let license = ownership
            .license
            .as_ref()
            .map(|license| match &license_text {
                Some((id, text)) if *id == license => text.clone(),
                _ => license_text
                    .insert((license, license.as_str().to_owned()))
                    .1
                    .clone(),
            });
        tokens.push(PolledToken {
            token: wire.token,
            license,
            status: status.as_str().into(),
            reg_id: activation.map(|a| a.reg_id.clone()),
            os_ver: activation.map(|a| a.os_ver.clone()),
            activated: activation.map(|a| a.at.secs()),
            error: None,
        });
    }
    let valid = tokens.iter().filter(|t| t.error.is_none()).count();
    let activated = tokens
        .iter()
        .filter(|t| t.status == TokenStatus::Activated.as_str())
        .count();
    let response = PollingResponse {
        header: reply_header(header, &cluster[0], &answer),
        error: (valid == 0).then(|| NO_VALID_TOKEN.wire_error()),
        result: 0,
        tokens,
    };
    let result = format!("{activated} of {asked} activated");
    Ok(reply(
        &response,
        TYPE,
        with_scenario(result, fired.as_ref()),
    ))
}

#[utoipa::path(post, path = paths::MOBILE, tag = "SoftToken (Fortinet's wire)",
    request_body(content = Object, content_type = "application/json", description = "A SoftToken message in its `{\"d\": {\"__type\": …}}` envelope (Fortinet's wire: see the README)."),
    responses(
        (status = 200, description = "The answer message; a refusal is `d.error` with its code, as the real service answers.", body = Object),
        (status = 400, description = "An undecodable body: the ASP.NET fault shape with a stable `error_id`.", body = Object),
        (status = 413, description = "A body over 1 MiB.", body = Object)))]
async fn mobile(
    state: web::Data<Ftm>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, FtmError> {
    // The Mobile endpoint serves activations and (token transfer between phones) transfer redemptions.
    let inbound = lab::softtoken::read_inbound(&request, payload).await?;
    if inbound.type_name() == <MobileTransferRequest as Message>::TYPE {
        let message = inbound
            .decode::<MobileTransferRequest>()
            .map_err(Fault::Refused)?;
        return crate::transfer::redeem(&state, &request, message).await;
    }
    if inbound.type_name() != MobileProvisionRequest::TYPE {
        return Err(Fault::Refused(EnvelopeError::unknown_type(
            inbound.type_name(),
            &[
                MobileProvisionRequest::TYPE,
                <MobileTransferRequest as Message>::TYPE,
            ],
        ))
        .into());
    }
    let message = inbound
        .decode::<MobileProvisionRequest>()
        .map_err(Fault::Refused)?;
    activate(&state, &request, message).await
}

/// A phone redeeming an activation code: the seed leaves escrow exactly once.
///
/// The code is judged before the phone's `mobile_id`, as the live server does: an unknown, used, expired
/// or malformed code gets error 40 whatever the `mobile_id` (it answered 40 to a public client's
/// 15-character non-hex id). A redeemable code is delivered to any `mobile_id` [`MobileId`] accepts (not
/// blank, not too long); for one it does not, the answer is a fault naming `mobile_id`, and the code stays
/// redeemable (a point lookup in the escrow): a request ftm cannot serve never burns a code.
async fn activate(
    state: &Ftm,
    http: &HttpRequest,
    request: MobileProvisionRequest,
) -> Result<HttpResponse, FtmError> {
    const TYPE: &str = MobileProvisionRequest::TYPE;
    let invalid = |detail: String| -> FtmError { Fault::invalid(TYPE, detail).into() };
    if request.registration_id.len() > MAX_REG_ID {
        return Err(invalid(format!(
            "registration_id: longer than {MAX_REG_ID} characters"
        )));
    }
    if request.device_version.len() > MAX_OS_VER {
        return Err(invalid(format!(
            "__device_version: longer than {MAX_OS_VER} characters"
        )));
    }
    let refused = |why: &str| {
        reply(
            &MobileProvisionResponse::refused(ACTIVATION_CODE_INVALID.wire_error()),
            TYPE,
            why.to_owned(),
        )
    };
    let code = TokenActivationCode::payload_from_input(&request.token_activation_code).ok();
    let mobile_id: MobileId = match request.mobile_id.parse() {
        Ok(id) => id,
        Err(e) => {
            // Nothing can be delivered to this phone; whether that is error 40 or a fault depends on the code.
            let redeemable = match code {
                Some(code) => state
                    .escrow
                    .is_redeemable(code, state.clock.now())
                    .map_err(Fault::storage(TYPE))?,
                None => false,
            };
            return if redeemable {
                Err(invalid(format!("mobile_id: {e}")))
            } else {
                Ok(refused(
                    "refused: unknown, used, expired or malformed code (40)",
                ))
            };
        }
    };
    let trigger = Trigger {
        activation_code: Some(&request.token_activation_code),
        mobile_id: Some(mobile_id.as_str()),
        registration_id: Some(&request.registration_id),
        ..Trigger::new(TYPE)
    };
    if let Some(fired) = scenario::fire(http, &trigger).await {
        match fired.action {
            // The code stays in escrow: a scenario's answer touches nothing.
            ScenarioAction::Error(_) => return Ok(refused(&fired.outcome())),
            ScenarioAction::Status(status) => {
                return Err(Fault::scenario(&fired, TYPE, status).into());
            }
            ScenarioAction::Delay => {}
        }
    }
    let Some(code) = code else {
        return Ok(refused("refused: malformed code (40)"));
    };
    let now = state.clock.now();
    // A code the old appliance left in escrow is refused once its license moved away and the grace
    // period is over (forticare decides; the code stays in escrow).
    if let Some(token) = state
        .escrow
        .escrowed_token(code, now)
        .map_err(Fault::storage(TYPE))?
    {
        let query = OwnershipQuery {
            appliances: vec![token.appliance.clone()],
            tokens: vec![token.token.clone()],
        };
        let answer = ownership(state, &query, TYPE).await?;
        if answer.tokens.iter().any(|t| t.moved && !t.owned) {
            let entry = modeled::MOVED_ESCROW_ERROR;
            return Ok(reply(
                &MobileProvisionResponse::refused(entry.wire_error()),
                TYPE,
                format!(
                    "refused: {} moved away from {} and its grace period is over ({})",
                    token.token,
                    token.appliance,
                    entry.code.unwrap_or_default()
                ),
            ));
        }
    }
    let activation = Activation {
        mobile_id_hash: modeled::mobile_id_hash(&mobile_id),
        reg_id: request.registration_id.trim().to_owned(),
        os_ver: request.device_version.trim().to_owned(),
        at: now,
    };
    let Some((token, seed)) = state
        .escrow
        .take_for_phone(code, activation.clone(), now)
        .await
        .map_err(Fault::storage(TYPE))?
    else {
        return Ok(refused("refused: unknown, used or expired code (40)"));
    };
    let response = MobileProvisionResponse {
        version: request.version.clone(),
        device_version: request.device_version.clone(),
        device_build: request.device_build.clone(),
        mobile_id_hash: activation.mobile_id_hash.clone(),
        seed: encrypt_for_phone(&seed, &mobile_id),
        token: token.token.to_string(),
        image_file: String::new(),
        pin_required: modeled::MOBILE_PIN_REQUIRED.to_owned(),
        pin_require_type: modeled::MOBILE_PIN_REQUIRE_TYPE.to_owned(),
        pin_length: modeled::MOBILE_PIN_LENGTH,
        counter: modeled::otp_to_wire(&token.params).counter,
        encryption_key: String::new(),
        issuer: token.appliance.to_string(),
        result: 0,
        error: None,
    };
    Ok(reply(
        &response,
        TYPE,
        format!("seed of {} delivered", token.token),
    ))
}

#[utoipa::path(get, path = paths::ADMIN_ESCROW, tag = "escrow",
    responses((status = 200, description = "Codes waiting for a phone (never seeds).", body = EscrowList)))]
async fn escrow_entries(state: web::Data<Ftm>) -> Result<HttpResponse, FtmError> {
    let entries = state.escrow.escrow_entries(state.clock.now())?;
    Ok(HttpResponse::Ok().json(EscrowList { entries }))
}

#[utoipa::path(get, path = paths::ADMIN_ACTIVATIONS, tag = "escrow",
    responses((status = 200, description = "Every seed download.", body = ActivationList)))]
async fn activations(state: web::Data<Ftm>) -> Result<HttpResponse, FtmError> {
    let activations = state.escrow.activations()?;
    Ok(HttpResponse::Ok().json(ActivationList { activations }))
}
