//! The escrow's storage: ftm's tables and record formats, on the lab's storage toolkit.
//!
//! Tables: `escrow` (activation code as 16 hex digits → `EscrowRecord`: the token and its seed, sealed
//! with the per-data-dir escrow key), `tokens` (token serial → `TokenRecord`) and `activations`
//! (`<time>:<token>` → `ActivationRecord`, the download log).
//!
//! Seeds never rest in the clear: each is sealed (AES-256-CBC + HMAC-SHA256) with a key kept in
//! `<data-dir>/ftm/escrow.key` (in memory when ephemeral). Taking a seed out of escrow for a phone is one
//! transaction (remove the entry, record the activation), durable before the caller answers, so of any
//! number of requests for one code exactly one ever gets the seed, even across a crash or a power loss.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use lab::store::{DecodedRecords, Reader, Record, Schema, Store, StoreError, Table, Version};
use protocol::activation::TokenActivationCode;
use protocol::admin::{ActivationView, EscrowEntryView};
use protocol::crypto::{SealKey, Sealed, open, seal};
use protocol::id::{ApplianceSerial, LicenseId, TokenSerial};
use protocol::modeled::otp_to_wire;
use protocol::otp::OtpKind;
use protocol::seed::Seed;
use protocol::time::UnixTime;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::escrow::{self, Activation, OtpParams, ProvisionSpec, TokenState};

pub const ESCROW: Table = Table::new("escrow");
pub const TOKENS: Table = Table::new("tokens");
pub const ACTIVATIONS: Table = Table::new("activations");

/// ftm's tables.
pub static SCHEMA: Schema = Schema {
    service: crate::NAME,
    tables: &[
        ESCROW,
        TOKENS,
        ACTIVATIONS,
        crate::transfer::TRANSFERS,
        crate::transfer::TRANSFER_CODES,
    ],
};

/// The seed escrow; cheap to clone.
#[derive(Clone)]
pub struct Escrow {
    pub(crate) store: Store,
    pub(crate) key: SealKey,
    /// Token states decoded for polls, reused while their stored bytes are unchanged.
    decoded: Arc<DecodedRecords<TokenState>>,
}

/// Most token states kept decoded for polls.
const DECODED_TOKENS: usize = 16_384;

#[derive(Serialize, Deserialize)]
struct EscrowRecord {
    v: Version<1>,
    token: String,
    /// Base64 of iv ‖ ciphertext ‖ mac.
    sealed_seed: String,
    expires: i64,
}

impl Record for EscrowRecord {
    const KIND: &'static str = "an escrow record";
}

/// A token's record, its text borrowed from the bytes it is read from (or from the state it is written
/// from): a poll and a state import decode one per token.
#[derive(Serialize, Deserialize)]
struct TokenRecord<'a> {
    v: Version<1>,
    #[serde(borrow)]
    token: Cow<'a, str>,
    #[serde(borrow)]
    license: Cow<'a, str>,
    #[serde(borrow)]
    appliance: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    period: u32,
    digits: u32,
    /// The activation code in escrow, base32; absent once downloaded.
    #[serde(borrow)]
    code: Option<Cow<'a, str>>,
    provisioned: i64,
    expires: i64,
    #[serde(borrow)]
    activation: Option<TokenActivationRecord<'a>>,
}

impl Record for TokenRecord<'_> {
    const KIND: &'static str = "a token record";
}

#[derive(Clone, Serialize, Deserialize)]
struct TokenActivationRecord<'a> {
    #[serde(borrow)]
    token: Cow<'a, str>,
    #[serde(borrow)]
    mobile_id_hash: Cow<'a, str>,
    #[serde(borrow)]
    reg_id: Cow<'a, str>,
    #[serde(borrow)]
    os_ver: Cow<'a, str>,
    at: i64,
}

/// One seed download, in the download log.
#[derive(Clone, Serialize, Deserialize)]
struct ActivationRecord {
    v: Version<1>,
    token: String,
    mobile_id_hash: String,
    reg_id: String,
    os_ver: String,
    at: i64,
}

impl Record for ActivationRecord {
    const KIND: &'static str = "an activation record";
}

impl<'a> From<&'a TokenState> for TokenRecord<'a> {
    fn from(state: &'a TokenState) -> TokenRecord<'a> {
        TokenRecord {
            v: Version,
            token: Cow::Borrowed(state.token.as_str()),
            license: Cow::Borrowed(state.license.as_str()),
            appliance: Cow::Borrowed(state.appliance.as_str()),
            kind: Cow::Borrowed(state.params.kind.as_str()),
            period: state.params.period,
            digits: state.params.digits,
            code: state.code.map(|c| Cow::Owned(c.to_base32())),
            provisioned: state.provisioned.secs(),
            expires: state.expires.secs(),
            activation: state.activation.as_ref().map(|a| TokenActivationRecord {
                token: Cow::Borrowed(state.token.as_str()),
                mobile_id_hash: Cow::Borrowed(&a.mobile_id_hash),
                reg_id: Cow::Borrowed(&a.reg_id),
                os_ver: Cow::Borrowed(&a.os_ver),
                at: a.at.secs(),
            }),
        }
    }
}

impl TryFrom<TokenRecord<'_>> for TokenState {
    type Error = anyhow::Error;

    fn try_from(record: TokenRecord<'_>) -> anyhow::Result<TokenState> {
        Ok(TokenState {
            token: record.token.parse()?,
            license: record.license.parse()?,
            appliance: record.appliance.parse()?,
            params: OtpParams {
                kind: OtpKind::parse(&record.kind)
                    .ok_or_else(|| anyhow!("bad kind {}", record.kind))?,
                period: record.period,
                digits: record.digits,
            },
            code: record.code.map(|c| c.parse()).transpose()?,
            provisioned: UnixTime::from_secs(record.provisioned),
            expires: UnixTime::from_secs(record.expires),
            activation: record.activation.map(|a| Activation {
                mobile_id_hash: a.mobile_id_hash.into_owned(),
                reg_id: a.reg_id.into_owned(),
                os_ver: a.os_ver.into_owned(),
                at: UnixTime::from_secs(a.at),
            }),
        })
    }
}

fn decode_state(bytes: &[u8]) -> Result<TokenState, StoreError> {
    lab::store::decode::<TokenRecord>(bytes)?
        .try_into()
        .map_err(|e: anyhow::Error| StoreError::corrupt(format!("a token record: {e:#}")))
}

fn read_state(r: &mut impl Reader, token: &str) -> Result<Option<TokenState>, StoreError> {
    r.get(TOKENS, token.as_bytes())?
        .map(|bytes| decode_state(&bytes))
        .transpose()
}

/// Records, inside the caller's write transaction, that `token` now lives on the phone that completed a token
/// transfer (`activation`: its push registration and app), so the issuing appliance's next poll reports the new
/// phone's `reg_id` and pushes reach it, not the old one; the download log gets the entry an activation gets. A
/// token ftm never provisioned (an offline activation) is left alone.
pub(crate) fn note_transferred(
    tx: &mut lab::store::Tx<'_>,
    token: &str,
    activation: &Activation,
) -> Result<(), StoreError> {
    let Some(mut state) = read_state(tx, token)? else {
        return Ok(());
    };
    state.activation = Some(activation.clone());
    tx.put(TOKENS, token.as_bytes(), &TokenRecord::from(&state))?;
    let log = ActivationRecord {
        v: Version,
        token: token.to_owned(),
        mobile_id_hash: activation.mobile_id_hash.clone(),
        reg_id: activation.reg_id.clone(),
        os_ver: activation.os_ver.clone(),
        at: activation.at.secs(),
    };
    tx.put(
        ACTIVATIONS,
        format!("{:016x}:{token}", activation.at.secs()).as_bytes(),
        &log,
    )
}

impl Escrow {
    /// Opens the escrow in `service_dir` (in memory when `None`) and loads or creates its key.
    pub fn open(service_dir: Option<&Path>) -> anyhow::Result<Escrow> {
        let store = Store::open(service_dir, &SCHEMA)?;
        let key = SealKey::from_secret(
            &lab::store::data_secret(&store, "escrow.key")?,
            "ftm escrow seed",
        );
        Ok(Escrow {
            store,
            key,
            decoded: Arc::new(DecodedRecords::new(DECODED_TOKENS)),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The fingerprint of the escrow key, for state snapshots.
    pub fn key_id(&self) -> String {
        lab::state::key_id(&self.key)
    }

    /// Escrows each token's seed under a new activation code, replacing (and so invalidating) any code the
    /// token had. All or nothing, durable before it returns.
    pub async fn provision(
        &self,
        appliance: ApplianceSerial,
        items: Vec<(ProvisionSpec, LicenseId)>,
        now: UnixTime,
    ) -> Result<Vec<TokenState>, StoreError> {
        let key = self.key.clone();
        self.store
            .write(move |tx| {
                let mut rng = rand::thread_rng();
                let mut minted: Vec<TokenState> = Vec::with_capacity(items.len());
                // Where each token is in `minted`, and the codes minted so far: a request of thousands of
                // tokens checks each in constant time.
                let mut minted_at: HashMap<TokenSerial, usize> =
                    HashMap::with_capacity(items.len());
                let mut codes: HashSet<TokenActivationCode> = HashSet::with_capacity(items.len());
                for (spec, license) in &items {
                    let code = loop {
                        let flag = otp_to_wire(&spec.params).code_flag;
                        let code = TokenActivationCode::new(flag, rng.r#gen());
                        let taken = codes.contains(&code)
                            || tx.contains(ESCROW, code.wire_hex().as_bytes())?;
                        if !taken {
                            break code;
                        }
                    };
                    // The token's current code, whether stored before this request or minted earlier in it
                    // (a token listed twice keeps only its last code), is void from now on.
                    if let Some(old) = read_state(tx, spec.token.as_str())?
                        && let Some(old_code) = old.code
                    {
                        tx.remove(ESCROW, old_code.wire_hex().as_bytes())?;
                    }
                    codes.insert(code);
                    let sealed = seal(&key, rng.r#gen(), spec.seed.as_bytes());
                    let state = TokenState {
                        token: spec.token.clone(),
                        license: license.clone(),
                        appliance: appliance.clone(),
                        params: spec.params,
                        code: Some(code),
                        provisioned: now,
                        expires: now.plus_secs(spec.valid_minutes * 60),
                        activation: None,
                    };
                    let record = EscrowRecord {
                        v: Version,
                        token: spec.token.to_string(),
                        sealed_seed: BASE64.encode(sealed.to_bytes()),
                        expires: state.expires.secs(),
                    };
                    tx.put(ESCROW, code.wire_hex().as_bytes(), &record)?;
                    tx.put(
                        TOKENS,
                        spec.token.as_str().as_bytes(),
                        &TokenRecord::from(&state),
                    )?;
                    match minted_at.get(&spec.token) {
                        Some(&earlier) => minted[earlier] = state,
                        None => {
                            minted_at.insert(spec.token.clone(), minted.len());
                            minted.push(state);
                        }
                    }
                }
                Ok(minted)
            })
            .await
            .inspect(|minted| {
                for _ in minted {
                    lab::flow::transition("escrow", "absent", "stored");
                }
            })
    }

    /// Takes the seed escrowed under `code` for a phone, if the code is known and unexpired: removes it from
    /// escrow and records `activation`, in one transaction, durable before it returns. `None` for an
    /// unknown, used or expired code (nothing changes then).
    pub async fn take_for_phone(
        &self,
        code: [u8; 8],
        activation: Activation,
        now: UnixTime,
    ) -> Result<Option<(TokenState, Seed)>, StoreError> {
        let key = self.key.clone();
        let entry = hex::encode(code);
        self.store
            .write(move |tx| {
                let Some(record) = tx.record::<EscrowRecord>(ESCROW, entry.as_bytes())? else {
                    return Ok(None);
                };
                if !escrow::redeemable(UnixTime::from_secs(record.expires), now) {
                    return Ok(None);
                }
                let seed = unseal(&key, &record).map_err(|e| {
                    StoreError::corrupt(format!("unsealing an escrowed seed: {e:#}"))
                })?;
                let Some(mut state) = read_state(tx, &record.token)? else {
                    return Err(StoreError::corrupt(format!(
                        "escrow entry for {} has no token state",
                        record.token
                    )));
                };
                state.code = None;
                state.activation = Some(activation.clone());
                tx.remove(ESCROW, entry.as_bytes())?;
                tx.put(
                    TOKENS,
                    state.token.as_str().as_bytes(),
                    &TokenRecord::from(&state),
                )?;
                let log = ActivationRecord {
                    v: Version,
                    token: state.token.to_string(),
                    mobile_id_hash: activation.mobile_id_hash.clone(),
                    reg_id: activation.reg_id.clone(),
                    os_ver: activation.os_ver.clone(),
                    at: activation.at.secs(),
                };
                tx.put(
                    ACTIVATIONS,
                    format!("{:016x}:{}", activation.at.secs(), state.token).as_bytes(),
                    &log,
                )?;
                Ok(Some((state, seed)))
            })
            .await
            .inspect(|taken| {
                if taken.is_some() {
                    lab::flow::transition("escrow", "stored", "downloaded");
                }
            })
    }

    /// Whether `code` is in escrow and still redeemable (nothing changes).
    pub fn is_redeemable(&self, code: [u8; 8], now: UnixTime) -> Result<bool, StoreError> {
        let entry = hex::encode(code);
        self.store.read(|r| {
            Ok(r.record::<EscrowRecord>(ESCROW, entry.as_bytes())?
                .is_some_and(|record| escrow::redeemable(UnixTime::from_secs(record.expires), now)))
        })
    }

    /// The token whose seed waits in escrow under `code`, if the code is there and still redeemable
    /// (nothing changes).
    pub fn escrowed_token(
        &self,
        code: [u8; 8],
        now: UnixTime,
    ) -> Result<Option<TokenState>, StoreError> {
        let entry = hex::encode(code);
        self.store.read(|r| {
            let Some(record) = r.record::<EscrowRecord>(ESCROW, entry.as_bytes())? else {
                return Ok(None);
            };
            if !escrow::redeemable(UnixTime::from_secs(record.expires), now) {
                return Ok(None);
            }
            read_state(r, &record.token)
        })
    }

    /// What ftm knows about `token`.
    pub fn token_state(&self, token: &TokenSerial) -> Result<Option<TokenState>, StoreError> {
        self.store.read(|r| read_state(r, token.as_str()))
    }

    /// What ftm knows about each of `tokens`, in one read.
    pub fn token_states(
        &self,
        tokens: &[Option<TokenSerial>],
    ) -> Result<Vec<Option<Arc<TokenState>>>, StoreError> {
        self.store.read_cached(|r| {
            tokens
                .iter()
                .map(|token| match token {
                    Some(token) => self.decoded.get(r, TOKENS, token.as_bytes(), decode_state),
                    None => Ok(None),
                })
                .collect()
        })
    }

    /// Every escrow entry, without seeds.
    pub fn escrow_entries(&self, now: UnixTime) -> Result<Vec<EscrowEntryView>, StoreError> {
        self.store.read(|r| {
            let mut entries = Vec::new();
            for (_, bytes) in r.all(ESCROW)? {
                let record: EscrowRecord = lab::store::decode(&bytes)?;
                let Some(state) = read_state(r, &record.token)? else {
                    continue;
                };
                let Some(code) = state.code else { continue };
                entries.push(EscrowEntryView {
                    activation_code: code.to_base32(),
                    wire_code: code.wire_hex(),
                    token: state.token,
                    license: state.license,
                    appliance: state.appliance,
                    provisioned: state.provisioned,
                    expires: state.expires,
                    redeemable: escrow::redeemable(state.expires, now),
                });
            }
            entries.sort_by(|a, b| (a.provisioned, &a.token).cmp(&(b.provisioned, &b.token)));
            Ok(entries)
        })
    }

    /// Every seed download, oldest first.
    pub fn activations(&self) -> Result<Vec<ActivationView>, StoreError> {
        self.store.read(|r| {
            let mut views = Vec::new();
            for (_, bytes) in r.all(ACTIVATIONS)? {
                let log: ActivationRecord = lab::store::decode(&bytes)?;
                let state = read_state(r, &log.token)?.ok_or_else(|| {
                    StoreError::corrupt(format!("activation of unknown token {}", log.token))
                })?;
                views.push(ActivationView {
                    token: state.token,
                    license: state.license,
                    appliance: state.appliance,
                    mobile_id_hash: log.mobile_id_hash,
                    reg_id: log.reg_id,
                    os_ver: log.os_ver,
                    activated: UnixTime::from_secs(log.at),
                });
            }
            Ok(views)
        })
    }

    /// Checks one record of a state being imported: sealed seeds must open with this escrow's key.
    pub fn check_record(&self, table: Table, key: &[u8], value: &[u8]) -> anyhow::Result<()> {
        if table == crate::transfer::TRANSFERS {
            return crate::transfer::check_record(&self.key, value);
        }
        if table == crate::transfer::TRANSFER_CODES {
            return crate::transfer::check_code_entry(key, value);
        }
        let key = std::str::from_utf8(key).context("the key is not text")?;
        match table {
            ESCROW => {
                TokenActivationCode::payload_from_input(key)?;
                let record: EscrowRecord = lab::store::decode(value)?;
                record.token.parse::<TokenSerial>()?;
                unseal(&self.key, &record)?;
            }
            TOKENS => {
                let state = decode_state(value)?;
                anyhow::ensure!(
                    state.token.as_str() == key,
                    "token {} is stored under {key}",
                    state.token
                );
            }
            _ => {
                let log: ActivationRecord = lab::store::decode(value)?;
                log.token.parse::<TokenSerial>()?;
            }
        }
        Ok(())
    }

    /// Checks that every escrow entry and activation of a state names a token in it.
    pub fn check_state(&self, incoming: &lab::state::Incoming) -> anyhow::Result<()> {
        /// The one field this check reads of an escrow or download log record (each was decoded whole by
        /// `check_record` already): read without building the rest.
        #[derive(Deserialize)]
        struct Names<'a> {
            #[serde(borrow)]
            token: Cow<'a, str>,
        }
        let tokens = incoming.keys(TOKENS);
        for table in [ESCROW, ACTIVATIONS] {
            for (_, value) in incoming.records(table) {
                let Names { token } = serde_json::from_slice(value)?;
                anyhow::ensure!(
                    tokens.contains(token.as_bytes()),
                    "{} names token {token}, which is not in `tokens`",
                    table.name()
                );
            }
        }
        Ok(())
    }
}

/// Unseals an escrow record's seed with `key`.
fn unseal(key: &SealKey, record: &EscrowRecord) -> anyhow::Result<Seed> {
    let sealed = BASE64
        .decode(&record.sealed_seed)
        .context("sealed_seed is not Base64")?;
    let sealed = Sealed::from_bytes(&sealed).map_err(|e| anyhow!("sealed_seed: {e}"))?;
    let plain = open(key, &sealed).map_err(|e| anyhow!("sealed_seed: {e}"))?;
    Seed::from_bytes(&plain).map_err(|e| anyhow!("sealed_seed: {e}"))
}
