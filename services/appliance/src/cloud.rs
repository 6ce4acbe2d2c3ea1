//! The appliance's side of the FortiToken cloud exchange, as FortiOS does it: the SoftToken request written
//! by json-c with FortiOS's headers, posted to `/SoftToken/Provisioning.asmx/Process`, and the FortiOS debug
//! lines (`diagnose fortitoken debug enable`) for every step, so a support engineer can lay them next to a
//! customer's log. Seeds are masked in the debug output.

use lab::flow::InFlow;
use protocol::envelope::{Envelope, Message};
use protocol::jsonc;
use protocol::paths::PROCESS;
use serde_json::Value;

/// FortiOS's request headers, from the license-import capture (the `q=0.01` after a comma is FortiOS's).
const FORTIOS_HEADERS: [(&str, &str); 6] = [
    ("Accept", "application/json, text/javascript, */*, q=0.01"),
    ("Content-Type", "application/json;charset=utf-8"),
    ("X-Requested-With", "XMLHttpRequest"),
    ("Accept-Language", "en-us"),
    (
        "User-Agent",
        "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; WOW64; Trident/5.0)",
    ),
    ("Cache-Control", "no-cache"),
];

/// The source lines FortiOS's ftm daemon logs from, per exchange (they differ between builds; these are
/// the captured ones).
#[derive(Debug, Clone, Copy)]
pub struct DebugSites {
    pub connect: u32,
    pub send: u32,
    pub receive: u32,
}

/// License import, FortiOS 7.0 build 0523.
pub const IMPORT_SITES: DebugSites = DebugSites {
    connect: 55,
    send: 117,
    receive: 266,
};
/// Provisioning, FortiOS 7.0 build 2573.
pub const PROVISION_SITES: DebugSites = DebugSites {
    connect: 66,
    send: 128,
    receive: 277,
};
/// Hardware activation (`execute fortitoken activate`): no capture shows its lines; the license import's.
pub const HARDWARE_SITES: DebugSites = DebugSites {
    connect: 55,
    send: 117,
    receive: 266,
};
/// Polling, FortiOS 6.0 build 1914.
pub const POLL_SITES: DebugSites = DebugSites {
    connect: 55,
    send: 117,
    receive: 266,
};

/// Why an exchange failed before a SoftToken answer came back.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    #[error("server connection failed: {0}")]
    Connect(String),
    #[error("the server answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
    #[error("the server's answer is not a {expected}: {detail}")]
    Answer {
        expected: &'static str,
        detail: String,
    },
}

/// Posts `request` to `ftm_url` as FortiOS would and decodes the answer, appending debug lines.
pub async fn exchange<Req: Message, Resp: Message>(
    http: &reqwest::Client,
    ftm_url: &str,
    request: &Req,
    sites: DebugSites,
    debug: &mut Vec<String>,
) -> Result<Resp, CloudError> {
    let body = fortios_json(request);
    let url = format!("{}{PROCESS}", ftm_url.trim_end_matches('/'));
    let host = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_owned();
    let mut call = http.post(&url).in_flow();
    for (name, value) in FORTIOS_HEADERS {
        call = call.header(name, value);
    }
    let response = match call.body(body.clone()).send().await {
        Ok(response) => response,
        Err(e) => {
            let detail = error_chain(&e);
            debug.push(format!(
                "ftm_fc_comm_connect[{}]:ftm TCPS connect failed: {detail}",
                sites.connect
            ));
            return Err(CloudError::Connect(detail));
        }
    };
    debug.push(format!(
        "ftm_fc_comm_connect[{}]:ftm TCPS connected.",
        sites.connect
    ));
    debug.push(format!(
        "ftm_fc_comm_send_request[{}]:send packet success.",
        sites.send
    ));
    debug.push(format!("POST {PROCESS} HTTP/1.1"));
    for (name, value) in FORTIOS_HEADERS {
        debug.push(format!("{name}: {value}"));
    }
    debug.push(format!("Host: {host}"));
    debug.push(format!("Content-Length: {}", body.len()));
    debug.push("Connection: Keep-Alive".to_owned());
    debug.push(String::new());
    debug.push(mask_seeds(&body));
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .map_err(|e| CloudError::Connect(error_chain(&e)))?;
    debug.push(format!(
        "ftm_fc_comm_recv_response[{}]:receive packet success.",
        sites.receive
    ));
    debug.push(mask_seeds(&text));
    if status != 200 {
        return Err(CloudError::Http {
            status,
            body: text.chars().take(500).collect(),
        });
    }
    serde_json::from_str::<Envelope<Resp>>(&text)
        .map(|envelope| envelope.0)
        .map_err(|e| CloudError::Answer {
            expected: Resp::TYPE,
            detail: e.to_string(),
        })
}

/// The request body as FortiOS writes it: json-c spaced style, license import fields in FortiOS's order.
pub fn fortios_json<Req: Message>(request: &Req) -> String {
    let value: Value = serde_json::from_slice(&Envelope::to_vec(request)).unwrap_or(Value::Null);
    jsonc::to_string_spaced(&fortios_order(value))
}

/// FortiOS sends `license_activation_code` right after `__version` (capture); the other messages follow
/// the header order the types already have.
fn fortios_order(mut value: Value) -> Value {
    let Some(d) = value.get_mut("d").and_then(Value::as_object_mut) else {
        return value;
    };
    if let Some(code) = d.shift_remove("license_activation_code") {
        let mut ordered = serde_json::Map::new();
        for (key, item) in std::mem::take(d) {
            let after_version = key == "__version";
            ordered.insert(key, item);
            if after_version {
                ordered.insert("license_activation_code".to_owned(), code.clone());
            }
        }
        if !ordered.contains_key("license_activation_code") {
            ordered.insert("license_activation_code".to_owned(), code);
        }
        *d = ordered;
    }
    value
}

/// Replaces every `"seed": "…"` value in a JSON text (json-c's spaced `"seed": "…"` or the compact
/// `"seed":"…"` of an answer) with asterisks.
fn mask_seeds(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("\"seed\":") {
        let after_key = at + "\"seed\":".len();
        let value_start = rest[after_key..]
            .find(|c: char| c != ' ')
            .map_or(rest.len(), |i| after_key + i);
        if !rest[value_start..].starts_with('"') {
            out.push_str(&rest[..value_start]);
            rest = &rest[value_start..];
            continue;
        }
        let start = value_start + 1;
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find('"').unwrap_or(rest.len());
        out.push_str(&"*".repeat(end.min(8)));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::header::RequestHeader;
    use protocol::license::ActivationLicenseRequest;
    use protocol::provision::{ProvisionRequest, ProvisionToken};

    #[test]
    fn license_import_is_written_exactly_as_fortios_writes_it() {
        // The capture's request, rebuilt from its values: the bytes must match the FortiOS debug dump.
        let serial = "FGXXXXXXX".parse().unwrap();
        let mut header = RequestHeader::new(&serial, &[], "7.0", "0523");
        header.clustered_sns = vec![
            protocol::header::ClusterMember {
                sn: " FGXXXXXXX ".into(),
            },
            protocol::header::ClusterMember {
                sn: " FGXXXXXXX ".into(),
            },
        ];
        let request = ActivationLicenseRequest {
            header,
            license_activation_code: " BADLICBADLICXXX ".into(),
        };
        let captured = include_str!("../../../fixtures/wire/license-import-error16.request.json");
        assert_eq!(fortios_json(&request), captured.trim_end());
    }

    #[test]
    fn seeds_are_masked_in_debug_output() {
        let serial = "FG140E4Q17000494".parse().unwrap();
        let request = ProvisionRequest {
            header: RequestHeader::new(&serial, &[], "7.0", "2573"),
            tokens: vec![ProvisionToken {
                token: "FTKMOB947FDC1754".into(),
                seed: "A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A".into(),
                code_expire: 4320,
                kind: "totp".into(),
                period: 60,
                digits: 6,
            }],
        };
        let masked = mask_seeds(&fortios_json(&request));
        assert!(masked.contains(r#""seed": "********""#), "{masked}");
        assert!(!masked.contains("A84E2CAA"));
        let answer = mask_seeds(
            r#"{"tokens":[{"token":"FTK200BAA0000000","seed":"A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A"},{"seed":null}]}"#,
        );
        assert_eq!(
            answer,
            r#"{"tokens":[{"token":"FTK200BAA0000000","seed":"********"},{"seed":null}]}"#
        );
        assert!(masked.contains(r#""token": "FTKMOB947FDC1754""#));
    }
}
