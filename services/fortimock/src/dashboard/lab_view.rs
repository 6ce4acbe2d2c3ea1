//! What the dashboard's page shows, gathered from the services' APIs with the browser's admin token, every
//! value passed through the journal's redaction before it can reach a page.

use futures_util::future::join_all;
use protocol::paths;
use serde_json::Value;

use crate::client::SuiteClient;

/// The services that keep a journal and answer scenarios.
pub(super) const CLOUD: [&str; 3] = ["forticare", "ftm", "push"];

/// How many journal entries the page shows when it is rendered (the live stream adds the rest).
const JOURNAL_SHOWN: usize = 40;

/// A list the page shows, or why it could not be read.
pub(super) type Listed = Result<Vec<Value>, String>;

/// One virtual phone with its live codes and its push inbox.
pub(super) struct PhoneShown {
    pub(super) phone: Value,
    /// `GET /phones/{id}/otp?token=…` for each of its tokens (an `OtpView`, or the refusal).
    pub(super) codes: Vec<(String, Result<Value, String>)>,
    pub(super) inbox: Listed,
}

/// Everything on the page.
pub(super) struct LabView {
    pub(super) clock: Value,
    pub(super) licenses: Listed,
    pub(super) transfers: Listed,
    pub(super) appliances: Listed,
    pub(super) escrow: Listed,
    pub(super) activations: Listed,
    pub(super) phones: Result<Vec<PhoneShown>, String>,
    pub(super) pushes: Listed,
    pub(super) devices: Listed,
    pub(super) scenarios: Vec<(&'static str, Listed)>,
    /// The newest journal entries of forticare, ftm and the relay, oldest first, each with its service.
    pub(super) journal: Vec<Value>,
}

/// Reads the whole lab. `clock` is the answer the session check already read.
pub(super) async fn gather(client: &SuiteClient, clock: Value) -> LabView {
    let (licenses, transfers, appliances, escrow, activations, phones, pushes, devices) = tokio::join!(
        list(client, "forticare", paths::ADMIN_LICENSES, "licenses"),
        list(client, "forticare", paths::ADMIN_TRANSFERS, "transfers"),
        list(client, "appliance", paths::APPLIANCES, "appliances"),
        list(client, "ftm", paths::ADMIN_ESCROW, "entries"),
        list(client, "ftm", paths::ADMIN_ACTIVATIONS, "activations"),
        phones(client),
        list(client, "push", paths::ADMIN_PUSHES, "pushes"),
        list(client, "push", paths::ADMIN_DEVICES, "devices"),
    );
    let scenarios = join_all(CLOUD.iter().map(|service| async move {
        (
            *service,
            list(client, service, paths::ADMIN_SCENARIOS, "scenarios").await,
        )
    }))
    .await;
    let journals = join_all(CLOUD.iter().map(|service| async move {
        let path = format!("{}?limit={JOURNAL_SHOWN}", paths::ADMIN_JOURNAL);
        let entries = list(client, service, &path, "entries")
            .await
            .unwrap_or_default();
        entries
            .into_iter()
            .map(|entry| with_service(entry, service))
            .collect::<Vec<_>>()
    }))
    .await;
    let mut journal: Vec<Value> = journals.into_iter().flatten().collect();
    journal.sort_by_key(|entry| {
        entry
            .get("time")
            .and_then(Value::as_i64)
            .unwrap_or_default()
    });
    let skip = journal.len().saturating_sub(JOURNAL_SHOWN);
    journal.drain(..skip);
    LabView {
        clock,
        licenses,
        transfers,
        appliances,
        escrow,
        activations,
        phones,
        pushes,
        devices,
        scenarios,
        journal,
    }
}

/// A journal entry with the service that answered it, as the page and the live stream show it.
pub(super) fn with_service(mut entry: Value, service: &str) -> Value {
    if let Value::Object(fields) = &mut entry {
        fields.insert("service".to_owned(), Value::String(service.to_owned()));
    }
    entry
}

/// `GET path` on `service`, redacted, and the array under `key` in it.
pub(super) async fn list(client: &SuiteClient, service: &str, path: &str, key: &str) -> Listed {
    let value = shown(client, service, path).await?;
    match value {
        Value::Object(mut fields) => match fields.remove(key) {
            Some(Value::Array(items)) => Ok(items),
            _ => Err(format!("{service} {path}: no `{key}` list in the answer")),
        },
        _ => Err(format!("{service} {path}: the answer is not a JSON object")),
    }
}

/// `GET path` on `service`, redacted; a refusal or an unreachable service as its sentence.
pub(super) async fn shown(
    client: &SuiteClient,
    service: &str,
    path: &str,
) -> Result<Value, String> {
    let mut value: Value = client
        .get(service, path)
        .await
        .map_err(|e| format!("{e:#}"))?;
    protocol::journal::redact(&mut value);
    Ok(value)
}

/// Every phone, with a live code for each of its tokens and its inbox.
async fn phones(client: &SuiteClient) -> Result<Vec<PhoneShown>, String> {
    let phones = list(client, "phone", paths::PHONES, "phones").await?;
    Ok(join_all(phones.into_iter().map(|phone| async move {
        let id = phone
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let serials: Vec<String> = phone
            .get("tokens")
            .and_then(Value::as_array)
            .map(|tokens| {
                tokens
                    .iter()
                    .filter_map(|t| t.get("serial").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let codes = join_all(serials.into_iter().map(|serial| {
            let path = format!("{}?token={serial}", paths::fill(paths::PHONE_OTP, &[&id]));
            async move { (serial, shown(client, "phone", &path).await) }
        }))
        .await;
        let inbox = list(
            client,
            "phone",
            &paths::fill(paths::PHONE_INBOX, &[&id]),
            "pushes",
        )
        .await;
        PhoneShown {
            phone,
            codes,
            inbox,
        }
    }))
    .await)
}
