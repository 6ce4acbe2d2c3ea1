//! FortiGuard's hardware token vault: forticare's tables for hardware token batches, on the lab's storage
//! toolkit. `hardware_batches` (batch id → `BatchRecord`) and `hardware_tokens` (serial → `TokenRecord`, the
//! seed sealed with the key in `<data-dir>/forticare/hardware.key`, the activation lock, the counts). A batch
//! is created in one transaction; an activation reads and changes every token it names in one transaction
//! (two appliances racing for one token: one gets the seed, the other the lock's refusal); TAC's reset is
//! all or none.

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use lab::store::{Order, Reader, Record, Store, StoreError, Table, Version};
use protocol::catalogue::CatalogueEntry;
use protocol::crypto::{SealKey, Sealed, open, seal};
use protocol::hardware::{HardwareBatchView, NewHardwareBatch};
use protocol::id::{ApplianceSerial, HardwareModel, HardwareSerial};
use protocol::modeled;
use protocol::seed::Seed;
use protocol::time::UnixTime;
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};

use crate::hardware_tokens::{self, Activation, HardwareToken};

pub const HARDWARE_BATCHES: Table = Table::new("hardware_batches");
pub const HARDWARE_TOKENS: Table = Table::new("hardware_tokens");

/// The hardware token vault; cheap to clone. It shares the ledger's store.
#[derive(Clone)]
pub struct HardwareVault {
    store: Store,
    key: SealKey,
}

#[derive(Serialize, Deserialize)]
struct BatchRecord {
    v: Version<1>,
    batch: String,
    /// The batch's number, which names its serials' range (`modeled::hardware_serial`).
    number: u32,
    model: HardwareModel,
    count: u32,
    demo: bool,
    created: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct TokenRecord {
    v: Version<1>,
    serial: String,
    batch: String,
    demo: bool,
    /// Base64 of the sealed seed (iv ‖ ciphertext ‖ mac).
    sealed_seed: String,
    locked_to: Option<String>,
    locked_at: Option<i64>,
    activations: u32,
    resets: u32,
}

impl Record for BatchRecord {
    const KIND: &'static str = "a hardware token batch record";
}

impl Record for TokenRecord {
    const KIND: &'static str = "a hardware token record";
}

impl TokenRecord {
    fn token(&self) -> anyhow::Result<HardwareToken> {
        let locked_to = match (&self.locked_to, self.locked_at) {
            (Some(serial), Some(at)) => Some((serial.parse()?, UnixTime::from_secs(at))),
            (None, None) => None,
            _ => anyhow::bail!("locked_to and locked_at go together"),
        };
        Ok(HardwareToken {
            serial: self.serial.parse()?,
            batch: self.batch.clone(),
            demo: self.demo,
            locked_to,
            activations: self.activations,
            resets: self.resets,
        })
    }

    fn with(&self, token: &HardwareToken) -> TokenRecord {
        TokenRecord {
            v: Version,
            serial: token.serial.to_string(),
            batch: token.batch.clone(),
            demo: token.demo,
            sealed_seed: self.sealed_seed.clone(),
            locked_to: token.locked_to.as_ref().map(|(a, _)| a.to_string()),
            locked_at: token.locked_to.as_ref().map(|(_, at)| at.secs()),
            activations: token.activations,
            resets: token.resets,
        }
    }
}

fn corrupt(e: anyhow::Error) -> StoreError {
    StoreError::corrupt(format!("a hardware token record: {e:#}"))
}

fn unseal(key: &SealKey, sealed: &str) -> anyhow::Result<Seed> {
    let bytes = BASE64.decode(sealed).context("a sealed seed")?;
    let sealed = Sealed::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("a sealed seed: {e}"))?;
    let plain = open(key, &sealed).map_err(|e| anyhow::anyhow!("unsealing a seed: {e}"))?;
    Seed::from_bytes(&plain).map_err(|e| anyhow::anyhow!("a sealed seed: {e}"))
}

fn read_token(
    r: &mut impl Reader,
    serial: &str,
) -> Result<Option<(TokenRecord, HardwareToken)>, StoreError> {
    r.record::<TokenRecord>(HARDWARE_TOKENS, serial.as_bytes())?
        .map(|record| {
            let token = record.token().map_err(corrupt)?;
            Ok((record, token))
        })
        .transpose()
}

fn batch_view(r: &mut impl Reader, record: &BatchRecord) -> Result<HardwareBatchView, StoreError> {
    let mut tokens = Vec::with_capacity(record.count as usize);
    for index in 0..record.count {
        let Some(serial) = modeled::hardware_serial(record.model, record.number, index) else {
            continue;
        };
        if let Some((_, token)) = read_token(r, serial.as_str())? {
            tokens.push(token.view());
        }
    }
    Ok(HardwareBatchView {
        batch: record.batch.clone(),
        model: record.model,
        demo: record.demo,
        created: UnixTime::from_secs(record.created),
        note: record.note.clone(),
        tokens,
    })
}

/// What one serial of an activation got.
pub enum Activated {
    Seed(Seed),
    Refused(&'static CatalogueEntry),
}

/// Why TAC's reset was not done (nothing was).
#[derive(Debug)]
pub enum ResetRefusal {
    Unknown(String),
    Refused(String),
}

impl HardwareVault {
    /// The vault on the ledger's `store`, with the seal key `hardware.key` beside it (a fresh one when the
    /// store is in memory).
    pub fn open(store: Store) -> anyhow::Result<HardwareVault> {
        let key = SealKey::from_secret(
            &lab::store::data_secret(&store, "hardware.key")?,
            "fortiguard hardware token seed",
        );
        Ok(HardwareVault { store, key })
    }

    /// Creates a batch: its serials in one range, a fresh 20-byte seed each, sealed. One transaction.
    /// Creates the fixtures' batches (after a reset, or on a first start); how many.
    pub async fn load_fixtures(
        &self,
        batches: &[NewHardwareBatch],
        now: UnixTime,
    ) -> Result<u64, StoreError> {
        for spec in batches {
            if !(1..=protocol::hardware::MAX_BATCH_TOKENS).contains(&spec.count) {
                return Err(StoreError::internal(format!(
                    "a fixture hardware token batch of {} tokens: between 1 and {}",
                    spec.count,
                    protocol::hardware::MAX_BATCH_TOKENS
                )));
            }
            self.create_batch(spec.clone(), now).await?;
        }
        Ok(batches.len() as u64)
    }

    pub async fn create_batch(
        &self,
        spec: NewHardwareBatch,
        now: UnixTime,
    ) -> Result<HardwareBatchView, StoreError> {
        let key = self.key.clone();
        self.store
            .write(move |tx| {
                let mut number = 0;
                for (_, bytes) in tx.scan(HARDWARE_BATCHES, b"", Order::Ascending, None)? {
                    let record: BatchRecord = lab::store::decode(&bytes)?;
                    number = number.max(record.number + 1);
                }
                let batch = format!("HW{:06}", number + 1);
                let record = BatchRecord {
                    v: Version,
                    batch: batch.clone(),
                    number,
                    model: spec.model,
                    count: spec.count,
                    demo: spec.demo,
                    created: now.secs(),
                    note: spec.note.clone(),
                };
                let mut rng = rand::thread_rng();
                for index in 0..spec.count {
                    let serial = modeled::hardware_serial(spec.model, number, index)
                        .ok_or_else(|| StoreError::internal("a hardware serial out of range"))?;
                    if tx.contains(HARDWARE_TOKENS, serial.as_str().as_bytes())? {
                        return Err(StoreError::internal(format!("{serial} exists already")));
                    }
                    let mut seed = [0u8; 20];
                    rng.fill_bytes(&mut seed);
                    let sealed = seal(&key, rng.r#gen(), &seed);
                    let token = TokenRecord {
                        v: Version,
                        serial: serial.to_string(),
                        batch: batch.clone(),
                        demo: spec.demo,
                        sealed_seed: BASE64.encode(sealed.to_bytes()),
                        locked_to: None,
                        locked_at: None,
                        activations: 0,
                        resets: 0,
                    };
                    tx.put(HARDWARE_TOKENS, serial.as_str().as_bytes(), &token)?;
                }
                tx.put(HARDWARE_BATCHES, batch.as_bytes(), &record)?;
                batch_view(tx, &record)
            })
            .await
    }

    pub fn batches(&self) -> Result<Vec<HardwareBatchView>, StoreError> {
        self.store.read(|r| {
            let records: Vec<BatchRecord> = r
                .scan(HARDWARE_BATCHES, b"", Order::Ascending, None)?
                .iter()
                .map(|(_, bytes)| lab::store::decode(bytes))
                .collect::<Result<_, _>>()?;
            records.iter().map(|record| batch_view(r, record)).collect()
        })
    }

    pub fn batch(&self, batch: &str) -> Result<Option<HardwareBatchView>, StoreError> {
        self.store.read(
            |r| match r.record::<BatchRecord>(HARDWARE_BATCHES, batch.as_bytes())? {
                Some(record) => Ok(Some(batch_view(r, &record)?)),
                None => Ok(None),
            },
        )
    }

    /// Every serial and seed of a batch, unsealed, for its seed file; `None` when there is no such batch.
    pub fn seed_entries(
        &self,
        batch: &str,
    ) -> Result<Option<Vec<(HardwareSerial, Seed)>>, StoreError> {
        let key = self.key.clone();
        self.store.read(|r| {
            let Some(record) = r.record::<BatchRecord>(HARDWARE_BATCHES, batch.as_bytes())? else {
                return Ok(None);
            };
            let mut entries = Vec::new();
            for index in 0..record.count {
                let Some(serial) = modeled::hardware_serial(record.model, record.number, index)
                else {
                    continue;
                };
                if let Some((token, _)) = read_token(r, serial.as_str())? {
                    entries.push((serial, unseal(&key, &token.sealed_seed).map_err(corrupt)?));
                }
            }
            Ok(Some(entries))
        })
    }

    /// Activates `serials` (as sent, already trimmed) for `requester`, in one transaction: per serial the
    /// seed or the refusal.
    pub async fn activate(
        &self,
        requester: ApplianceSerial,
        serials: Vec<String>,
        now: UnixTime,
    ) -> Result<Vec<Activated>, StoreError> {
        let key = self.key.clone();
        self.store
            .write(move |tx| {
                let mut answers = Vec::with_capacity(serials.len());
                for wanted in &serials {
                    let found = match wanted.parse::<HardwareSerial>() {
                        Ok(serial) => read_token(tx, serial.as_str())?,
                        Err(_) => None,
                    };
                    let decision =
                        hardware_tokens::activate(found.as_ref().map(|(_, t)| t), &requester, now);
                    answers.push(match (decision, found) {
                        (Activation::Granted(after), Some((record, _))) => {
                            let seed = unseal(&key, &record.sealed_seed).map_err(corrupt)?;
                            tx.put(
                                HARDWARE_TOKENS,
                                after.serial.as_str().as_bytes(),
                                &record.with(&after),
                            )?;
                            Activated::Seed(seed)
                        }
                        (Activation::Granted(_), None) => {
                            Activated::Refused(&modeled::HARDWARE_NOT_IN_FORTIGUARD)
                        }
                        (Activation::Refused(entry), _) => Activated::Refused(entry),
                    });
                }
                Ok(answers)
            })
            .await
    }

    /// TAC's reset of the activation lock of `serials`: all of them or, if any cannot be reset, none.
    pub async fn reset_lock(
        &self,
        serials: Vec<HardwareSerial>,
    ) -> Result<Result<Vec<HardwareToken>, ResetRefusal>, StoreError> {
        self.store
            .write(move |tx| {
                // Every serial is checked before anything is written: a refusal (answered with `Ok`, which
                // commits) must leave every lock as it was.
                let mut checked = Vec::with_capacity(serials.len());
                for serial in &serials {
                    let Some((record, token)) = read_token(tx, serial.as_str())? else {
                        return Ok(Err(ResetRefusal::Unknown(format!(
                            "{serial} is not a token FortiGuard knows"
                        ))));
                    };
                    match hardware_tokens::reset_lock(&token) {
                        Ok(after) => checked.push((serial, record, after)),
                        Err(why) => return Ok(Err(ResetRefusal::Refused(why))),
                    }
                }
                let mut reset = Vec::with_capacity(checked.len());
                for (serial, record, after) in checked {
                    tx.put(
                        HARDWARE_TOKENS,
                        serial.as_str().as_bytes(),
                        &record.with(&after),
                    )?;
                    reset.push(after);
                }
                Ok(Ok(reset))
            })
            .await
    }

    /// Checks one record of a state being imported; `None` for another table. Sealed seeds must open with
    /// this data dir's key.
    pub fn check_record(
        &self,
        table: Table,
        key: &[u8],
        value: &[u8],
    ) -> Option<anyhow::Result<()>> {
        let check = || -> anyhow::Result<()> {
            let key = std::str::from_utf8(key).context("the key is not text")?;
            if table == HARDWARE_BATCHES {
                let record: BatchRecord = lab::store::decode(value)?;
                anyhow::ensure!(
                    record.batch == key,
                    "batch {} is stored under {key}",
                    record.batch
                );
                anyhow::ensure!(
                    (1..=protocol::hardware::MAX_BATCH_TOKENS).contains(&record.count),
                    "batch {key} has {} tokens",
                    record.count
                );
            } else {
                let record: TokenRecord = lab::store::decode(value)?;
                let token = record.token()?;
                anyhow::ensure!(
                    token.serial.as_str() == key,
                    "token {} is stored under {key}",
                    token.serial
                );
                unseal(&self.key, &record.sealed_seed)?;
            }
            Ok(())
        };
        (table == HARDWARE_BATCHES || table == HARDWARE_TOKENS).then(check)
    }

    /// Checks that every hardware token of a state belongs to a batch in it.
    pub fn check_state(incoming: &lab::state::Incoming) -> anyhow::Result<()> {
        let batches = incoming.keys(HARDWARE_BATCHES);
        for (key, value) in incoming.records(HARDWARE_TOKENS) {
            let record: TokenRecord = lab::store::decode(value)?;
            anyhow::ensure!(
                batches.contains(record.batch.as_bytes()),
                "hardware token `{}` names batch `{}`, which is not in the state",
                String::from_utf8_lossy(key),
                record.batch
            );
        }
        Ok(())
    }
}
