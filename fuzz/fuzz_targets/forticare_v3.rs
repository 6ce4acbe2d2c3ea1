//! Fuzz target: FortiCare's asset-management API (v3) request bodies as forticare reads them before the
//! ledger is touched. The first byte picks the endpoint, the rest is its body: the OAuth token request (as
//! JSON and as a form), and each `/ES/api/registration/v3/…` body decoded as `Call::decode` does (blank is
//! `{}`, errors name the field through `serde_path_to_error`) with the checks each handler makes first:
//! license codes, serial numbers, text limits, statuses, `expireBefore`, page numbers and the SQL-LIKE
//! serial filter, batch sizes, cloud keys, account pairs. Never a panic.
#![no_main]

use forticare::v3 as rules;
use libfuzzer_sys::fuzz_target;
use protocol::forticare_v3::{
    self as v3, LicenseDownloadRequest, LicenseListRequest, LicenseRegisterRequest,
    ProductDetailsRequest, ProductListRequest, ProductRegisterRequest, ProductTransferRequest,
    TokenRequest,
};
use protocol::id::{ApplianceSerial, LicenseActivationCode};
use protocol::modeled;
use serde::de::DeserializeOwned;

/// The body as `Call::decode` reads it: blank is `{}`; an error names the field.
fn decode<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    let text = if body.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        body
    };
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Ok(value) => Some(value),
        Err(error) => {
            let _ = (error.path().to_string(), error.into_inner().to_string());
            None
        }
    }
}

/// `serial_field`: required, trimmed, an appliance serial.
fn serial(value: Option<&str>) -> Option<ApplianceSerial> {
    match value.map(str::trim) {
        None | Some("") => None,
        Some(text) => text.parse().ok(),
    }
}

fn bounded(value: &Option<String>) -> bool {
    value.as_ref().is_none_or(|t| t.len() <= rules::MAX_TEXT)
}

/// A few serials to filter and page, as `products/list` does over an account's products.
const SERIALS: [&str; 4] = [
    "FGVM32TM20000015",
    "FGVM32TM20000016",
    "FAC-VMTM25000001",
    "FG100FTK19000042",
];

fn token(body: &[u8]) {
    let _ = serde_urlencoded::from_bytes::<TokenRequest>(body);
    let Ok(form) = serde_json::from_slice::<TokenRequest>(body) else {
        return;
    };
    let _ = format!("{form:?}");
    let _ = form.client_id.is_empty() || form.client_id == v3::CLIENT_ID;
    match form.grant_type.as_str() {
        v3::PASSWORD_GRANT => {
            let _ = rules::valid_username(&form.username);
        }
        v3::REFRESH_GRANT => {
            let _ = form.refresh_token.as_deref().map(rules::token_key);
        }
        other => {
            let _ = other.chars().take(32).collect::<String>();
        }
    }
}

fn licenses_register(body: &[u8]) {
    let Some(body) = decode::<LicenseRegisterRequest>(body) else {
        return;
    };
    if let Some(text) = body.license_registration_code.as_deref().map(str::trim) {
        if let Ok(code) = text.parse::<LicenseActivationCode>() {
            assert_eq!(
                code.to_string().parse::<LicenseActivationCode>().ok(),
                Some(code)
            );
        } else {
            let _ = text.chars().take(40).collect::<String>();
        }
    }
    let _ = serial(body.serial_number.as_deref());
    let _ = bounded(&body.description) && bounded(&body.additional_info);
}

fn licenses_list(body: &[u8]) {
    let Some(body) = decode::<LicenseListRequest>(body) else {
        return;
    };
    let _ = body
        .status
        .as_deref()
        .map(|s| matches!(s, "Registered" | "Pending" | "Expired" | "Decommissioned"));
    let _ = bounded(&body.license_number) && bounded(&body.license_sku);
}

fn products_list(body: &[u8]) {
    let Some(body) = decode::<ProductListRequest>(body) else {
        return;
    };
    if !bounded(&body.serial_number) {
        return;
    }
    let before = match body.expire_before.as_deref() {
        None => None,
        Some(text) => match rules::expire_before(text) {
            Some(before) => Some(before),
            None => return,
        },
    };
    let page_number = body.page_number.unwrap_or(1);
    if page_number == 0 {
        return;
    }
    let kept: Vec<&str> = SERIALS
        .iter()
        .copied()
        .filter(|s| {
            body.serial_number
                .as_deref()
                .is_none_or(|f| v3::serial_matches(f, s))
        })
        .collect();
    let (page, total) = rules::page(kept, page_number);
    assert!(page.len() <= modeled::V3_PAGE_SIZE);
    assert!(total >= 1);
    let _ = before.map(|b| b.rfc3339());
}

fn products_register(body: &[u8]) {
    let Some(body) = decode::<ProductRegisterRequest>(body) else {
        return;
    };
    if body.registration_units.is_empty() || body.registration_units.len() > v3::MAX_BATCH_UNITS {
        return;
    }
    for unit in &body.registration_units {
        let _ = serial(unit.serial_number.as_deref());
        if let Some(key) = &unit.cloud_key {
            let _ = modeled::v3_cloud_key_is_valid(key.trim());
        }
        let _ = bounded(&unit.description)
            && bounded(&unit.additional_info)
            && bounded(&unit.contract_number);
    }
}

fn products_transfer(body: &[u8]) {
    let Some(body) = decode::<ProductTransferRequest>(body) else {
        return;
    };
    let (Some(source), Some(target)) = (body.source_account_id, body.target_account_id) else {
        return;
    };
    if source == target
        || body.serial_numbers.is_empty()
        || body.serial_numbers.len() > v3::MAX_BATCH_UNITS
    {
        return;
    }
    for text in &body.serial_numbers {
        let _ = serial(Some(text));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    // `serve` reads `serialNumber` from any JSON body for the scenarios' trigger first.
    let _ = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("serialNumber")
                .and_then(|s| s.as_str())
                .map(str::to_owned)
        });
    match selector % 8 {
        0 => token(body),
        1 => licenses_register(body),
        2 => licenses_list(body),
        3 => {
            if let Some(body) = decode::<LicenseDownloadRequest>(body) {
                let _ = serial(body.serial_number.as_deref());
            }
        }
        4 => products_list(body),
        5 => {
            if let Some(body) = decode::<ProductDetailsRequest>(body) {
                let _ = serial(body.serial_number.as_deref());
            }
        }
        6 => products_register(body),
        _ => products_transfer(body),
    }
});
