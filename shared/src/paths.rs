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

/// forticare's ledger API, which ftm asks which tokens an appliance's cluster may use.
pub const LEDGER_OWNERSHIP: &str = "/__ledger/v1/ownership";

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
