//! The relay's storage: the push service's tables and record formats, on the lab's storage toolkit.
//!
//! Tables: `devices` (registration id → `DeviceRecord`: platform, webhook, and the bounds of its queue),
//! `queues` (registration id, NUL, queue position as a big-endian u64 → `QueuedPushRecord`, so a prefix
//! scan returns a device's pushes in arrival order), `journal` (journal number, big-endian u64 →
//! `JournalRecord`, every push request answered, in arrival order) and `meta` (`seq`: the last delivery
//! sequence number given; `journal_first` and `journal_next`: the journal's bounds; big-endian u64 each).
//!
//! A push is one transaction over all four tables: the device is looked up, the push gets the next `seq`,
//! joins the device's queue (the oldest dropped past the cap) and the journal (likewise), or the refusal
//! joins the journal. Every change is durable before the caller answers. Registration ids hold no NUL
//! (they are push tokens), so one device's queue prefix never covers another's.

use std::path::Path;

use anyhow::Context;
use lab::store::{Order, Reader, Record, Schema, Store, StoreError, Table, Tx, Version};
use protocol::phone::Platform;
use protocol::push::{DeliveredPush, DeviceView, JournalEntry, PushBatch};
use protocol::time::UnixTime;
use serde::{Deserialize, Serialize};

use crate::relay::{self, Push, Reason, RefusedPush, Registration, platform_name, quoted};

pub const DEVICES: Table = Table::new("devices");
pub const QUEUES: Table = Table::new("queues");
pub const JOURNAL: Table = Table::new("journal");
pub const META: Table = Table::new("meta");

/// The relay's tables.
pub static SCHEMA: Schema = Schema {
    service: crate::NAME,
    tables: &[DEVICES, QUEUES, JOURNAL, META],
};

/// The `meta` key of the last delivery sequence number given.
const SEQ: &[u8] = b"seq";
/// The `meta` key of the oldest journal number still kept.
const JOURNAL_FIRST: &[u8] = b"journal_first";
/// The `meta` key of the next journal number.
const JOURNAL_NEXT: &[u8] = b"journal_next";

/// How much the store keeps.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Journal entries kept; older ones are dropped.
    pub journal: usize,
    /// Pushes kept in each device's queue; older ones are dropped.
    pub queue: usize,
}

impl Caps {
    fn journal(self) -> u64 {
        u64::try_from(self.journal).unwrap_or(u64::MAX)
    }

    fn queue(self) -> u64 {
        u64::try_from(self.queue).unwrap_or(u64::MAX)
    }
}

/// The relay's database; cheap to clone.
#[derive(Clone)]
pub struct Relays {
    store: Store,
    caps: Caps,
}

#[derive(Serialize, Deserialize)]
struct DeviceRecord {
    v: Version<1>,
    platform: Platform,
    webhook: Option<String>,
    registered: i64,
    /// The queue position of the oldest push kept.
    first: u64,
    /// The queue position the next push takes.
    next: u64,
}

impl Record for DeviceRecord {
    const KIND: &'static str = "a device record";
}

#[derive(Serialize, Deserialize)]
struct QueuedPushRecord {
    v: Version<1>,
    seq: u64,
    message_id: String,
    received: i64,
    sender: String,
    registration_id: String,
    platform: Platform,
    message: String,
}

impl Record for QueuedPushRecord {
    const KIND: &'static str = "a queued push record";
}

#[derive(Serialize, Deserialize)]
struct JournalRecord {
    v: Version<1>,
    seq: u64,
    received: i64,
    message_id: Option<String>,
    sender: String,
    registration_id: String,
    platform: String,
    sn: Option<String>,
    outcome: String,
}

impl Record for JournalRecord {
    const KIND: &'static str = "a push journal record";
}

/// What became of a well-formed push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Queued for the device (and to be posted to its webhook, if it has one).
    Delivered {
        push: DeliveredPush,
        webhook: Option<String>,
    },
    /// No device is registered under the id.
    Unregistered,
    /// The device registered with this other platform.
    WrongPlatform(Platform),
}

/// Which journal entries `GET /__admin/pushes` wants.
#[derive(Debug, Clone, Default)]
pub struct JournalFilter {
    pub registration_id: Option<String>,
    pub sender: Option<String>,
    /// The newest this many (of those matching).
    pub limit: Option<usize>,
}

fn queued_push(record: QueuedPushRecord) -> DeliveredPush {
    DeliveredPush {
        message_id: record.message_id,
        seq: record.seq,
        received: UnixTime::from_secs(record.received),
        sender: record.sender,
        registration_id: record.registration_id,
        platform: platform_name(record.platform).to_owned(),
        message: record.message,
    }
}

fn journal_entry(record: JournalRecord) -> JournalEntry {
    JournalEntry {
        seq: record.seq,
        received: UnixTime::from_secs(record.received),
        message_id: record.message_id,
        sender: record.sender,
        registration_id: record.registration_id,
        platform: record.platform,
        sn: record.sn,
        outcome: record.outcome,
    }
}

fn view(registration_id: &str, record: &DeviceRecord) -> DeviceView {
    DeviceView {
        registration_id: registration_id.to_owned(),
        platform: platform_name(record.platform).to_owned(),
        webhook: record.webhook.clone(),
        registered: UnixTime::from_secs(record.registered),
        queued: record.next.saturating_sub(record.first),
    }
}

/// Where a device's queue starts in the `queues` table.
fn queue_prefix(registration_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(registration_id.len() + 9);
    key.extend_from_slice(registration_id.as_bytes());
    key.push(0);
    key
}

fn queue_key(registration_id: &str, position: u64) -> Vec<u8> {
    let mut key = queue_prefix(registration_id);
    key.extend_from_slice(&position.to_be_bytes());
    key
}

fn read_counter(r: &mut impl Reader, key: &[u8]) -> Result<u64, StoreError> {
    match r.get(META, key)? {
        None => Ok(0),
        Some(bytes) => {
            let bytes: [u8; 8] = bytes.as_slice().try_into().map_err(|_| {
                StoreError::corrupt(format!(
                    "the relay counter `{}` is not 8 bytes",
                    String::from_utf8_lossy(key)
                ))
            })?;
            Ok(u64::from_be_bytes(bytes))
        }
    }
}

fn write_counter(tx: &mut Tx<'_>, key: &[u8], value: u64) -> Result<(), StoreError> {
    tx.insert(META, key, &value.to_be_bytes()).map(drop)
}

/// Drops the oldest journal entries until at most `cap` remain.
fn trim_journal(tx: &mut Tx<'_>, cap: u64) -> Result<(), StoreError> {
    let next = read_counter(tx, JOURNAL_NEXT)?;
    let mut first = read_counter(tx, JOURNAL_FIRST)?;
    if next.saturating_sub(first) <= cap {
        return Ok(());
    }
    while next.saturating_sub(first) > cap {
        tx.remove(JOURNAL, &first.to_be_bytes())?;
        first += 1;
    }
    write_counter(tx, JOURNAL_FIRST, first)
}

/// Appends `record` to the journal, dropping the oldest entries past `cap`.
fn append_journal(tx: &mut Tx<'_>, record: &JournalRecord, cap: u64) -> Result<(), StoreError> {
    let number = read_counter(tx, JOURNAL_NEXT)?;
    tx.put(JOURNAL, &number.to_be_bytes(), record)?;
    write_counter(tx, JOURNAL_NEXT, number + 1)?;
    trim_journal(tx, cap)
}

impl Relays {
    /// Opens the relay database in `service_dir` (in memory when `None`), dropping journal entries past
    /// `caps.journal` (the cap may be lower than on the last run).
    pub async fn open(service_dir: Option<&Path>, caps: Caps) -> anyhow::Result<Relays> {
        let dir = service_dir.map(Path::to_path_buf);
        let store = lab::store::open_blocking(move || Store::open(dir.as_deref(), &SCHEMA)).await?;
        let relays = Relays { store, caps };
        let cap = caps.journal();
        relays
            .store
            .write(move |tx| trim_journal(tx, cap))
            .await
            .context("trimming the push journal")?;
        Ok(relays)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Registers a device, or changes a registered one's platform and webhook (its queue stays). Returns
    /// whether it is new, and the device. Durable before it returns.
    pub async fn register(
        &self,
        registration_id: &str,
        registration: &Registration,
        now: UnixTime,
    ) -> Result<(bool, DeviceView), StoreError> {
        let registration_id = registration_id.to_owned();
        let registration = registration.clone();
        self.store
            .write(move |tx| {
                let existing = tx.record::<DeviceRecord>(DEVICES, registration_id.as_bytes())?;
                let created = existing.is_none();
                let record = match existing {
                    Some(record) => DeviceRecord {
                        platform: registration.platform,
                        webhook: registration.webhook.clone(),
                        ..record
                    },
                    None => DeviceRecord {
                        v: Version,
                        platform: registration.platform,
                        webhook: registration.webhook.clone(),
                        registered: now.secs(),
                        first: 0,
                        next: 0,
                    },
                };
                tx.put(DEVICES, registration_id.as_bytes(), &record)?;
                Ok((created, view(&registration_id, &record)))
            })
            .await
    }

    /// The device registered under `registration_id`.
    pub fn device(&self, registration_id: &str) -> Result<Option<DeviceView>, StoreError> {
        self.store.read(|r| {
            Ok(
                r.record::<DeviceRecord>(DEVICES, registration_id.as_bytes())?
                    .map(|record| view(registration_id, &record)),
            )
        })
    }

    /// Every registered device, by registration id.
    pub fn devices(&self) -> Result<Vec<DeviceView>, StoreError> {
        self.store.read(|r| {
            r.all(DEVICES)?
                .iter()
                .map(|(key, bytes)| {
                    let registration_id = String::from_utf8_lossy(key);
                    Ok(view(
                        &registration_id,
                        &lab::store::decode::<DeviceRecord>(bytes)?,
                    ))
                })
                .collect()
        })
    }

    /// Forgets a device and its queue, as when the app is uninstalled; `false` if none was registered.
    /// Durable before it returns.
    pub async fn unregister(&self, registration_id: &str) -> Result<bool, StoreError> {
        let registration_id = registration_id.to_owned();
        self.store
            .write(move |tx| {
                let Some(bytes) = tx.remove(DEVICES, registration_id.as_bytes())? else {
                    return Ok(false);
                };
                let record: DeviceRecord = lab::store::decode(&bytes)?;
                for position in record.first..record.next {
                    tx.remove(QUEUES, &queue_key(&registration_id, position))?;
                }
                Ok(true)
            })
            .await
    }

    /// Delivers a well-formed push: to the device's queue and the journal, with the next `seq`, when a
    /// device of the push's platform is registered under its id; otherwise only the refusal goes to the
    /// journal. One transaction, durable before it returns.
    pub async fn deliver(
        &self,
        push: &Push,
        message_id: &str,
        now: UnixTime,
    ) -> Result<Delivery, StoreError> {
        let caps = self.caps;
        let push = push.clone();
        let message_id = message_id.to_owned();
        self.store
            .write(move |tx| {
                let id = push.registration_id.as_str();
                let journal_record =
                    |seq: u64, message_id: Option<&str>, outcome: &str| JournalRecord {
                        v: Version,
                        seq,
                        received: now.secs(),
                        message_id: message_id.map(str::to_owned),
                        sender: quoted(&push.sender),
                        registration_id: push.registration_id.clone(),
                        platform: platform_name(push.platform).to_owned(),
                        sn: Some(quoted(&push.sn)),
                        outcome: outcome.to_owned(),
                    };
                let Some(mut device) = tx.record::<DeviceRecord>(DEVICES, id.as_bytes())? else {
                    let record = journal_record(0, None, Reason::Unregistered.as_str());
                    append_journal(tx, &record, caps.journal())?;
                    return Ok(Delivery::Unregistered);
                };
                if device.platform != push.platform {
                    let record = journal_record(0, None, Reason::BadDeviceToken.as_str());
                    append_journal(tx, &record, caps.journal())?;
                    return Ok(Delivery::WrongPlatform(device.platform));
                }
                let seq = read_counter(tx, SEQ)? + 1;
                write_counter(tx, SEQ, seq)?;
                let queued = QueuedPushRecord {
                    v: Version,
                    seq,
                    message_id: message_id.clone(),
                    received: now.secs(),
                    sender: push.sender.clone(),
                    registration_id: push.registration_id.clone(),
                    platform: push.platform,
                    message: push.message.clone(),
                };
                tx.put(QUEUES, &queue_key(id, device.next), &queued)?;
                device.next += 1;
                while device.next - device.first > caps.queue() {
                    tx.remove(QUEUES, &queue_key(id, device.first))?;
                    device.first += 1;
                }
                tx.put(DEVICES, id.as_bytes(), &device)?;
                let record = journal_record(seq, Some(&message_id), relay::DELIVERED);
                append_journal(tx, &record, caps.journal())?;
                Ok(Delivery::Delivered {
                    push: queued_push(queued),
                    webhook: device.webhook.clone(),
                })
            })
            .await
    }

    /// Journals a push refused before its device was looked up. Durable before it returns.
    pub async fn journal_refusal(
        &self,
        refused: &RefusedPush,
        outcome: &str,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let cap = self.caps.journal();
        let record = JournalRecord {
            v: Version,
            seq: 0,
            received: now.secs(),
            message_id: None,
            sender: refused.sender.clone(),
            registration_id: refused.registration_id.clone(),
            platform: refused.platform.clone(),
            sn: refused.sn.clone(),
            outcome: outcome.to_owned(),
        };
        self.store
            .write(move |tx| append_journal(tx, &record, cap))
            .await
    }

    /// The pushes queued for a device with a `seq` above `after`, oldest first, at most `limit`; `None`
    /// when no device is registered under the id.
    pub fn pushes_after(
        &self,
        registration_id: &str,
        after: u64,
        limit: usize,
    ) -> Result<Option<PushBatch>, StoreError> {
        self.store.read(|r| {
            if !r.contains(DEVICES, registration_id.as_bytes())? {
                return Ok(None);
            }
            // Newest first, back to the first one the caller has seen.
            let mut newer = Vec::new();
            for (_, bytes) in r.scan(
                QUEUES,
                &queue_prefix(registration_id),
                Order::Descending,
                None,
            )? {
                let push = queued_push(lab::store::decode(&bytes)?);
                if push.seq <= after {
                    break;
                }
                newer.push(push);
            }
            newer.reverse();
            newer.truncate(limit);
            let last_seq = newer.last().map_or(after, |push| push.seq);
            Ok(Some(PushBatch {
                pushes: newer,
                last_seq,
            }))
        })
    }

    /// Journal entries matching `filter`, oldest first (the newest `limit` of them).
    pub fn journal(&self, filter: &JournalFilter) -> Result<Vec<JournalEntry>, StoreError> {
        let limit = filter.limit.unwrap_or(usize::MAX);
        self.store.read(|r| {
            let mut entries = Vec::new();
            for (_, bytes) in r.scan(JOURNAL, &[], Order::Descending, None)? {
                if entries.len() >= limit {
                    break;
                }
                let entry = journal_entry(lab::store::decode(&bytes)?);
                let wanted =
                    |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
                if wanted(&filter.registration_id, &entry.registration_id)
                    && wanted(&filter.sender, &entry.sender)
                {
                    entries.push(entry);
                }
            }
            entries.reverse();
            Ok(entries)
        })
    }

    /// Empties the journal (journal numbers keep counting); returns how many entries went. Durable before
    /// it returns.
    pub async fn clear_journal(&self) -> Result<u64, StoreError> {
        self.store
            .write(|tx| {
                let next = read_counter(tx, JOURNAL_NEXT)?;
                let first = read_counter(tx, JOURNAL_FIRST)?;
                for number in first..next {
                    tx.remove(JOURNAL, &number.to_be_bytes())?;
                }
                write_counter(tx, JOURNAL_FIRST, next)?;
                Ok(next - first)
            })
            .await
    }
}

/// Checks one record of a state being imported.
pub fn check_record(table: Table, key: &[u8], value: &[u8]) -> anyhow::Result<()> {
    let counter = |bytes: &[u8], what: &str| -> anyhow::Result<()> {
        anyhow::ensure!(bytes.len() == 8, "{what} is not a big-endian u64 (8 bytes)");
        Ok(())
    };
    match table {
        DEVICES => {
            std::str::from_utf8(key).context("a registration id is text")?;
            lab::store::decode::<DeviceRecord>(value)?;
        }
        QUEUES => {
            let split = key.len().checked_sub(9).filter(|at| key[*at] == 0);
            let at = split.context("a queue key is <registration id>\\0<u64>")?;
            let push: QueuedPushRecord = lab::store::decode(value)?;
            anyhow::ensure!(
                push.registration_id.as_bytes() == &key[..at],
                "a push for {} is queued under another device",
                push.registration_id
            );
        }
        JOURNAL => {
            counter(key, "a journal key")?;
            lab::store::decode::<JournalRecord>(value)?;
        }
        _ => {
            anyhow::ensure!(
                [SEQ, JOURNAL_FIRST, JOURNAL_NEXT].contains(&key),
                "unknown counter `{}`",
                String::from_utf8_lossy(key)
            );
            counter(value, "a counter")?;
        }
    }
    Ok(())
}

/// Checks that every queued push of a state belongs to a device in it.
pub fn check_state(incoming: &lab::state::Incoming) -> anyhow::Result<()> {
    let devices = incoming.keys(DEVICES);
    for (key, _) in incoming.records(QUEUES) {
        let device = &key[..key.len() - 9];
        anyhow::ensure!(
            devices.contains(device),
            "a push is queued for `{}`, which is not in `devices`",
            String::from_utf8_lossy(device)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANDROID: &str = "f6t6cMVZI5c:APA91bFzxAbCdEfGhIjKlMnOpQrStUv";
    const IOS: &str = "fa0678e8f9e35f6a251cea691e4d56ed6fe9169ad03d2d26fe6dede6c8985a90";
    const NOW: UnixTime = UnixTime::from_secs(1_700_000_000);

    async fn store(journal: usize, queue: usize) -> Relays {
        Relays::open(None, Caps { journal, queue }).await.unwrap()
    }

    fn push(registration_id: &str, platform: Platform, sn: &str) -> Push {
        Push {
            sender: "FGT-FGVM32TM20000015-root".into(),
            registration_id: registration_id.into(),
            platform,
            message: format!("{{ \"sn\": \"{sn}\" }}"),
            sn: sn.into(),
        }
    }

    fn android() -> Registration {
        Registration {
            platform: Platform::Android,
            webhook: None,
        }
    }

    async fn delivered(store: &Relays, push: &Push, message_id: &str) -> DeliveredPush {
        match store.deliver(push, message_id, NOW).await.unwrap() {
            Delivery::Delivered { push, .. } => push,
            other => panic!("not delivered: {other:?}"),
        }
    }

    #[tokio::test]
    async fn pushes_queue_in_arrival_order_with_relay_wide_seqs() {
        let store = store(100, 1000).await;
        let (created, _) = store.register(ANDROID, &android(), NOW).await.unwrap();
        assert!(created);
        let ios = Registration {
            platform: Platform::Ios,
            webhook: Some("http://127.0.0.1:9/hook".into()),
        };
        store.register(IOS, &ios, NOW).await.unwrap();
        let first = delivered(&store, &push(ANDROID, Platform::Android, "A1"), "m1").await;
        let other = delivered(&store, &push(IOS, Platform::Ios, "I1"), "m2").await;
        let second = delivered(&store, &push(ANDROID, Platform::Android, "A2"), "m3").await;
        assert_eq!((first.seq, other.seq, second.seq), (1, 2, 3));
        let batch = store.pushes_after(ANDROID, 0, 100).unwrap().unwrap();
        let ids: Vec<_> = batch.pushes.iter().map(|p| p.message_id.as_str()).collect();
        assert_eq!(ids, ["m1", "m3"]);
        assert_eq!(batch.last_seq, 3);
        let later = store.pushes_after(ANDROID, 1, 100).unwrap().unwrap();
        assert_eq!(later.pushes.len(), 1);
        let none = store.pushes_after(ANDROID, 3, 100).unwrap().unwrap();
        assert_eq!((none.pushes.len(), none.last_seq), (0, 3));
        let limited = store.pushes_after(ANDROID, 0, 1).unwrap().unwrap();
        assert_eq!((limited.pushes.len(), limited.last_seq), (1, 1));
        assert!(store.pushes_after("unknown", 0, 100).unwrap().is_none());
        let (created, view) = store.register(ANDROID, &android(), NOW).await.unwrap();
        assert!(!created);
        assert_eq!(view.queued, 2);
    }

    #[tokio::test]
    async fn unknown_ids_and_the_other_platform_are_journaled_refusals() {
        let store = store(100, 1000).await;
        store.register(ANDROID, &android(), NOW).await.unwrap();
        let unknown = store
            .deliver(&push(IOS, Platform::Ios, "I1"), "m1", NOW)
            .await
            .unwrap();
        assert_eq!(unknown, Delivery::Unregistered);
        let mismatch = store
            .deliver(&push(ANDROID, Platform::Ios, "A1"), "m2", NOW)
            .await
            .unwrap();
        assert_eq!(mismatch, Delivery::WrongPlatform(Platform::Android));
        let journal = store.journal(&JournalFilter::default()).unwrap();
        let outcomes: Vec<_> = journal.iter().map(|e| e.outcome.as_str()).collect();
        assert_eq!(outcomes, ["Unregistered", "BadDeviceToken"]);
        assert!(journal.iter().all(|e| e.seq == 0 && e.message_id.is_none()));
        assert_eq!(store.device(ANDROID).unwrap().unwrap().queued, 0);
    }

    #[tokio::test]
    async fn queues_and_the_journal_keep_the_newest() {
        let store = store(3, 2).await;
        store.register(ANDROID, &android(), NOW).await.unwrap();
        for n in 1..=5 {
            delivered(
                &store,
                &push(ANDROID, Platform::Android, "A"),
                &format!("m{n}"),
            )
            .await;
        }
        let batch = store.pushes_after(ANDROID, 0, 100).unwrap().unwrap();
        let seqs: Vec<_> = batch.pushes.iter().map(|p| p.seq).collect();
        assert_eq!(seqs, [4, 5]);
        assert_eq!(store.device(ANDROID).unwrap().unwrap().queued, 2);
        let journal = store.journal(&JournalFilter::default()).unwrap();
        let seqs: Vec<_> = journal.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [3, 4, 5]);
        let newest = JournalFilter {
            limit: Some(1),
            ..JournalFilter::default()
        };
        assert_eq!(store.journal(&newest).unwrap()[0].seq, 5);
        assert_eq!(store.clear_journal().await.unwrap(), 3);
        assert!(store.journal(&JournalFilter::default()).unwrap().is_empty());
        delivered(&store, &push(ANDROID, Platform::Android, "A"), "m6").await;
        assert_eq!(store.journal(&JournalFilter::default()).unwrap().len(), 1);
    }

    #[tokio::test]
    async fn unregistering_drops_the_queue() {
        let store = store(100, 1000).await;
        store.register(ANDROID, &android(), NOW).await.unwrap();
        delivered(&store, &push(ANDROID, Platform::Android, "A"), "m1").await;
        assert!(store.unregister(ANDROID).await.unwrap());
        assert!(!store.unregister(ANDROID).await.unwrap());
        assert_eq!(store.store().read(|r| r.count(QUEUES)).unwrap(), 0);
        assert!(store.device(ANDROID).unwrap().is_none());
        store.register(ANDROID, &android(), NOW).await.unwrap();
        let batch = store.pushes_after(ANDROID, 0, 100).unwrap().unwrap();
        assert!(batch.pushes.is_empty());
        assert_eq!(store.devices().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn journal_filters_match_exactly() {
        let store = store(100, 1000).await;
        store.register(ANDROID, &android(), NOW).await.unwrap();
        delivered(&store, &push(ANDROID, Platform::Android, "A"), "m1").await;
        store
            .deliver(&push(IOS, Platform::Ios, "I"), "m2", NOW)
            .await
            .unwrap();
        let by_id = JournalFilter {
            registration_id: Some(IOS.into()),
            ..JournalFilter::default()
        };
        let entries = store.journal(&by_id).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].outcome, "Unregistered");
        let by_sender = JournalFilter {
            sender: Some("FGT-FGVM32TM20000015-root".into()),
            ..JournalFilter::default()
        };
        assert_eq!(store.journal(&by_sender).unwrap().len(), 2);
        let nobody = JournalFilter {
            sender: Some("FGT-FGVM32TM20000016-root".into()),
            ..JournalFilter::default()
        };
        assert!(store.journal(&nobody).unwrap().is_empty());
    }
}
