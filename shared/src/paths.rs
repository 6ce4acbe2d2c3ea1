//! Every HTTP path fortimock serves, in one place: the servers register these, and the CLI, the test
//! harness and the bench build their URLs from them, so a path cannot drift between the two sides.
//!
//! Paths with parameters are actix-style templates (`/phones/{id}/otp`); [`fill`] puts values in them.
//! The control plane's paths all start with [`ADMIN`]: the servers mount them in one guarded scope (see
//! [`admin_suffix`]).

/// The SoftToken front door appliances post to (FortiCare's and FTM's).
pub const PROCESS: &str = "/SoftToken/Provisioning.asmx/Process";
/// The SoftToken endpoint phones post `MobileProvisionRequest` to (FTM's).
pub const MOBILE: &str = "/SoftToken/Provisioning.asmx/Mobile";

/// The scope of the services' ledger APIs (guarded like the control plane: they name owners and users).
pub const LEDGER: &str = "/__ledger/v1";
/// forticare's ledger API, which ftm asks which tokens an appliance's cluster may use.
pub const LEDGER_OWNERSHIP: &str = "/__ledger/v1/ownership";
/// The appliance service's answer to which virtual appliance has a hardware token assigned (forticare asks
/// before TAC's lock reset).
pub const LEDGER_HARDWARE_HOLDERS: &str = "/__ledger/v1/hardware-holders";

/// FortiCare's asset-management API (v3): the OAuth token endpoint (customerapiauth.fortinet.com; the
/// trailing slash is part of the path) ...
pub const V3_OAUTH_TOKEN: &str = "/api/v1/oauth/token/";
/// ... and the API base (support.fortinet.com), with its endpoints.
pub const V3_BASE: &str = "/ES/api/registration/v3";
pub const V3_LICENSES_REGISTER: &str = "/ES/api/registration/v3/licenses/register";
pub const V3_LICENSES_LIST: &str = "/ES/api/registration/v3/licenses/list";
pub const V3_LICENSES_DOWNLOAD: &str = "/ES/api/registration/v3/licenses/download";
pub const V3_PRODUCTS_LIST: &str = "/ES/api/registration/v3/products/list";
pub const V3_PRODUCTS_DETAILS: &str = "/ES/api/registration/v3/products/details";
pub const V3_PRODUCTS_REGISTER: &str = "/ES/api/registration/v3/products/register";
pub const V3_PRODUCTS_TRANSFER: &str = "/ES/api/registration/v3/products/transfer";

/// The push relay's endpoint for an appliance's push (the capture does not show the request line; the
/// relay also accepts `POST /`).
pub const RELAY_PUSH: &str = "/api/v1/push";
/// The same push, at the relay's root.
pub const RELAY_ROOT: &str = "/";
/// A device registered with the relay (`PUT`, `GET`, `DELETE`).
pub const RELAY_DEVICE: &str = "/api/v1/devices/{registration_id}";
/// A device's pushes, long-polled.
pub const RELAY_DEVICE_PUSHES: &str = "/api/v1/devices/{registration_id}/pushes";

/// The path a phone answers a push on, on the appliance's ftm-push listener (after FortiAuthenticator's
/// documented `/api/v1/pushauthresp/`).
pub const PUSH_CALLBACK: &str = "/api/v1/pushauthresp/";

/// Where the control plane lives on every service.
pub const ADMIN: &str = "/__admin";
/// Liveness: answers as long as the process serves (no token needed).
pub const ADMIN_HEALTH: &str = "/__admin/health";
/// Readiness: the store is open and writable (no token needed).
pub const ADMIN_READY: &str = "/__admin/ready";
/// The lab CA certificate (no token needed).
pub const ADMIN_CA_PEM: &str = "/__admin/ca.pem";
/// The service's OpenAPI document (no token needed).
pub const ADMIN_OPENAPI: &str = "/__admin/openapi.json";
/// The browsable documentation of the service's API (no token needed), and its files.
pub const ADMIN_DOCS: &str = "/__admin/docs";
pub const ADMIN_DOCS_FILE: &str = "/__admin/docs/{file}";
pub const ADMIN_CLOCK: &str = "/__admin/clock";
pub const ADMIN_CLIENT_CERTS: &str = "/__admin/client-certs";
pub const ADMIN_CATALOGUE: &str = "/__admin/catalogue";
pub const ADMIN_SCENARIOS: &str = "/__admin/scenarios";
pub const ADMIN_SCENARIO: &str = "/__admin/scenarios/{id}";
pub const ADMIN_JOURNAL: &str = "/__admin/journal";
pub const ADMIN_RESET: &str = "/__admin/reset";
pub const ADMIN_STATE: &str = "/__admin/state";
/// The exchanges between the lab's parts, by flow (`?flow=`, `?since=&until=`, `?format=mermaid`).
pub const ADMIN_TIMELINE: &str = "/__admin/timeline";
/// What a run reached, and the drift the services saw.
pub const ADMIN_COVERAGE: &str = "/__admin/coverage";
/// forticare's licenses.
pub const ADMIN_LICENSES: &str = "/__admin/licenses";
pub const ADMIN_LICENSE: &str = "/__admin/licenses/{id}";
/// A license's redemption certificate, `<EFTM id>.pdf` (the code on it is the license's current one).
pub const ADMIN_LICENSE_CERTIFICATE: &str = "/__admin/licenses/{id}/certificate.pdf";
/// forticare's Customer Service "License Transfer" tickets.
pub const ADMIN_TRANSFERS: &str = "/__admin/transfers";
pub const ADMIN_TRANSFER: &str = "/__admin/transfers/{ticket}";
/// forticare's asset-management API users.
pub const ADMIN_API_USERS: &str = "/__admin/api-users";
/// ftm's escrow (activation codes, never seeds) and its seed downloads.
pub const ADMIN_ESCROW: &str = "/__admin/escrow";
pub const ADMIN_ACTIVATIONS: &str = "/__admin/activations";
/// The relay's push journal and registered devices.
pub const ADMIN_PUSHES: &str = "/__admin/pushes";
pub const ADMIN_DEVICES: &str = "/__admin/devices";

/// forticare's hardware token batches (FortiGuard's seeds and activation locks), a batch, its seed file, and
/// TAC's lock reset.
pub const ADMIN_HARDWARE_TOKENS: &str = "/__admin/hardware-tokens";
pub const ADMIN_HARDWARE_BATCH: &str = "/__admin/hardware-tokens/{batch}";
pub const ADMIN_HARDWARE_SEED_FILE: &str = "/__admin/hardware-tokens/{batch}/seed-file";
pub const ADMIN_HARDWARE_RESET_LOCK: &str = "/__admin/hardware-lock-resets";
/// The appliance service's captured messages (the SMTP listener's emails, the SMS sink's texts), one, its raw
/// `.eml` and its QR code image.
pub const ADMIN_MESSAGES: &str = "/__admin/messages";
pub const ADMIN_MESSAGE: &str = "/__admin/messages/{id}";
pub const ADMIN_MESSAGE_EML: &str = "/__admin/messages/{id}/message.eml";
pub const ADMIN_MESSAGE_QR: &str = "/__admin/messages/{id}/qr.png";
/// The suite's SMS sink, which the appliances post to as to an SMS gateway.
pub const SMS_GATEWAY: &str = "/sms/v1/messages";

/// The virtual phones.
pub const PHONES: &str = "/phones";
pub const PHONE: &str = "/phones/{id}";
pub const PHONE_ACTIVATE: &str = "/phones/{id}/activate";
pub const PHONE_OTP: &str = "/phones/{id}/otp";
pub const PHONE_EXPORT: &str = "/phones/{id}/export";
pub const PHONE_TOKEN: &str = "/phones/{id}/tokens/{serial}";
pub const PHONE_TOKEN_NEXT: &str = "/phones/{id}/tokens/{serial}/next";
pub const PHONE_INBOX: &str = "/phones/{id}/inbox";
pub const PHONE_APPROVE: &str = "/phones/{id}/inbox/{push}/approve";
pub const PHONE_DENY: &str = "/phones/{id}/inbox/{push}/deny";
/// Where the relay posts a phone's pushes.
pub const PHONE_PUSH_WEBHOOK: &str = "/phones/{id}/push-webhook";
/// The phone's camera on a QR code image (the one in an activation email).
pub const PHONE_SCAN: &str = "/phones/{id}/scan";

/// The virtual appliances.
pub const APPLIANCES: &str = "/appliances";
pub const APPLIANCE: &str = "/appliances/{serial}";
pub const APPLIANCE_SETTINGS: &str = "/appliances/{serial}/settings";
pub const APPLIANCE_FTM_PUSH: &str = "/appliances/{serial}/ftm-push";
pub const APPLIANCE_IMPORT: &str = "/appliances/{serial}/import";
pub const APPLIANCE_PROVISION: &str = "/appliances/{serial}/provision";
pub const APPLIANCE_RENEW: &str = "/appliances/{serial}/renew";
pub const APPLIANCE_POLL: &str = "/appliances/{serial}/poll";
pub const APPLIANCE_LOGIN: &str = "/appliances/{serial}/login";
pub const APPLIANCE_UNLOCK: &str = "/appliances/{serial}/users/{user}/unlock";
pub const APPLIANCE_DEBUG: &str = "/appliances/{serial}/debug";
/// A token in the appliance's table (`DELETE`: `config user fortitoken`, `delete <serial>`).
pub const APPLIANCE_TOKEN: &str = "/appliances/{serial}/tokens/{token}";
/// Hardware tokens: activation by serial, the seed file's offline import, assignment to a user, and
/// `diagnose fortitoken info`.
pub const APPLIANCE_HARDWARE_ACTIVATE: &str = "/appliances/{serial}/hardware/activate";
pub const APPLIANCE_HARDWARE_IMPORT: &str = "/appliances/{serial}/hardware/import-seed-file";
pub const APPLIANCE_HARDWARE_ASSIGN: &str = "/appliances/{serial}/hardware/assign";
pub const APPLIANCE_FORTITOKEN_INFO: &str = "/appliances/{serial}/fortitoken-info";
/// Local users created with token authentication (FortiAuthenticator provisions them automatically).
pub const APPLIANCE_USERS: &str = "/appliances/{serial}/users";
/// The activation code sent (again) by email or SMS, and where the appliance delivers.
pub const APPLIANCE_SEND_ACTIVATION: &str = "/appliances/{serial}/send-activation";
pub const APPLIANCE_MESSAGING: &str = "/appliances/{serial}/messaging";

/// The dashboard (`fortimock up --ui-port`): its page, the login form that keeps the admin token in a
/// cookie, the live journal (server-sent events), its own script and style, state export and import, and
/// the pass-through to the services' guarded APIs that the page's actions call
/// (`/api/{service}/__admin/...`, forwarded with the browser's admin token).
pub const UI_HOME: &str = "/";
pub const UI_LOGIN: &str = "/login";
pub const UI_LOGOUT: &str = "/logout";
pub const UI_EVENTS: &str = "/events";
/// The timeline view: the flows, and one flow (`?flow=`) as a sequence diagram.
pub const UI_TIMELINE: &str = "/timeline";
pub const UI_SCRIPT: &str = "/assets/dashboard.js";
pub const UI_STYLE: &str = "/assets/dashboard.css";
pub const UI_STATE_EXPORT: &str = "/state/export";
pub const UI_STATE_IMPORT: &str = "/state/import";
pub const UI_API: &str = "/api/{service}/{tail:.*}";
/// The dashboard's replay page (`GET`: the form; `POST`: a pasted debug log replayed, as `fortimock replay`)
/// and its script.
pub const UI_REPLAY: &str = "/replay";
pub const UI_REPLAY_SCRIPT: &str = "/assets/replay.js";

/// A FortiAuthenticator's REST API key (`POST`: issue one for an administrator).
pub const APPLIANCE_API_KEYS: &str = "/appliances/{serial}/api-keys";
/// A FortiAuthenticator administrator's login password (`PUT`: set it; the GUI's, never a REST API
/// credential: HTTP Basic with it gets 401).
pub const APPLIANCE_ADMIN_PASSWORD: &str = "/appliances/{serial}/admins/{admin}/password";
/// A FortiAuthenticator's own configuration: host name, provisioning settings, token policy (`GET`, `PATCH`).
pub const APPLIANCE_FAC: &str = "/appliances/{serial}/fac";
/// One of a FortiAuthenticator's tokens as its administrator manages it (`PATCH {"locked": bool}`: a locked
/// token cannot be assigned).
pub const APPLIANCE_FAC_TOKEN: &str = "/appliances/{serial}/fac/tokens/{token}";
/// LDAP users of a FortiAuthenticator (`POST`: what its LDAP synchronisation would bring).
pub const APPLIANCE_LDAP_USERS: &str = "/appliances/{serial}/ldap-users";
/// The email and SMS messages an appliance sent (`GET`, `DELETE`).
pub const APPLIANCE_OUTBOX: &str = "/appliances/{serial}/outbox";
/// A token's offline activation page (`GET`; `?format=png` for the QR code).
pub const APPLIANCE_ACTIVATION: &str = "/appliances/{serial}/activation/{token}";
/// The virtual Windows agents of a FortiAuthenticator: fetching a user's offline cache, an offline login.
pub const APPLIANCE_AGENTS: &str = "/appliances/{serial}/agents";
pub const APPLIANCE_AGENT_SYNC: &str = "/appliances/{serial}/agents/{agent}/sync";
pub const APPLIANCE_AGENT_LOGIN: &str = "/appliances/{serial}/agents/{agent}/login";

/// A phone's token transfer: start it (old phone), check how it went (old phone), complete it (new phone).
pub const PHONE_TRANSFER: &str = "/phones/{id}/transfer";
pub const PHONE_TRANSFER_CHECK: &str = "/phones/{id}/transfer/check";
pub const PHONE_TRANSFER_COMPLETE: &str = "/phones/{id}/transfer/complete";

/// FortiAuthenticator's REST API, on the appliance service, for the FAC whose host name the request names
/// (`fac_rest`). The dispatcher takes every path below [`FAC_API`]; these are its resources.
pub const FAC_API: &str = "/api/v1/";
pub const FAC_FORTITOKENS: &str = "/api/v1/fortitokens/";
pub const FAC_FORTITOKEN: &str = "/api/v1/fortitokens/{id}/";
pub const FAC_FTM_LICENSES: &str = "/api/v1/fortitokenmobilelicenses/";
pub const FAC_FTM_PROVISIONING: &str = "/api/v1/fortitokenmobileprovisioning/";
pub const FAC_LOCALUSERS: &str = "/api/v1/localusers/";
pub const FAC_LOCALUSER: &str = "/api/v1/localusers/{id}/";
pub const FAC_LDAPUSERS: &str = "/api/v1/ldapusers/";
pub const FAC_LDAPUSER: &str = "/api/v1/ldapusers/{id}/";
pub const FAC_USERGROUPS: &str = "/api/v1/usergroups/";
pub const FAC_USERGROUP: &str = "/api/v1/usergroups/{id}/";
pub const FAC_GROUP_MEMBERSHIPS: &str = "/api/v1/localgroup-memberships/";
pub const FAC_GROUP_MEMBERSHIP: &str = "/api/v1/localgroup-memberships/{id}/";
pub const FAC_AUTH: &str = "/api/v1/auth/";
pub const FAC_PUSHAUTH: &str = "/api/v1/pushauth/";
/// The phone's answer to a push: the same path as an appliance's ftm-push callback ([`PUSH_CALLBACK`]).
pub const FAC_PUSHAUTHRESP: &str = PUSH_CALLBACK;
pub const FAC_PUSHPOLL: &str = "/api/v1/pushpoll/";
pub const FAC_TRANSFERTOKEN: &str = "/api/v1/transfertoken/";
pub const FAC_CSV: &str = "/api/v1/csv/";
pub const FAC_OAUTH: &str = "/api/v1/oauth/";
pub const FAC_TOKEN_POLICY: &str = "/api/v1/userfortitokenpolicy/";
pub const FAC_OFFLINE_OTP: &str = "/api/v1/offlineotp/";
pub const FAC_OFFLINE_HOTP_UPDATE: &str = "/api/v1/offlinehotpupdate/";
pub const FAC_EMERGENCY_TOKEN: &str = "/api/v1/emergencytoken/";

/// The token-transfer service (on ftm: `modeled::TRANSFER_SERVICE`), after FortiToken Cloud's template.
pub const TOKEN_TRANSFER_START: &str = "/api/v1/token/transfer/start";
pub const TOKEN_TRANSFER_CODE: &str = "/api/v1/token/transfer/code";
pub const TOKEN_TRANSFER_STATUS: &str = "/api/v1/token/transfer/status";

/// The part of a control-plane path after [`ADMIN`], as the guarded scope registers it
/// (`/__admin/licenses/{id}` → `/licenses/{id}`). A path outside the control plane is returned whole.
pub fn admin_suffix(path: &'static str) -> &'static str {
    path.strip_prefix(ADMIN).unwrap_or(path)
}

/// `template` with its `{…}` parameters replaced by `values`, in order, each percent-encoded as a path
/// segment. Missing values leave the parameter as it is; extra values are ignored.
pub fn fill(template: &str, values: &[&str]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut values = values.iter();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|at| open + at) else {
            break;
        };
        out.push_str(&rest[..open]);
        match values.next() {
            Some(value) => push_segment(&mut out, value),
            None => out.push_str(&rest[open..=close]),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Appends `value` percent-encoded as one path segment (RFC 3986 unreserved characters stay).
fn push_segment(out: &mut String, value: &str) {
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_in_order_and_encode_segments() {
        assert_eq!(fill(PHONE_OTP, &["phone-1"]), "/phones/phone-1/otp");
        assert_eq!(
            fill(PHONE_APPROVE, &["my phone", "7"]),
            "/phones/my%20phone/inbox/7/approve"
        );
        assert_eq!(
            fill(APPLIANCE_UNLOCK, &["FGVM1", "a/b"]),
            "/appliances/FGVM1/users/a%2Fb/unlock"
        );
        assert_eq!(fill(PHONE_OTP, &[]), PHONE_OTP);
        assert_eq!(fill(PHONES, &["x"]), PHONES);
    }

    #[test]
    fn admin_paths_lose_their_prefix_in_the_scope() {
        assert_eq!(admin_suffix(ADMIN_LICENSE), "/licenses/{id}");
        assert_eq!(admin_suffix(ADMIN_RESET), "/reset");
        assert_eq!(admin_suffix(PHONES), PHONES);
    }
}
