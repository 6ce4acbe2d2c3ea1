//! State snapshots of one service (`GET` and `PUT /__admin/state`): every table of its store as readable
//! JSON records (`protocol::state`), with the scenarios armed. The tables come from the store's schema;
//! what a record must look like is the service's business ([`Service::check_record`],
//! [`Service::check_state`]).
//!
//! An import is checked whole first (the format, the service, the sealing key, every record decoded the
//! way the store reads it, the references between records, every scenario) and changes nothing when
//! something is wrong. Then the store's records are replaced in one transaction (emptied and written,
//! durable before the answer, all or nothing even across a crash), and the scenarios armed.
//!
//! [`Service::check_record`]: crate::service::Service::check_record
//! [`Service::check_state`]: crate::service::Service::check_state

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use protocol::crypto::{SealKey, seal};
use protocol::scenario::ScenarioSpec;
use protocol::state::{STATE_FORMAT, StateImported, StateRecordRef, StateRecordText};
use protocol::time::UnixTime;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};

use crate::admin::ControlPlane;
use crate::http::{ApiError, read_api_body};
use crate::service::Service;
use crate::store::{ReadTx, Records, Store, StoreError, Table};

/// Largest state `PUT /__admin/state` reads.
pub const MAX_STATE_BYTES: usize = 1024 * 1024 * 1024;

/// The records of a state being imported, by table, once each is known to be readable.
pub struct Incoming {
    tables: Vec<(Table, Records)>,
}

impl Incoming {
    /// The records of the table named `table`, in the state's order: `for (key, value) in …`.
    pub fn records(&self, table: Table) -> &Records {
        static NONE: std::sync::LazyLock<Records> =
            std::sync::LazyLock::new(|| Records::new(Bytes::new()));
        self.tables
            .iter()
            .find(|(t, _)| *t == table)
            .map_or(&NONE, |(_, records)| records)
    }

    /// The keys of `table`.
    pub fn keys(&self, table: Table) -> HashSet<&[u8], foldhash::fast::RandomState> {
        self.records(table).iter().map(|(key, _)| key).collect()
    }
}

/// A fingerprint of a sealing key that reveals nothing of it: the MAC of sealing a fixed text with it.
pub fn key_id(key: &SealKey) -> String {
    let sealed = seal(key, [0u8; 16], b"fortimock state key id");
    hex::encode(&sealed.mac[..8])
}

/// Bytes of an export gathered before they are sent on.
const EXPORT_CHUNK: usize = 256 * 1024;

/// An export on its way: its chunks as they are written. A store failure after the first chunk ends it
/// early, so the client sees a cut answer, never a wrong one.
pub type ExportChunks = BoxStream<'static, Result<Bytes, StoreError>>;

/// `GET /__admin/state`: every table in one read transaction, written as the JSON of a
/// [`ServiceState`](protocol::state::ServiceState) while it is read (on a thread of its own) and sent on
/// in chunks of 256 KiB. A lab of a million tokens is a 451 MiB export: it is never held whole, nor its
/// records copied out of the store one by one. The answer starts once the first chunk is written, so a
/// store that cannot be read is still answered as an error, and a small state is written whole by then.
pub async fn export(
    control: &ControlPlane,
    store: &Store,
    key_id: Option<String>,
) -> Result<ExportChunks, StoreError> {
    let schema = store.schema();
    let mut tables: Vec<Table> = schema.tables.to_vec();
    tables.sort_by_key(|table| table.name());
    let head = ExportHead {
        format: STATE_FORMAT,
        service: control.service,
        version: env!("CARGO_PKG_VERSION"),
        exported: control.clock.now(),
        key_id,
        scenarios: control.scenarios.armed_specs(),
    };
    let store = store.clone();
    let (sender, mut chunks) = tokio::sync::mpsc::channel(2);
    std::thread::Builder::new()
        .name("state-export".to_owned())
        .spawn(move || {
            let mut out = ChunkWriter {
                buffer: Vec::with_capacity(EXPORT_CHUNK),
                sender: &sender,
            };
            match store.read(|r| write_export(&mut out, &head, &tables, r)) {
                Ok(()) => out.finish(),
                Err(e) => {
                    tracing::warn!(service = head.service, error = %e, "a state export failed");
                    let _ = sender.blocking_send(Err(e));
                }
            }
        })
        .map_err(|e| StoreError::internal(format!("starting the export's writer: {e}")))?;
    match chunks.recv().await {
        Some(Ok(first)) => {
            let rest = futures_util::stream::unfold(chunks, |mut chunks| async move {
                chunks.recv().await.map(|chunk| (chunk, chunks))
            });
            Ok(futures_util::stream::once(std::future::ready(Ok(first)))
                .chain(rest)
                .boxed())
        }
        Some(Err(e)) => Err(e),
        None => Err(StoreError::internal(
            "the export's writer ended without a word",
        )),
    }
}

/// What an export says besides its trees.
struct ExportHead {
    format: &'static str,
    service: &'static str,
    version: &'static str,
    exported: UnixTime,
    key_id: Option<String>,
    scenarios: Vec<ScenarioSpec>,
}

/// Writes the export document, reading `tables` through `reader`. When the client went away, the writing
/// stops and that is no failure.
fn write_export(
    out: &mut ChunkWriter<'_>,
    head: &ExportHead,
    tables: &[Table],
    reader: &mut ReadTx,
) -> Result<(), StoreError> {
    let trees = ExportTrees {
        tables,
        reader: RefCell::new(reader),
        failure: RefCell::new(None),
    };
    let document = ExportDocument {
        format: head.format,
        service: head.service,
        version: head.version,
        exported: head.exported,
        key_id: head.key_id.as_deref(),
        trees: &trees,
        scenarios: &head.scenarios,
    };
    let written = serde_json::to_writer(&mut *out, &document);
    match (written, trees.failure.take()) {
        (Ok(()), _) => Ok(()),
        (Err(_), Some(failure)) => Err(failure),
        (Err(e), None) if e.is_io() => Ok(()),
        (Err(e), None) => Err(StoreError::internal(format!("writing the export: {e}"))),
    }
}

/// The export document: a [`ServiceState`], field for field, its trees read as written.
///
/// [`ServiceState`]: protocol::state::ServiceState
#[derive(Serialize)]
struct ExportDocument<'a> {
    format: &'a str,
    service: &'a str,
    version: &'a str,
    exported: UnixTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<&'a str>,
    trees: &'a ExportTrees<'a>,
    scenarios: &'a [ScenarioSpec],
}

/// Every tree, by name, each written from the read transaction as its records are visited.
struct ExportTrees<'a> {
    tables: &'a [Table],
    reader: RefCell<&'a mut ReadTx>,
    /// The store's failure that stopped the writing, kept whole for the answer.
    failure: RefCell<Option<StoreError>>,
}

impl Serialize for ExportTrees<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut trees = serializer.serialize_map(Some(self.tables.len()))?;
        for table in self.tables {
            trees.serialize_entry(
                table.name(),
                &ExportTree {
                    trees: self,
                    table: *table,
                },
            )?;
        }
        trees.end()
    }
}

/// One tree's records, in key order.
struct ExportTree<'t, 'a> {
    trees: &'t ExportTrees<'a>,
    table: Table,
}

impl Serialize for ExportTree<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut records = serializer.serialize_seq(None)?;
        let mut unwritten = None;
        let read = self
            .trees
            .reader
            .borrow_mut()
            .visit(self.table, |key, value| {
                records
                    .serialize_element(&StateRecordRef::from_bytes(key, value))
                    .map_err(|e| {
                        unwritten = Some(e);
                        StoreError::internal("the export stopped writing")
                    })
            });
        if let Some(e) = unwritten {
            return Err(e);
        }
        if let Err(failure) = read {
            let message = failure.to_string();
            *self.trees.failure.borrow_mut() = Some(failure);
            return Err(ser::Error::custom(message));
        }
        records.end()
    }
}

/// Gathers what the export writes into chunks and sends each on when full.
struct ChunkWriter<'a> {
    buffer: Vec<u8>,
    sender: &'a tokio::sync::mpsc::Sender<Result<Bytes, StoreError>>,
}

impl ChunkWriter<'_> {
    fn send(&mut self) -> io::Result<()> {
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(EXPORT_CHUNK));
        self.sender
            .blocking_send(Ok(Bytes::from(chunk)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }

    /// Sends what is left (nothing to do when the client went away).
    fn finish(mut self) {
        if !self.buffer.is_empty() {
            let _ = self.send();
        }
    }
}

impl io::Write for ChunkWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= EXPORT_CHUNK {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `PUT /__admin/state`'s body as it is read: a [`ServiceState`] (it accepts exactly the documents that
/// type accepts), each record kept as the bytes the store will keep. Those are ranges of the body itself
/// wherever the text holds them as they are (a key without escapes, a JSON value): a lab of a million
/// tokens sends two million records, and copying each key and value out of the body cost four million
/// allocations and about 500 MiB of fresh memory per import.
///
/// [`ServiceState`]: protocol::state::ServiceState
#[derive(Debug)]
pub struct StateUpload {
    format: String,
    service: String,
    /// The fortimock version that exported it.
    version: String,
    exported: UnixTime,
    key_id: Option<String>,
    trees: BTreeMap<String, UploadedRecords>,
    scenarios: Vec<ScenarioSpec>,
}

/// One tree's records of a [`StateUpload`]. A record that parses but does not convert (both `key` and
/// `key_hex`, a `value` that is not an object, hex that is not) is kept as the tree's first fault, reported
/// by [`prepare`] in its turn, as the record at fault; the records after it are dropped.
#[derive(Debug)]
pub struct UploadedRecords {
    records: Records,
    /// The first record that did not convert: its index and what is wrong.
    fault: Option<(usize, String)>,
}

impl StateUpload {
    /// The state document `body`, its records left in it where they can be.
    pub fn read(body: Bytes) -> Result<StateUpload, ApiError> {
        crate::http::decode_api_body_with(&body, Upload { body: &body })
    }
}

impl FromRequest for StateUpload {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<StateUpload, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        let payload = payload.take();
        Box::pin(async move { StateUpload::read(read_api_body(&request, payload).await?) })
    }
}

/// Reads a [`StateUpload`] out of `body`: what `#[derive(Deserialize)]` would read (the same fields,
/// defaults and errors), with `body` at hand for the records, which are read straight into ranges of it.
#[derive(Clone, Copy)]
struct Upload<'b> {
    body: &'b Bytes,
}

/// A field of a state document; any other is ignored, as [`ServiceState`] ignores it.
///
/// [`ServiceState`]: protocol::state::ServiceState
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    Format,
    Service,
    Version,
    Exported,
    KeyId,
    Trees,
    Scenarios,
    #[serde(other)]
    Other,
}

const FIELDS: &[&str] = &[
    "format",
    "service",
    "version",
    "exported",
    "key_id",
    "trees",
    "scenarios",
];

impl<'de> DeserializeSeed<'de> for Upload<'_> {
    type Value = StateUpload;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<StateUpload, D::Error> {
        deserializer.deserialize_struct("StateUpload", FIELDS, self)
    }
}

impl<'de> Visitor<'de> for Upload<'_> {
    type Value = StateUpload;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("struct StateUpload")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StateUpload, A::Error> {
        use protocol::strict::field_once as once;
        let (mut format, mut service, mut version, mut exported) = (None, None, None, None);
        let (mut key_id, mut trees, mut scenarios) = (None, None, None);
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Format => once(&mut format, "format", &mut map)?,
                Field::Service => once(&mut service, "service", &mut map)?,
                Field::Version => once(&mut version, "version", &mut map)?,
                Field::Exported => once(&mut exported, "exported", &mut map)?,
                Field::KeyId => once(&mut key_id, "key_id", &mut map)?,
                Field::Trees => {
                    if trees.is_some() {
                        return Err(de::Error::duplicate_field("trees"));
                    }
                    trees = Some(map.next_value_seed(Trees { body: self.body })?);
                }
                Field::Scenarios => {
                    once(&mut scenarios, "scenarios", &mut map)?;
                }
                Field::Other => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(StateUpload {
            format: format.ok_or_else(|| de::Error::missing_field("format"))?,
            service: service.ok_or_else(|| de::Error::missing_field("service"))?,
            version: version.ok_or_else(|| de::Error::missing_field("version"))?,
            exported: exported.ok_or_else(|| de::Error::missing_field("exported"))?,
            key_id: key_id.flatten(),
            trees: trees.ok_or_else(|| de::Error::missing_field("trees"))?,
            scenarios: scenarios.unwrap_or_default(),
        })
    }
}

/// Reads a state document's `trees`: each tree's records by its name.
struct Trees<'b> {
    body: &'b Bytes,
}

impl<'de> DeserializeSeed<'de> for Trees<'_> {
    type Value = BTreeMap<String, UploadedRecords>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Trees<'_> {
    type Value = BTreeMap<String, UploadedRecords>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut trees = BTreeMap::new();
        while let Some(name) = map.next_key::<String>()? {
            let records = map.next_value_seed(Tree { body: self.body })?;
            trees.insert(name, records);
        }
        Ok(trees)
    }
}

/// Reads one tree's records straight into [`Records`] over the body.
struct Tree<'b> {
    body: &'b Bytes,
}

impl<'de> DeserializeSeed<'de> for Tree<'_> {
    type Value = UploadedRecords;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<UploadedRecords, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Tree<'_> {
    type Value = UploadedRecords;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a sequence of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UploadedRecords, A::Error> {
        let mut records = Records::new(self.body.clone());
        let mut fault = None;
        let mut index = 0;
        while let Some(record) = seq.next_element::<StateRecordText<'de>>()? {
            if fault.is_none() {
                let pushed = record
                    .into_parts()
                    .and_then(|(key, value)| records.push(key, value));
                if let Err(e) = pushed {
                    fault = Some((index, e));
                }
            }
            index += 1;
        }
        Ok(UploadedRecords { records, fault })
    }
}

/// A state checked whole and ready to replace the store's ([`prepare`]); nothing has changed yet.
pub struct Prepared {
    incoming: Incoming,
    scenarios: Vec<ScenarioSpec>,
    records: u64,
    /// The version and moment the state was exported at, for the log.
    exported: (String, UnixTime),
}

/// Checks `state` whole against `service`, changing nothing.
pub fn prepare<S: Service>(
    control: &ControlPlane,
    service: &S,
    state: StateUpload,
) -> Result<Prepared, ApiError> {
    let bad = |id: &'static str, message: String| ApiError::bad_request(id, message);
    if state.format != STATE_FORMAT {
        return Err(bad(
            "admin.state.format",
            format!("`format` is `{}`, not `{STATE_FORMAT}`", state.format),
        ));
    }
    if state.service != control.service {
        return Err(bad(
            "admin.state.service",
            format!(
                "this is the {} service's state; the {} service takes its own",
                state.service, control.service
            ),
        ));
    }
    let has_records = state
        .trees
        .values()
        .any(|records| !records.records.is_empty() || records.fault.is_some());
    let key_id = service.key_id();
    if has_records && state.key_id != key_id {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "admin.state.key",
            format!(
                "this state's secrets are sealed with another data dir's key ({}; this service's is {}): \
                 import it into the data dir it came from, or start this one with that data dir's key file",
                state.key_id.as_deref().unwrap_or("none"),
                key_id.as_deref().unwrap_or("none")
            ),
        ));
    }
    let schema = service.store().schema();
    let mut tables: Vec<(Table, Records)> = schema
        .tables
        .iter()
        .map(|t| (*t, Records::new(Bytes::new())))
        .collect();
    for (name, records) in state.trees {
        let Some(at) = tables.iter().position(|(table, _)| table.name() == name) else {
            let known: Vec<&str> = schema.tables.iter().map(|t| t.name()).collect();
            return Err(bad(
                "admin.state.tree",
                format!(
                    "the {} service has no tree `{name}`; it has {}",
                    control.service,
                    known.join(", ")
                ),
            ));
        };
        let table = tables[at].0;
        for (i, (key, value)) in records.records.iter().enumerate() {
            service
                .check_record(table, key, value)
                .map_err(|e| bad("admin.state.record", format!("trees.{name}[{i}]: {e:#}")))?;
        }
        if let Some((i, e)) = records.fault {
            return Err(bad("admin.state.record", format!("trees.{name}[{i}]: {e}")));
        }
        tables[at].1 = records.records;
    }
    let incoming = Incoming { tables };
    service
        .check_state(&incoming)
        .map_err(|e| bad("admin.state.record", format!("{e:#}")))?;
    if state.scenarios.len() > protocol::scenario::MAX_SCENARIOS {
        return Err(bad(
            "admin.state.scenario",
            format!("more than {} scenarios", protocol::scenario::MAX_SCENARIOS),
        ));
    }
    for (i, spec) in state.scenarios.iter().enumerate() {
        spec.validate(control.service)
            .map_err(|e| bad("admin.state.scenario", format!("scenarios[{i}]: {e}")))?;
    }
    let records = incoming.tables.iter().map(|(_, r)| r.len() as u64).sum();
    Ok(Prepared {
        incoming,
        scenarios: state.scenarios,
        records,
        exported: (state.version, state.exported),
    })
}

impl Prepared {
    /// What an import would do, for a dry run: nothing replaced yet.
    pub fn checked(&self, service: &str) -> StateImported {
        StateImported {
            service: service.to_owned(),
            records: self.records,
            replaced: 0,
            scenarios: self.scenarios.len() as u64,
        }
    }

    /// Replaces the store's records in one durable transaction, then the service's scenarios.
    pub async fn apply(
        self,
        control: &ControlPlane,
        store: &Store,
    ) -> Result<StateImported, ApiError> {
        let schema = store.schema();
        let incoming = self.incoming;
        let replaced = store
            .write(move |tx| {
                let replaced = tx.clear_all(schema)?;
                for (table, records) in incoming.tables {
                    tx.put_all(table, records);
                }
                Ok::<u64, StoreError>(replaced)
            })
            .await?;
        let scenarios = control
            .scenarios
            .replace(&self.scenarios, control.clock.now())
            .map_err(|e| ApiError::bad_request("admin.state.scenario", e))?;
        let (version, exported) = self.exported;
        tracing::info!(
            service = control.service,
            records = self.records,
            replaced,
            scenarios,
            %version,
            exported = %exported.rfc3339(),
            "state imported"
        );
        Ok(StateImported {
            service: control.service.to_owned(),
            records: self.records,
            replaced,
            scenarios: scenarios as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Entry;

    fn upload(text: &str) -> Result<StateUpload, ApiError> {
        StateUpload::read(Bytes::copy_from_slice(text.as_bytes()))
    }

    /// What the store will keep of `records`.
    fn stored(records: &Records) -> Vec<Entry> {
        records
            .iter()
            .map(|(key, value)| (key.to_vec(), value.to_vec()))
            .collect()
    }

    /// A state document with `trees` (and `extra`, more top-level fields) spliced in.
    fn document(trees: &str, extra: &str) -> String {
        format!(
            r#"{{"format":"fortimock-state/1","service":"ftm","version":"0.1.0","exported":5{extra},"trees":{trees}}}"#
        )
    }

    #[test]
    fn the_upload_accepts_exactly_what_a_service_state_accepts() {
        let record = r#"{"key":"a","value":{"v":1}}"#;
        let tree = format!(r#"{{"t":[{record}]}}"#);
        let documents = [
            document(&tree, ""),
            document(
                &tree,
                r#","key_id":null,"scenarios":[],"note":"kept aside""#,
            ),
            document(&tree, r#","key_id":"0011""#),
            document("{}", ""),
            document(r#"{"t":[]}"#, ""),
            // The record's own edges: an escaped key, hex, text, a null value, a value that is not a
            // document (parses; refused when converted), the record's fields in any order.
            document(r#"{"t":[{"key":"a\u0000b\n","value_text":"x"}]}"#, ""),
            document(r#"{"t":[{"value_hex":"00ff","key_hex":"0a"}]}"#, ""),
            document(r#"{"t":[{"key":"a","value":null,"value_text":"x"}]}"#, ""),
            document(r#"{"t":[{"key":"a","value":5}]}"#, ""),
            document(r#"{"t":[{"key":"a","value":[1,{"b":"\u00e9"}]}]}"#, ""),
            // Refused by both.
            document(r#"{"t":[{"key":"a","valeu":{}}]}"#, ""),
            document(r#"{"t":[{"key":"a","key":"b","value":{}}]}"#, ""),
            document(r#"{"t":[{"key":"a","value":{"v": }}]}"#, ""),
            document(r#"{"t":[["a",{"v":1}]]}"#, ""),
            document(r#"{"t":[null]}"#, ""),
            document(r#"{"t":null}"#, ""),
            document(r#"{"t":{"key":"a"}}"#, ""),
            document(&format!("[{record}]"), ""),
            document(r#"{"t":[{"key":5,"value":{}}]}"#, ""),
            document(&tree, r#","scenarios":{}"#),
            r#"{"format":"fortimock-state/1","service":"ftm","exported":5,"trees":{}}"#.to_owned(),
            r#"{"format":"fortimock-state/1","service":"ftm","version":"0.1.0","trees":{}}"#
                .to_owned(),
            r#"{"format":"fortimock-state/1","service":"ftm","version":"0.1.0","exported":5}"#
                .to_owned(),
            format!(r#"["fortimock-state/1","ftm","0.1.0",5,null,{tree},[]]"#),
        ];
        let mut accepted = 0;
        for text in &documents {
            let state = protocol::strict::from_str::<protocol::state::ServiceState>(text);
            let upload = upload(text);
            assert_eq!(
                state.is_ok(),
                upload.is_ok(),
                "{text}: {state:?} / {upload:?}"
            );
            let (Ok(state), Ok(upload)) = (state, upload) else {
                continue;
            };
            accepted += 1;
            // Every accepted record reads as the same bytes either way: the parsed record's text read
            // back, against the upload's.
            for (name, records) in &state.trees {
                let uploaded = &upload.trees[name];
                let expected: Vec<Result<Entry, String>> = records
                    .iter()
                    .map(|record| {
                        let text = serde_json::to_string(record).unwrap();
                        serde_json::from_str::<StateRecordText>(&text)
                            .unwrap()
                            .to_bytes()
                    })
                    .collect();
                let first_fault = expected.iter().position(Result::is_err);
                let kept = first_fault.unwrap_or(expected.len());
                let entries: Vec<Entry> = expected[..kept].iter().flatten().cloned().collect();
                assert_eq!(stored(&uploaded.records), entries, "{text}");
                assert_eq!(
                    uploaded.fault.as_ref().map(|(i, _)| *i),
                    first_fault,
                    "{text}"
                );
            }
        }
        assert_eq!(accepted, 10, "the documents meant to be accepted are");
    }

    #[test]
    fn plain_keys_and_json_values_stay_in_the_body_and_escaped_ones_are_decoded() {
        let body = Bytes::from(document(
            r#"{"t":[{"key":"FTKMOB0000000001","value":{"v":1}},{"key":"a\u0000b","value_hex":"00ff"}]}"#,
            "",
        ));
        let upload = StateUpload::read(body.clone()).unwrap();
        let in_body = |part: &[u8]| body.as_ptr_range().contains(&part.as_ptr());
        let records: Vec<(&[u8], &[u8])> = upload.trees["t"].records.iter().collect();
        assert_eq!(records[0], (&b"FTKMOB0000000001"[..], &br#"{"v":1}"#[..]));
        assert!(in_body(records[0].0) && in_body(records[0].1));
        assert_eq!(records[1], (&b"a\0b"[..], &[0u8, 255][..]));
        assert!(!in_body(records[1].0) && !in_body(records[1].1));
    }

    #[test]
    fn a_record_that_does_not_convert_is_kept_as_the_trees_first_fault() {
        let text = document(
            r#"{"t":[{"key":"a","value":{}},{"key":"b","key_hex":"00","value":{}},{"key":"c","value":7},{"key":"d","value":{}}]}"#,
            "",
        );
        let upload = upload(&text).unwrap();
        let records = &upload.trees["t"];
        assert_eq!(
            stored(&records.records),
            vec![(b"a".to_vec(), b"{}".to_vec())]
        );
        let (at, fault) = records.fault.as_ref().unwrap();
        assert_eq!(*at, 1);
        assert!(fault.contains("exactly one of `key`"), "{fault}");
    }
}
