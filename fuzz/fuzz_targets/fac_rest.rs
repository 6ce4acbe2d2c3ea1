//! Fuzz target: a virtual FortiAuthenticator's REST API (`/api/v1/…`) as it reads a request before touching
//! its store. Input starting with `?` is the query string: decoded (`tastypie::QueryParams::parse`),
//! `?format=`, Tastypie's Django-style filters over a resource's filterable fields, `limit`/`offset` and
//! the page with its `next`/`previous` links. Anything else is a body (the first byte picks the resource):
//! read as JSON whatever the content type says, then as the resource's request type (user changes with
//! their lenient booleans, mobile number, email, activation method and token type checks; license import,
//! provisioning, token policy, groups, memberships, auth, push auth, offline cache). Never a panic, and
//! every refusal has its status and Tastypie's shape.
#![no_main]

use appliance::fac_api::tastypie::{self, EXACT, Filterable, NUMBER, QueryParams, TEXT};
use libfuzzer_sys::fuzz_target;
use protocol::fac_rest::{
    AuthRequest, FtmLicenseImport, FtmProvisioningChange, NewGroupMembership, NewUserGroup,
    OfflineRequest, PushAuthRequest, TokenPolicyChange, UserChange, valid_mobile_number,
};
use protocol::id::TokenSerial;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

const FILTERING: &[Filterable] = &[
    Filterable {
        field: "serial",
        lookups: TEXT,
    },
    Filterable {
        field: "status",
        lookups: EXACT,
    },
    Filterable {
        field: "id",
        lookups: NUMBER,
    },
    Filterable {
        field: "active",
        lookups: EXACT,
    },
];

fn objects() -> Vec<Value> {
    (0..45)
        .map(|i| {
            json!({
                "id": i,
                "serial": format!("FTKMOB{:010X}", i * 7919),
                "status": if i % 3 == 0 { "assigned" } else { "available" },
                "active": i % 2 == 0,
                "user": null,
            })
        })
        .collect()
}

fn refused(error: &appliance::fac_api::error::FacApiError) {
    let _ = (error.to_string(), error.api());
}

fn query(text: &str) {
    let params = match QueryParams::parse(text) {
        Ok(params) => params,
        Err(error) => return refused(&error),
    };
    if let Err(error) = params.check_format() {
        return refused(&error);
    }
    match tastypie::filter(objects(), &params, FILTERING)
        .and_then(|kept| tastypie::page(kept, "/api/v1/fortitokens/", &params))
    {
        Ok(page) => {
            assert!(page.objects.len() <= page.meta.limit);
            assert!(page.meta.limit <= protocol::fac_rest::MAX_LIMIT);
            for link in [&page.meta.next, &page.meta.previous].into_iter().flatten() {
                let (_, rest) = link.split_once('?').expect("a page link has a query");
                assert!(QueryParams::parse(rest).is_ok(), "a page link reads back");
            }
        }
        Err(error) => refused(&error),
    }
}

/// The body as the FortiAuthenticator reads it: JSON first (`Request is not valid JSON.`), then the type.
fn body<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    serde_json::from_value(value).ok()
}

fn user_change(change: &UserChange) {
    if let Some(number) = &change.mobile_number {
        let _ = number.is_empty() || valid_mobile_number(number);
    }
    if let Some(email) = &change.email {
        let _ = email.contains('@');
    }
    if let Some(name) = &change.username {
        let _ = appliance::fortitoken::valid_user_name(name);
    }
    if let Some(serial) = &change.token_serial {
        let _ = serial.parse::<TokenSerial>();
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(rest) = data.strip_prefix(b"?") {
        return query(&String::from_utf8_lossy(rest));
    }
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    match selector % 9 {
        0 => {
            if let Some(change) = body::<UserChange>(bytes) {
                user_change(&change);
            }
        }
        1 => {
            let _ = body::<FtmLicenseImport>(bytes);
        }
        2 => {
            let _ = body::<FtmProvisioningChange>(bytes);
        }
        3 => {
            let _ = body::<TokenPolicyChange>(bytes);
        }
        4 => {
            let _ = body::<NewUserGroup>(bytes);
        }
        5 => {
            let _ = body::<NewGroupMembership>(bytes);
        }
        6 => {
            if let Some(auth) = body::<AuthRequest>(bytes) {
                let _ = appliance::fortitoken::valid_user_name(&auth.username);
            }
        }
        7 => {
            let _ = body::<PushAuthRequest>(bytes);
        }
        _ => {
            let _ = body::<OfflineRequest>(bytes);
        }
    }
});
