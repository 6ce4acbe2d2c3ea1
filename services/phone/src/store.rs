//! The virtual phones' storage: the phone service's tables and record format, on the lab's storage toolkit.
//!
//! Tables: `phones` (phone name → `PhoneRecord`: the phone's identity and its app data, accounts
//! included, with seeds only in the app's encrypted form) and `meta` (`phones_created` → how many phones
//! were ever created, big-endian u64, which numbers default names and orders the list).
//!
//! Every change is one write transaction that reads the phone's current record, changes it and writes it
//! back, so concurrent activations, deletions and counter steps on one phone never lose each other's
//! writes; each is durable before the caller answers.

use std::path::Path;

use anyhow::anyhow;
use lab::store::{Abort, OpenError, Reader, Record, Schema, Store, StoreError, Table, Tx, Version};
use protocol::id::TokenSerial;
use protocol::otp::OtpKind;
use protocol::phone::{Platform, PushPolicy, PushStatus};
use protocol::push::PushPayload;
use protocol::time::UnixTime;
use serde::{Deserialize, Serialize};

use crate::app_data::{Account, AppData};
use crate::device::{Identity, Phone, default_name};
use crate::push_inbox::{InboxItem, PushInbox, PushSettings};

pub const PHONES: Table = Table::new("phones");
pub const META: Table = Table::new("meta");

/// The phone service's tables.
pub static SCHEMA: Schema = Schema {
    service: crate::NAME,
    tables: &[PHONES, META],
};

/// The `meta` key of the number of phones ever created.
const PHONES_CREATED: &[u8] = b"phones_created";

/// The virtual phones' database; cheap to clone.
#[derive(Clone)]
pub struct Phones {
    store: Store,
}

#[derive(Serialize, Deserialize)]
struct PhoneRecord {
    v: Version<1>,
    /// Creation order: the value of `phones_created` when the phone was created.
    seq: u64,
    id: String,
    platform: Platform,
    mobile_id: String,
    app_version: String,
    build: String,
    registration_id: String,
    clock_skew_secs: i64,
    created: i64,
    /// The app's `UUID` preference (encrypted).
    uuid_pref: String,
    next_account_id: u64,
    accounts: Vec<AccountRecord>,
    #[serde(default = "manual")]
    push_policy: PushPolicy,
    #[serde(default)]
    push_delay_ms: u64,
    #[serde(default)]
    next_push_id: u64,
    #[serde(default)]
    inbox: Vec<InboxRecord>,
}

fn manual() -> PushPolicy {
    PushPolicy::Manual
}

/// A received push. The payload is kept as the app shows it (it holds no secret: the session id is only
/// useful with the seed, which signs the answer).
#[derive(Serialize, Deserialize)]
struct InboxRecord {
    id: u64,
    message_id: String,
    received: i64,
    sender: String,
    token: String,
    status: PushStatus,
    detail: Option<String>,
    payload: Option<PushPayload>,
}

#[derive(Serialize, Deserialize)]
struct AccountRecord {
    id: u64,
    serial: String,
    name: String,
    kind: String,
    /// The app's `seed` column (encrypted).
    seed: String,
    issuer: String,
    period: u32,
    digits: u32,
    counter: u64,
    image_file: String,
    pin_required: String,
    pin_length: i64,
    pin_required_type: i64,
    activated_ms: i64,
}

fn record_of(seq: u64, phone: &Phone) -> PhoneRecord {
    let identity = &phone.identity;
    PhoneRecord {
        v: Version,
        seq,
        id: phone.id.clone(),
        platform: identity.platform,
        mobile_id: identity.mobile_id.to_string(),
        app_version: identity.app_version.clone(),
        build: identity.build.clone(),
        registration_id: identity.registration_id.clone(),
        clock_skew_secs: identity.clock_skew_secs,
        created: phone.created.secs(),
        uuid_pref: phone.app.uuid_pref.clone(),
        next_account_id: phone.app.next_account_id,
        accounts: phone
            .app
            .accounts
            .iter()
            .map(|a| AccountRecord {
                id: a.id,
                serial: a.serial.to_string(),
                name: a.name.clone(),
                kind: a.kind.as_str().to_owned(),
                seed: a.seed.clone(),
                issuer: a.issuer.clone(),
                period: a.period,
                digits: a.digits,
                counter: a.counter,
                image_file: a.image_file.clone(),
                pin_required: a.pin_required.clone(),
                pin_length: a.pin_length,
                pin_required_type: a.pin_required_type,
                activated_ms: a.activated_ms,
            })
            .collect(),
        push_policy: phone.push.policy,
        push_delay_ms: phone.push.delay_ms,
        next_push_id: phone.inbox.next_id,
        inbox: phone
            .inbox
            .items
            .iter()
            .map(|i| InboxRecord {
                id: i.id,
                message_id: i.message_id.clone(),
                received: i.received.secs(),
                sender: i.sender.clone(),
                token: i.token.clone(),
                status: i.status,
                detail: i.detail.clone(),
                payload: i.payload.clone(),
            })
            .collect(),
    }
}

fn phone_of(record: PhoneRecord) -> anyhow::Result<(u64, Phone)> {
    let accounts = record
        .accounts
        .into_iter()
        .map(|a| {
            Ok(Account {
                id: a.id,
                serial: a.serial.parse::<TokenSerial>()?,
                name: a.name,
                kind: OtpKind::parse(&a.kind).ok_or_else(|| anyhow!("bad kind {}", a.kind))?,
                seed: a.seed,
                issuer: a.issuer,
                period: a.period,
                digits: a.digits,
                counter: a.counter,
                image_file: a.image_file,
                pin_required: a.pin_required,
                pin_length: a.pin_length,
                pin_required_type: a.pin_required_type,
                activated_ms: a.activated_ms,
            })
        })
        .collect::<anyhow::Result<Vec<Account>>>()?;
    let phone = Phone {
        id: record.id,
        identity: Identity {
            platform: record.platform,
            mobile_id: record.mobile_id.parse()?,
            app_version: record.app_version,
            build: record.build,
            registration_id: record.registration_id,
            clock_skew_secs: record.clock_skew_secs,
        },
        created: UnixTime::from_secs(record.created),
        app: AppData {
            uuid_pref: record.uuid_pref,
            next_account_id: record.next_account_id,
            accounts,
        },
        push: PushSettings {
            policy: record.push_policy,
            delay_ms: record.push_delay_ms,
        },
        inbox: PushInbox {
            next_id: record.next_push_id,
            items: record
                .inbox
                .into_iter()
                .map(|i| InboxItem {
                    id: i.id,
                    message_id: i.message_id,
                    received: UnixTime::from_secs(i.received),
                    sender: i.sender,
                    token: i.token,
                    status: i.status,
                    detail: i.detail,
                    payload: i.payload,
                })
                .collect(),
        },
    };
    Ok((record.seq, phone))
}

impl Record for PhoneRecord {
    const KIND: &'static str = "a phone record";
}

fn decode(bytes: &[u8]) -> Result<(u64, Phone), StoreError> {
    let record: PhoneRecord = lab::store::decode(bytes)?;
    phone_of(record).map_err(|e| StoreError::corrupt(format!("a phone record: {e:#}")))
}

/// Why a phone could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("there is already a phone named {0}")]
    NameTaken(String),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

fn read_counter(r: &mut impl Reader) -> Result<u64, StoreError> {
    match r.get(META, PHONES_CREATED)? {
        Some(bytes) => <[u8; 8]>::try_from(bytes.as_slice())
            .map(u64::from_be_bytes)
            .map_err(|_| StoreError::corrupt("the phone counter is not 8 bytes")),
        None => Ok(0),
    }
}

fn write_phone(tx: &mut Tx<'_>, seq: u64, phone: &Phone) -> Result<(), StoreError> {
    tx.put(PHONES, phone.id.as_bytes(), &record_of(seq, phone))
}

impl Phones {
    /// Opens the database in `service_dir` (in memory when `None`).
    pub fn open(service_dir: Option<&Path>) -> Result<Phones, OpenError> {
        Ok(Phones {
            store: Store::open(service_dir, &SCHEMA)?,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stores a new phone under `name`, or under the next free `phone-<n>` when `name` is `None`. `make`
    /// builds the phone from its name. Durable before it returns.
    pub async fn create(
        &self,
        name: Option<String>,
        make: impl FnOnce(String) -> Phone + Send + 'static,
    ) -> Result<Phone, CreateError> {
        self.store
            .write(move |tx| {
                let created = read_counter(tx)?;
                let mut seq = created.saturating_add(1);
                let id = match name {
                    Some(name) => {
                        if tx.contains(PHONES, name.as_bytes())? {
                            return Err(CreateError::NameTaken(name));
                        }
                        name
                    }
                    None => loop {
                        let candidate = default_name(seq);
                        if !tx.contains(PHONES, candidate.as_bytes())? {
                            break candidate;
                        }
                        seq = seq.saturating_add(1);
                    },
                };
                let phone = make(id);
                write_phone(tx, seq, &phone)?;
                tx.insert(META, PHONES_CREATED, &seq.to_be_bytes())?;
                Ok(phone)
            })
            .await
    }

    /// The phone named `id`.
    pub fn phone(&self, id: &str) -> Result<Option<Phone>, StoreError> {
        self.store.read(|r| {
            r.get(PHONES, id.as_bytes())?
                .map(|bytes| decode(&bytes).map(|(_, phone)| phone))
                .transpose()
        })
    }

    /// Every phone, oldest first.
    pub fn phones(&self) -> Result<Vec<Phone>, StoreError> {
        let mut phones = self.store.read(|r| {
            r.all(PHONES)?
                .iter()
                .map(|(_, bytes)| decode(bytes))
                .collect::<Result<Vec<_>, _>>()
        })?;
        phones.sort_by_key(|(seq, _)| *seq);
        Ok(phones.into_iter().map(|(_, phone)| phone).collect())
    }

    /// Changes the phone named `id` in one transaction: `change` gets its current state and either changes
    /// it (written back, durable before this returns) or refuses (nothing written). `None` when there is
    /// no such phone.
    pub async fn update<T, E>(
        &self,
        id: &str,
        change: impl FnOnce(&mut Phone) -> Result<T, E> + Send + 'static,
    ) -> Result<Option<Result<T, E>>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        let id = id.to_owned();
        self.store
            .write_refusable(move |tx| {
                let Some(bytes) = tx.get(PHONES, id.as_bytes())? else {
                    return Ok(None);
                };
                let (seq, mut phone) = decode(&bytes)?;
                let outcome = change(&mut phone).map_err(Abort::Refused)?;
                write_phone(tx, seq, &phone)?;
                Ok(Some(outcome))
            })
            .await
    }

    /// Deletes the phone named `id` (the app is uninstalled: its tokens are gone) and returns it, in one
    /// change; durable before it returns.
    pub async fn delete(&self, id: &str) -> Result<Option<Phone>, StoreError> {
        let id = id.to_owned();
        self.store
            .write(move |tx| {
                tx.remove(PHONES, id.as_bytes())?
                    .map(|bytes| decode(&bytes).map(|(_, phone)| phone))
                    .transpose()
            })
            .await
    }

    /// Every phone, and then none: the store emptied in one change (for a reset).
    pub async fn clear(&self) -> Result<(u64, Vec<Phone>), StoreError> {
        self.store
            .write(|tx| {
                let phones = tx
                    .all(PHONES)?
                    .iter()
                    .map(|(_, bytes)| decode(bytes).map(|(_, phone)| phone))
                    .collect::<Result<Vec<_>, _>>()?;
                let removed = tx.clear_all(&SCHEMA)?;
                Ok((removed, phones))
            })
            .await
    }
}

/// Checks one record of a state being imported: phones' seeds are in the app's encrypted form, keyed by each
/// phone's own identity, so this state imports into any data dir.
pub fn check_record(table: Table, key: &[u8], value: &[u8]) -> anyhow::Result<()> {
    if table == PHONES {
        let (_, phone) = decode(value)?;
        anyhow::ensure!(
            phone.id.as_bytes() == key,
            "phone {} is stored under another name",
            phone.id
        );
    } else {
        anyhow::ensure!(key == PHONES_CREATED, "unknown counter");
        anyhow::ensure!(value.len() == 8, "a counter is a big-endian u64 (8 bytes)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::phone::NewPhone;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn make(id: String) -> Phone {
        let mut rng = StdRng::seed_from_u64(9);
        let identity = crate::device::identity(&NewPhone::default(), &mut rng).unwrap();
        let app = AppData::install(&identity.mobile_id, &mut rng);
        Phone {
            id,
            identity,
            created: UnixTime::from_secs(1_700_000_000),
            app,
            push: PushSettings::default(),
            inbox: PushInbox::default(),
        }
    }

    #[tokio::test]
    async fn names_are_numbered_and_unique() {
        let store = Phones::open(None).unwrap();
        let first = store.create(None, make).await.unwrap();
        assert_eq!(first.id, "phone-1");
        let named = store.create(Some("phone-3".into()), make).await.unwrap();
        assert_eq!(named.id, "phone-3");
        assert!(matches!(
            store.create(Some("phone-3".into()), make).await,
            Err(CreateError::NameTaken(name)) if name == "phone-3"
        ));
        // The counter is at 2, so the next default name would be phone-3, which is taken.
        assert_eq!(store.create(None, make).await.unwrap().id, "phone-4");
        let ids: Vec<String> = store.phones().unwrap().into_iter().map(|p| p.id).collect();
        assert_eq!(ids, ["phone-1", "phone-3", "phone-4"]);
    }

    #[tokio::test]
    async fn updates_refusals_and_deletes() {
        let store = Phones::open(None).unwrap();
        let phone = store.create(None, make).await.unwrap();
        let changed = store
            .update(&phone.id, |p| {
                p.identity.clock_skew_secs = 30;
                Ok::<_, ()>(p.identity.clock_skew_secs)
            })
            .await
            .unwrap();
        assert_eq!(changed, Some(Ok(30)));
        let refused = store
            .update(&phone.id, |p| {
                p.identity.clock_skew_secs = 99;
                Err::<(), _>("no")
            })
            .await
            .unwrap();
        assert_eq!(refused, Some(Err("no")));
        let stored = store.phone(&phone.id).unwrap().unwrap();
        assert_eq!(stored.identity.clock_skew_secs, 30);
        assert_eq!(stored.app, phone.app);
        assert_eq!(
            store.update("nobody", |_| Ok::<(), ()>(())).await.unwrap(),
            None
        );
        assert!(store.delete(&phone.id).await.unwrap().is_some());
        assert!(store.delete(&phone.id).await.unwrap().is_none());
        assert!(store.phone(&phone.id).unwrap().is_none());
    }

    #[tokio::test]
    async fn phones_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let phone = {
            let store = Phones::open(Some(dir.path())).unwrap();
            store.create(Some("kept".into()), make).await.unwrap()
        };
        let store = Phones::open(Some(dir.path())).unwrap();
        let again = store.phone("kept").unwrap().unwrap();
        assert_eq!(again.identity, phone.identity);
        assert_eq!(again.app, phone.app);
        assert_eq!(store.create(None, make).await.unwrap().id, "phone-2");
    }
}
