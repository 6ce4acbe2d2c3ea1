//! The virtual phones' storage: the only module that touches the phone service's sled trees.
//!
//! Trees: `phones` (phone name → `PhoneRecordV1`: the phone's identity and its app data, accounts
//! included, with seeds only in the app's encrypted form) and `meta` (`phones_created` → how many phones
//! were ever created, big-endian u64, which numbers default names and orders the list).
//!
//! Every change is one sled transaction that reads the phone's current record, changes it and writes it
//! back, so concurrent activations, deletions and counter steps on one phone never lose each other's
//! writes; each is flushed to disk before the caller answers.

use std::path::Path;

use anyhow::{Context, anyhow};
use protocol::id::TokenSerial;
use protocol::otp::OtpKind;
use protocol::phone::{Platform, PushPolicy, PushStatus};
use protocol::push::PushPayload;
use protocol::time::UnixTime;
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use crate::app_data::{Account, AppData};
use crate::device::{Identity, Phone, default_name};
use crate::push_inbox::{InboxItem, PushInbox, PushSettings};

/// The `meta` key of the number of phones ever created.
const PHONES_CREATED: &[u8] = b"phones_created";

/// Handle to the phone database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    phones: sled::Tree,
    meta: sled::Tree,
}

#[derive(Serialize, Deserialize)]
struct PhoneRecordV1 {
    v: u32,
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
    accounts: Vec<AccountRecordV1>,
    #[serde(default = "manual")]
    push_policy: PushPolicy,
    #[serde(default)]
    push_delay_ms: u64,
    #[serde(default)]
    next_push_id: u64,
    #[serde(default)]
    inbox: Vec<InboxRecordV1>,
}

fn manual() -> PushPolicy {
    PushPolicy::Manual
}

/// A received push. The payload is kept as the app shows it (it holds no secret: the session id is only
/// useful with the seed, which signs the answer).
#[derive(Serialize, Deserialize)]
struct InboxRecordV1 {
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
struct AccountRecordV1 {
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

fn record_of(seq: u64, phone: &Phone) -> PhoneRecordV1 {
    let identity = &phone.identity;
    PhoneRecordV1 {
        v: 1,
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
            .map(|a| AccountRecordV1 {
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
            .map(|i| InboxRecordV1 {
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

fn phone_of(record: PhoneRecordV1) -> anyhow::Result<(u64, Phone)> {
    if record.v != 1 {
        anyhow::bail!("phone record version {} is not 1", record.v);
    }
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

fn decode(bytes: &[u8]) -> anyhow::Result<(u64, Phone)> {
    let record: PhoneRecordV1 = serde_json::from_slice(bytes).context("decoding a phone record")?;
    phone_of(record)
}

fn encode(seq: u64, phone: &Phone) -> Vec<u8> {
    // Serializing plain structs of strings and numbers cannot fail.
    serde_json::to_vec(&record_of(seq, phone)).unwrap_or_default()
}

/// Why a phone could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("there is already a phone named {0}")]
    NameTaken(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// How a transaction ended early: the caller's refusal (nothing written) or a broken record.
enum Stop<E> {
    Refused(E),
    Broken(anyhow::Error),
}

type Abort<E> = ConflictableTransactionError<Stop<E>>;

fn broken<E>(error: anyhow::Error) -> Abort<E> {
    ConflictableTransactionError::Abort(Stop::Broken(error))
}

fn storage<E>(error: TransactionError<Stop<E>>) -> Result<E, anyhow::Error> {
    match error {
        TransactionError::Abort(Stop::Refused(refusal)) => Ok(refusal),
        TransactionError::Abort(Stop::Broken(e)) => Err(e),
        TransactionError::Storage(e) => Err(anyhow::Error::new(e).context("phone storage")),
    }
}

impl Store {
    /// Opens the database in `service_dir` (temporary when `None`).
    pub fn open(service_dir: Option<&Path>) -> anyhow::Result<Store> {
        let db = lab::store::open_db(service_dir)?;
        Ok(Store {
            phones: db.open_tree("phones")?,
            meta: db.open_tree("meta")?,
            db,
        })
    }

    /// Flushes every change to disk (see `lab::store::flush` for why not `flush_async`).
    async fn flush(&self) -> anyhow::Result<()> {
        lab::store::flush(&self.db)
            .await
            .context("flushing the phone database")
    }

    /// Empties every tree for `POST /__admin/reset`, flushed before it returns; how many records went.
    pub async fn reset(&self) -> anyhow::Result<u64> {
        lab::store::reset(&self.db, vec![self.phones.clone(), self.meta.clone()]).await
    }

    /// Stores a new phone under `name`, or under the next free `phone-<n>` when `name` is `None`. `make`
    /// builds the phone from its name. Flushed before it returns.
    pub async fn create(
        &self,
        name: Option<&str>,
        make: impl Fn(String) -> Phone,
    ) -> Result<Phone, CreateError> {
        let result = (&self.phones, &self.meta).transaction(|(phones, meta)| {
            let created = match meta.get(PHONES_CREATED)? {
                Some(bytes) => <[u8; 8]>::try_from(bytes.as_ref())
                    .map(u64::from_be_bytes)
                    .map_err(|_| broken(anyhow!("the phone counter is not 8 bytes")))?,
                None => 0,
            };
            let mut seq = created.saturating_add(1);
            let id = match name {
                Some(name) => {
                    if phones.get(name.as_bytes())?.is_some() {
                        return Err(ConflictableTransactionError::Abort(Stop::Refused(
                            name.to_owned(),
                        )));
                    }
                    name.to_owned()
                }
                None => loop {
                    let candidate = default_name(seq);
                    if phones.get(candidate.as_bytes())?.is_none() {
                        break candidate;
                    }
                    seq = seq.saturating_add(1);
                },
            };
            let phone = make(id);
            phones.insert(phone.id.as_bytes(), encode(seq, &phone))?;
            meta.insert(PHONES_CREATED, &seq.to_be_bytes())?;
            Ok(phone)
        });
        let phone = match result {
            Ok(phone) => phone,
            Err(error) => {
                return Err(match storage(error) {
                    Ok(name) => CreateError::NameTaken(name),
                    Err(e) => CreateError::Internal(e),
                });
            }
        };
        self.flush().await?;
        Ok(phone)
    }

    /// The phone named `id`.
    pub fn phone(&self, id: &str) -> anyhow::Result<Option<Phone>> {
        self.phones
            .get(id.as_bytes())?
            .map(|bytes| decode(&bytes).map(|(_, phone)| phone))
            .transpose()
    }

    /// Every phone, oldest first.
    pub fn phones(&self) -> anyhow::Result<Vec<Phone>> {
        let mut phones = Vec::new();
        for item in self.phones.iter() {
            let (_, bytes) = item?;
            phones.push(decode(&bytes)?);
        }
        phones.sort_by_key(|(seq, _)| *seq);
        Ok(phones.into_iter().map(|(_, phone)| phone).collect())
    }

    /// Changes the phone named `id` in one transaction: `change` gets its current state and either changes
    /// it (written back, flushed before this returns) or refuses (nothing written). `change` may run more
    /// than once when another change to the same phone races with it. `None` when there is no such phone.
    pub async fn update<T, E>(
        &self,
        id: &str,
        change: impl Fn(&mut Phone) -> Result<T, E>,
    ) -> anyhow::Result<Option<Result<T, E>>> {
        let result = self.phones.transaction(|phones| {
            let Some(bytes) = phones.get(id.as_bytes())? else {
                return Ok(None);
            };
            let (seq, mut phone) = decode(&bytes).map_err(broken)?;
            let outcome = change(&mut phone)
                .map_err(|refusal| ConflictableTransactionError::Abort(Stop::Refused(refusal)))?;
            phones.insert(id.as_bytes(), encode(seq, &phone))?;
            Ok(Some(outcome))
        });
        match result {
            Ok(None) => Ok(None),
            Ok(Some(outcome)) => {
                self.flush().await?;
                Ok(Some(Ok(outcome)))
            }
            Err(error) => storage(error).map(|refusal| Some(Err(refusal))),
        }
    }

    /// Deletes the phone named `id` (the app is uninstalled: its tokens are gone). Whether it existed;
    /// flushed before it returns.
    pub async fn delete(&self, id: &str) -> anyhow::Result<bool> {
        let existed = self.phones.remove(id.as_bytes())?.is_some();
        if existed {
            self.flush().await?;
        }
        Ok(existed)
    }
}

/// The phones' records for `/__admin/state`: seeds are in the app's encrypted form, keyed by each phone's
/// own identity, so this state imports into any data dir.
impl lab::state::Snapshot for Store {
    fn db(&self) -> &sled::Db {
        &self.db
    }

    fn trees(&self) -> Vec<(&'static str, sled::Tree)> {
        vec![("phones", self.phones.clone()), ("meta", self.meta.clone())]
    }

    fn check(&self, tree: &str, key: &[u8], value: &[u8]) -> anyhow::Result<()> {
        if tree == "phones" {
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
        let store = Store::open(None).unwrap();
        let first = store.create(None, make).await.unwrap();
        assert_eq!(first.id, "phone-1");
        let named = store.create(Some("phone-3"), make).await.unwrap();
        assert_eq!(named.id, "phone-3");
        assert!(matches!(
            store.create(Some("phone-3"), make).await,
            Err(CreateError::NameTaken(name)) if name == "phone-3"
        ));
        // The counter is at 2, so the next default name would be phone-3, which is taken.
        assert_eq!(store.create(None, make).await.unwrap().id, "phone-4");
        let ids: Vec<String> = store.phones().unwrap().into_iter().map(|p| p.id).collect();
        assert_eq!(ids, ["phone-1", "phone-3", "phone-4"]);
    }

    #[tokio::test]
    async fn updates_refusals_and_deletes() {
        let store = Store::open(None).unwrap();
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
        assert!(store.delete(&phone.id).await.unwrap());
        assert!(!store.delete(&phone.id).await.unwrap());
        assert!(store.phone(&phone.id).unwrap().is_none());
    }

    #[tokio::test]
    async fn phones_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let phone = {
            let store = Store::open(Some(dir.path())).unwrap();
            store.create(Some("kept"), make).await.unwrap()
        };
        let store = Store::open(Some(dir.path())).unwrap();
        let again = store.phone("kept").unwrap().unwrap();
        assert_eq!(again.identity, phone.identity);
        assert_eq!(again.app, phone.app);
        assert_eq!(store.create(None, make).await.unwrap().id, "phone-2");
    }
}
