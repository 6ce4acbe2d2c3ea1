//! The escrow's storage: ftm's tables and record formats, on the lab's storage toolkit.
//!
//! Tables: `tokens` (token serial → `TokenRecord`: what ftm knows of the token and, while a code waits for
//! a phone, the code and the token's seed sealed with the per-data-dir escrow key), `activations`
//! (`<time>:<token>` → `ActivationRecord`, the download log) and `escrow`, the layout of fortimock 0.1
//! before the seed moved into its token's record (activation code as 16 hex digits → `LegacyEscrowRecord`).
//! That table is only read to bring its records into `tokens`, when the escrow opens and after a state
//! import (an earlier version's data dir or export), so it is empty otherwise. Provisioning a token thus
//! changes one record; a phone's code finds its token through the in-memory code index (`codes`).
//!
//! Seeds never rest in the clear: each is sealed (AES-256-CBC + HMAC-SHA256) with a key kept in
//! `<data-dir>/ftm/escrow.key` (in memory when ephemeral). Taking a seed out of escrow for a phone is one
//! transaction (clear the token's code and sealed seed, record the activation), durable before the caller
//! answers, so of any number of requests for one code exactly one ever gets the seed, even across a crash
//! or a power loss.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use lab::store::{
    DecodedRecords, Order, ReadTx, Reader, Record, Schema, Store, StoreError, Table, Tx, Version,
};
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

use crate::codes::{CodeIndex, Payload, Rebuilt};
use crate::escrow::{self, Activation, OtpParams, ProvisionSpec, TokenState};

/// The escrow of fortimock 0.1's earlier layout: read only to move its records into `tokens`.
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
    /// Which token each code in escrow belongs to.
    codes: Arc<CodeIndex>,
    /// Held while the code index is rebuilt, so rebuilds run one at a time.
    reindexing: Arc<tokio::sync::Mutex<()>>,
}

/// Most token states kept decoded for polls.
const DECODED_TOKENS: usize = 16_384;

/// An escrow entry of the earlier layout, keyed by its code: the token and its sealed seed.
#[derive(Serialize, Deserialize)]
struct LegacyEscrowRecord {
    v: Version<1>,
    token: String,
    /// Base64 of iv ‖ ciphertext ‖ mac.
    sealed_seed: String,
    expires: i64,
}

impl Record for LegacyEscrowRecord {
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
    /// The seed waiting under `code`, sealed: Base64 of iv ‖ ciphertext ‖ mac. Absent once downloaded,
    /// and in a record of the earlier layout, whose seed is in `escrow`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    sealed_seed: Option<Cow<'a, str>>,
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

impl<'a> TokenRecord<'a> {
    /// The record of `state`, with the seed sealed under its code while it waits in escrow.
    fn of(state: &'a TokenState, sealed_seed: Option<&'a str>) -> TokenRecord<'a> {
        TokenRecord {
            v: Version,
            token: Cow::Borrowed(state.token.as_str()),
            license: Cow::Borrowed(state.license.as_str()),
            appliance: Cow::Borrowed(state.appliance.as_str()),
            kind: Cow::Borrowed(state.params.kind.as_str()),
            period: state.params.period,
            digits: state.params.digits,
            code: state.code.map(|c| Cow::Owned(c.to_base32())),
            sealed_seed: sealed_seed.map(Cow::Borrowed),
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
        anyhow::ensure!(
            record.code.is_some() || record.sealed_seed.is_none(),
            "a sealed seed without an activation code"
        );
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

/// A token's state with its sealed seed, while one waits in escrow.
fn read_escrowed(
    r: &mut impl Reader,
    token: &str,
) -> Result<Option<(TokenState, Option<String>)>, StoreError> {
    let Some(bytes) = r.get(TOKENS, token.as_bytes())? else {
        return Ok(None);
    };
    let record: TokenRecord = lab::store::decode(&bytes)?;
    let sealed_seed = record.sealed_seed.as_deref().map(str::to_owned);
    let state = TokenState::try_from(record)
        .map_err(|e| StoreError::corrupt(format!("a token record: {e:#}")))?;
    Ok(Some((state, sealed_seed)))
}

/// Moves the records of the earlier layout's `escrow` table into their tokens' records (the seed sealed
/// under the token's code) and empties that table; an entry whose token no longer carries its code was
/// void already, and goes. How many seeds moved.
fn absorb_legacy_escrow(tx: &mut Tx<'_>) -> Result<u64, StoreError> {
    if tx.count(ESCROW)? == 0 {
        return Ok(0);
    }
    let mut moved = 0;
    for (code, bytes) in tx.all(ESCROW)? {
        let entry: LegacyEscrowRecord = lab::store::decode(&bytes)?;
        let Some((state, _)) = read_escrowed(tx, &entry.token)? else {
            continue;
        };
        if state
            .code
            .is_some_and(|c| c.wire_hex().as_bytes() == code.as_slice())
        {
            tx.put(
                TOKENS,
                entry.token.as_bytes(),
                &TokenRecord::of(&state, Some(&entry.sealed_seed)),
            )?;
            moved += 1;
        }
    }
    tx.clear(ESCROW)?;
    Ok(moved)
}

/// The codes in escrow, read from every token's record (about a second for a million tokens on one CPU):
/// where there are two CPUs, the tokens' keys are read in two ranges side by side, each in its own read.
/// Both reads begin after the rebuild's barrier, so each sees every code minted before it; the codes
/// minted since are the rebuild's to note (`CodeIndex::begin_rebuild`).
fn index_codes(store: &Store) -> Result<Rebuilt, StoreError> {
    let two_cpus = std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2);
    let (first, last) = store.read(|r| {
        let mut key = |order| {
            r.scan(TOKENS, &[], order, Some(1))
                .map(|mut entries| entries.pop().map(|(key, _)| key))
        };
        Ok((key(Order::Ascending)?, key(Order::Descending)?))
    })?;
    let (Some(first), Some(last), true) = (first, last, two_cpus) else {
        return store.read(|r| codes_in(r, ..));
    };
    let middle = key_midpoint(&first, &last);
    std::thread::scope(|scope| {
        let upper = scope.spawn(|| store.read(|r| codes_in(r, middle.as_slice()..)));
        let mut lower = store.read(|r| codes_in(r, ..middle.as_slice()))?;
        let upper = upper
            .join()
            .map_err(|_| StoreError::internal("indexing codes: a reading thread failed"))??;
        lower.merge(upper);
        Ok(lower)
    })
}

/// The codes of the tokens whose keys are in `keys`.
fn codes_in<'k>(
    r: &mut ReadTx,
    keys: impl std::ops::RangeBounds<&'k [u8]>,
) -> Result<Rebuilt, StoreError> {
    /// What the index needs of a token's record (the token is its key), read without building the rest.
    #[derive(Deserialize)]
    struct Escrowed<'a> {
        #[serde(borrow)]
        code: Option<Cow<'a, str>>,
    }
    fn corrupt(e: impl std::fmt::Display) -> StoreError {
        StoreError::corrupt(format!("a token record: {e}"))
    }
    let tokens = usize::try_from(r.count(TOKENS)?).unwrap_or(usize::MAX);
    let mut rebuilt = Rebuilt::with_capacity(tokens);
    r.visit_range(TOKENS, keys, |key, value| {
        let record: Escrowed = serde_json::from_slice(value).map_err(corrupt)?;
        if let Some(code) = record.code {
            let code: TokenActivationCode = code.parse().map_err(corrupt)?;
            let token: TokenSerial = std::str::from_utf8(key)
                .map_err(corrupt)?
                .parse()
                .map_err(corrupt)?;
            rebuilt.add(code.payload(), &token);
        }
        Ok(())
    })?;
    Ok(rebuilt)
}

/// A key between `low` and `high`, as if both were numbers written in base 256 (the shorter followed by
/// zeros): where to cut a table's keys in two ranges of about as many keys, when they are spread evenly.
/// Whatever it answers, the ranges below and from it hold every key.
fn key_midpoint(low: &[u8], high: &[u8]) -> Vec<u8> {
    let digits = low.len().max(high.len());
    let digit = |key: &[u8], at: usize| key.get(at).copied().map_or(0, u16::from);
    let mut sum = vec![0u16; digits];
    let mut carry = 0;
    for at in (0..digits).rev() {
        let total = digit(low, at) + digit(high, at) + carry;
        sum[at] = total & 0xff;
        carry = total >> 8;
    }
    let mut rest = carry;
    sum.into_iter()
        .map(|d| {
            let value = (rest << 8) | d;
            rest = value % 2;
            u8::try_from(value / 2).unwrap_or(u8::MAX)
        })
        .collect()
}

/// Records, inside the caller's write transaction, that `token` now lives on the phone that completed a token
/// transfer (`activation`: its push registration and app), so the issuing appliance's next poll reports the new
/// phone's `reg_id` and pushes reach it, not the old one; the download log gets the entry an activation gets. A
/// token ftm never provisioned (an offline activation) is left alone.
pub(crate) fn note_transferred(
    tx: &mut Tx<'_>,
    token: &str,
    activation: &Activation,
) -> Result<(), StoreError> {
    let Some((mut state, sealed_seed)) = read_escrowed(tx, token)? else {
        return Ok(());
    };
    state.activation = Some(activation.clone());
    tx.put(
        TOKENS,
        token.as_bytes(),
        &TokenRecord::of(&state, sealed_seed.as_deref()),
    )?;
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
    /// Opens the escrow in `service_dir` (in memory when `None`): its store and key on a blocking thread,
    /// then the records of the earlier layout moved into their tokens and the code index built.
    pub async fn open(service_dir: Option<PathBuf>) -> anyhow::Result<Escrow> {
        let escrow =
            lab::store::open_blocking(move || Escrow::open_store(service_dir.as_deref())).await?;
        escrow
            .reindex()
            .await
            .context("indexing the escrow's codes")?;
        Ok(escrow)
    }

    fn open_store(service_dir: Option<&Path>) -> anyhow::Result<Escrow> {
        let store = Store::open(service_dir, &SCHEMA)?;
        let key = SealKey::from_secret(
            &lab::store::data_secret(&store, "escrow.key")?,
            "ftm escrow seed",
        );
        Ok(Escrow {
            store,
            key,
            decoded: Arc::new(DecodedRecords::new(DECODED_TOKENS)),
            codes: Arc::new(CodeIndex::default()),
            reindexing: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The fingerprint of the escrow key, for state snapshots.
    pub fn key_id(&self) -> String {
        lab::state::key_id(&self.key)
    }

    /// Builds the code index again from the store, whose records were just replaced (opened, reset,
    /// imported), after moving any records of the earlier layout into their tokens (one durable change).
    /// How many codes the index then holds.
    pub(crate) async fn reindex(&self) -> Result<usize, StoreError> {
        let _one_at_a_time = self.reindexing.lock().await;
        let codes = self.codes.clone();
        let begun = self
            .store
            .write(move |tx| {
                absorb_legacy_escrow(tx)?;
                codes.begin_rebuild();
                Ok::<(), StoreError>(())
            })
            .await;
        let store = self.store.clone();
        let read = match begun {
            Ok(()) => tokio::task::spawn_blocking(move || index_codes(&store))
                .await
                .unwrap_or_else(|e| Err(StoreError::internal(format!("indexing codes: {e}")))),
            Err(e) => Err(e),
        };
        match read {
            Ok(rebuilt) => {
                self.codes.finish_rebuild(rebuilt);
                Ok(self.codes.len())
            }
            Err(e) => {
                self.codes.abandon_rebuild();
                Err(e)
            }
        }
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
        let codes = self.codes.clone();
        let (minted, replaced) = self
            .store
            .write(move |tx| {
                let mut rng = rand::thread_rng();
                let mut minted: Vec<TokenState> = Vec::with_capacity(items.len());
                // Where each token is in `minted`: a request of thousands of tokens checks each in constant
                // time.
                let mut minted_at: HashMap<TokenSerial, usize> =
                    HashMap::with_capacity(items.len());
                // The codes this change voids, to leave the index once it is committed.
                let mut replaced: Vec<(Payload, TokenSerial)> = Vec::new();
                for (spec, license) in &items {
                    let flag = otp_to_wire(&spec.params).code_flag;
                    // The index holds every code in escrow, those minted earlier in this change included.
                    let code = loop {
                        let code = TokenActivationCode::new(flag, rng.r#gen());
                        if !codes.holds(code.payload()) {
                            break code;
                        }
                    };
                    // The token's current code, whether stored before this request or minted earlier in it
                    // (a token listed twice keeps only its last code), is void from now on.
                    if let Some(old) = read_state(tx, spec.token.as_str())?
                        && let Some(old_code) = old.code
                    {
                        replaced.push((old_code.payload(), spec.token.clone()));
                    }
                    codes.minted(code.payload(), &spec.token);
                    let sealed =
                        BASE64.encode(seal(&key, rng.r#gen(), spec.seed.as_bytes()).to_bytes());
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
                    tx.put(
                        TOKENS,
                        spec.token.as_str().as_bytes(),
                        &TokenRecord::of(&state, Some(&sealed)),
                    )?;
                    match minted_at.get(&spec.token) {
                        Some(&earlier) => minted[earlier] = state,
                        None => {
                            minted_at.insert(spec.token.clone(), minted.len());
                            minted.push(state);
                        }
                    }
                }
                Ok((minted, replaced))
            })
            .await?;
        for (code, token) in &replaced {
            self.codes.gone(*code, token);
        }
        for _ in &minted {
            lab::flow::transition("escrow", "absent", "stored");
        }
        Ok(minted)
    }

    /// Takes the seed escrowed under `code` for a phone, if the code is known and unexpired: clears it from
    /// its token and records `activation`, in one transaction, durable before it returns. `None` for an
    /// unknown, used or expired code (nothing changes then).
    pub async fn take_for_phone(
        &self,
        code: Payload,
        activation: Activation,
        now: UnixTime,
    ) -> Result<Option<(TokenState, Seed)>, StoreError> {
        let Some(token) = self.codes.token(code) else {
            return Ok(None);
        };
        let key = self.key.clone();
        let owner = token.clone();
        let taken = self
            .store
            .write(move |tx| {
                let Some((mut state, sealed_seed)) = read_escrowed(tx, token.as_str())? else {
                    return Ok(None);
                };
                if !holds_code(&state, code) || !escrow::redeemable(state.expires, now) {
                    return Ok(None);
                }
                let Some(sealed_seed) = sealed_seed else {
                    return Err(StoreError::corrupt(format!(
                        "token {token} has a code in escrow but no sealed seed"
                    )));
                };
                let seed = unseal(&key, &sealed_seed).map_err(|e| {
                    StoreError::corrupt(format!("unsealing an escrowed seed: {e:#}"))
                })?;
                state.code = None;
                state.activation = Some(activation.clone());
                tx.put(
                    TOKENS,
                    state.token.as_str().as_bytes(),
                    &TokenRecord::of(&state, None),
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
            .await?;
        if taken.is_some() {
            self.codes.gone(code, &owner);
            lab::flow::transition("escrow", "stored", "downloaded");
        }
        Ok(taken)
    }

    /// Whether `code` is in escrow and still redeemable (nothing changes).
    pub fn is_redeemable(&self, code: Payload, now: UnixTime) -> Result<bool, StoreError> {
        Ok(self.escrowed_token(code, now)?.is_some())
    }

    /// The token whose seed waits in escrow under `code`, if the code is there and still redeemable
    /// (nothing changes).
    pub fn escrowed_token(
        &self,
        code: Payload,
        now: UnixTime,
    ) -> Result<Option<TokenState>, StoreError> {
        let Some(token) = self.codes.token(code) else {
            return Ok(None);
        };
        let state = self.store.read(|r| read_state(r, token.as_str()))?;
        Ok(state.filter(|state| holds_code(state, code) && escrow::redeemable(state.expires, now)))
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
            r.visit(TOKENS, |_, bytes| {
                let state = decode_state(bytes)?;
                if let Some(code) = state.code {
                    entries.push(EscrowEntryView {
                        activation_code: code.to_base32(),
                        wire_code: code.wire_hex(),
                        redeemable: escrow::redeemable(state.expires, now),
                        token: state.token,
                        license: state.license,
                        appliance: state.appliance,
                        provisioned: state.provisioned,
                        expires: state.expires,
                    });
                }
                Ok(())
            })?;
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
                let record: LegacyEscrowRecord = lab::store::decode(value)?;
                record.token.parse::<TokenSerial>()?;
                unseal(&self.key, &record.sealed_seed)?;
            }
            TOKENS => {
                let record: TokenRecord = lab::store::decode(value)?;
                if let Some(sealed_seed) = &record.sealed_seed {
                    unseal(&self.key, sealed_seed)?;
                }
                let state = TokenState::try_from(record)?;
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

    /// Checks that every escrow entry of the earlier layout and every activation of a state names a token
    /// in it, and that every code in escrow has its seed.
    pub fn check_state(&self, incoming: &lab::state::Incoming) -> anyhow::Result<()> {
        /// The fields this check reads of a record (each was decoded whole by `check_record` already):
        /// read without building the rest.
        #[derive(Deserialize)]
        struct Names<'a> {
            #[serde(borrow)]
            token: Cow<'a, str>,
            #[serde(borrow, default)]
            code: Option<Cow<'a, str>>,
            #[serde(borrow, default)]
            sealed_seed: Option<Cow<'a, str>>,
        }
        let tokens = incoming.keys(TOKENS);
        for table in [ESCROW, ACTIVATIONS] {
            for (_, value) in incoming.records(table) {
                let Names { token, .. } = serde_json::from_slice(value)?;
                anyhow::ensure!(
                    tokens.contains(token.as_bytes()),
                    "{} names token {token}, which is not in `tokens`",
                    table.name()
                );
            }
        }
        let legacy = incoming.keys(ESCROW);
        for (_, value) in incoming.records(TOKENS) {
            let Names {
                token,
                code,
                sealed_seed,
            } = serde_json::from_slice(value)?;
            if let (Some(code), None) = (code, sealed_seed) {
                let code: TokenActivationCode = code.parse()?;
                anyhow::ensure!(
                    legacy.contains(code.wire_hex().as_bytes()),
                    "token {token} has activation code {} in escrow but no `sealed_seed`",
                    code.to_base32()
                );
            }
        }
        Ok(())
    }
}

/// Whether `state` still carries the code whose payload is `code`.
fn holds_code(state: &TokenState, code: Payload) -> bool {
    state.code.is_some_and(|held| held.payload() == code)
}

/// Unseals a seed sealed in escrow (Base64 of iv ‖ ciphertext ‖ mac) with `key`.
fn unseal(key: &SealKey, sealed_seed: &str) -> anyhow::Result<Seed> {
    let sealed = BASE64
        .decode(sealed_seed)
        .context("sealed_seed is not Base64")?;
    let sealed = Sealed::from_bytes(&sealed).map_err(|e| anyhow!("sealed_seed: {e}"))?;
    let plain = open(key, &sealed).map_err(|e| anyhow!("sealed_seed: {e}"))?;
    Seed::from_bytes(&plain).map_err(|e| anyhow!("sealed_seed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(n: u8) -> TokenSerial {
        TokenSerial::from_bytes([0, 0, 0, 0, n])
    }

    fn spec(token: &TokenSerial, seed: &Seed) -> (ProvisionSpec, LicenseId) {
        let spec = ProvisionSpec {
            token: token.clone(),
            seed: seed.clone(),
            params: OtpParams {
                kind: OtpKind::Totp,
                period: 60,
                digits: 6,
            },
            valid_minutes: 60,
        };
        (spec, "EFTM010130823929".parse().expect("a license id"))
    }

    fn activation() -> Activation {
        Activation {
            mobile_id_hash: "00".repeat(32),
            reg_id: "reg".to_owned(),
            os_ver: "ios".to_owned(),
            at: UnixTime::from_secs(1_700_000_100),
        }
    }

    fn seed(n: u8) -> Seed {
        Seed::from_bytes(&[n; 20]).expect("a seed")
    }

    async fn provision(escrow: &Escrow, tokens: &[(TokenSerial, Seed)]) -> Vec<Payload> {
        let items = tokens.iter().map(|(t, s)| spec(t, s)).collect();
        let appliance: ApplianceSerial = "FGVM01TM00000001".parse().expect("a serial");
        escrow
            .provision(appliance, items, UnixTime::from_secs(1_700_000_000))
            .await
            .expect("provisioned")
            .iter()
            .map(|state| state.code.expect("a code").payload())
            .collect()
    }

    const NOW: UnixTime = UnixTime::from_secs(1_700_000_050);

    /// A phone's take of `code`, at `NOW`.
    async fn take(escrow: &Escrow, code: Payload) -> Option<(TokenState, Seed)> {
        escrow
            .take_for_phone(code, activation(), NOW)
            .await
            .expect("the store answered")
    }

    #[tokio::test]
    async fn a_code_is_taken_once_and_provisioning_again_voids_it() {
        let escrow = Escrow::open(None).await.expect("opened");
        let first = provision(&escrow, &[(token(1), seed(1))]).await[0];
        let second = provision(&escrow, &[(token(1), seed(2))]).await[0];
        assert_ne!(first, second);
        assert!(!escrow.is_redeemable(first, NOW).expect("read"));
        assert!(escrow.is_redeemable(second, NOW).expect("read"));
        assert!(take(&escrow, first).await.is_none());
        let (state, taken) = take(&escrow, second).await.expect("the seed");
        assert_eq!(state.token, token(1));
        assert!(taken == seed(2), "the second provision's seed");
        assert!(take(&escrow, second).await.is_none());
        assert_eq!(escrow.codes.len(), 0, "no code stays indexed");
        let stored = escrow.token_state(&token(1)).expect("read").expect("kept");
        assert_eq!(stored.code, None);
        assert!(stored.activation.is_some());
    }

    /// A token listed twice in one request keeps its last code; the first one is void at once.
    #[tokio::test]
    async fn a_token_listed_twice_keeps_its_last_code() {
        let escrow = Escrow::open(None).await.expect("opened");
        let items = [(token(1), seed(1)), (token(1), seed(2))];
        let codes: Vec<Payload> = {
            let items = items.iter().map(|(t, s)| spec(t, s)).collect();
            let appliance: ApplianceSerial = "FGVM01TM00000001".parse().expect("a serial");
            let minted = escrow
                .provision(appliance, items, UnixTime::from_secs(1_700_000_000))
                .await
                .expect("provisioned");
            assert_eq!(minted.len(), 1);
            minted
                .iter()
                .filter_map(|s| s.code)
                .map(|c| c.payload())
                .collect()
        };
        assert_eq!(escrow.codes.len(), 1, "the voided code left the index");
        assert!(escrow.is_redeemable(codes[0], NOW).expect("read"));
        let (_, taken) = take(&escrow, codes[0]).await.expect("the seed");
        assert!(taken == seed(2));
    }

    /// A data dir written before seeds moved into their tokens' records (codes and seeds in `escrow`)
    /// opens with every code redeemable, and its `escrow` table emptied into `tokens`.
    #[tokio::test]
    async fn a_data_dir_of_the_earlier_layout_keeps_its_codes() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let service_dir = dir.path().join("ftm");
        let escrow = Escrow::open(Some(service_dir.clone()))
            .await
            .expect("opened");
        let codes = provision(&escrow, &[(token(1), seed(1)), (token(2), seed(2))]).await;
        // Rewrite the records as the earlier layout stored them.
        escrow
            .store
            .write(|tx| {
                for (_, bytes) in tx.all(TOKENS)? {
                    let record: TokenRecord = lab::store::decode(&bytes)?;
                    let code: TokenActivationCode = record
                        .code
                        .as_deref()
                        .expect("a code")
                        .parse()
                        .expect("a code");
                    let entry = LegacyEscrowRecord {
                        v: Version,
                        token: record.token.to_string(),
                        sealed_seed: record.sealed_seed.as_deref().expect("sealed").to_owned(),
                        expires: record.expires,
                    };
                    tx.put(ESCROW, code.wire_hex().as_bytes(), &entry)?;
                    let earlier = TokenRecord {
                        sealed_seed: None,
                        ..record
                    };
                    let key = earlier.token.to_string();
                    tx.put(TOKENS, key.as_bytes(), &earlier)?;
                }
                Ok::<(), StoreError>(())
            })
            .await
            .expect("rewritten");
        drop(escrow);

        let escrow = Escrow::open(Some(service_dir)).await.expect("reopened");
        let left = escrow.store.read(|r| r.count(ESCROW)).expect("counted");
        assert_eq!(left, 0, "the earlier layout's table is emptied");
        assert_eq!(escrow.codes.len(), 2);
        for (code, n) in codes.iter().zip([1, 2]) {
            let (state, taken) = take(&escrow, *code).await.expect("the seed");
            assert_eq!(state.token, token(n));
            assert!(taken == seed(n), "token {n}'s own seed");
        }
    }

    /// A reset or an import rebuilds the index from what the store then holds.
    #[tokio::test]
    async fn reindexing_follows_the_store() {
        let escrow = Escrow::open(None).await.expect("opened");
        let code = provision(&escrow, &[(token(1), seed(1))]).await[0];
        escrow.store.clear().await.expect("cleared");
        assert_eq!(escrow.reindex().await.expect("reindexed"), 0);
        assert!(!escrow.is_redeemable(code, NOW).expect("read"));
        let again = provision(&escrow, &[(token(1), seed(3))]).await[0];
        assert_eq!(escrow.reindex().await.expect("reindexed"), 1);
        assert!(escrow.is_redeemable(again, NOW).expect("read"));
    }

    /// A key between two keys: both ranges it cuts together hold every key, and keys spread evenly
    /// fall about half on each side.
    #[test]
    fn a_key_range_is_cut_between_its_ends() {
        assert_eq!(key_midpoint(b"a", b"c"), b"b");
        assert_eq!(key_midpoint(b"ab", b"ab"), b"ab");
        assert_eq!(key_midpoint(&[0xff, 0xff], &[0xff, 0xff]), [0xff, 0xff]);
        assert_eq!(key_midpoint(&[0x00], &[0xff, 0x02]), [0x7f, 0x81]);
        let (low, high) = (token(0).to_string(), token(255).to_string());
        let middle = key_midpoint(low.as_bytes(), high.as_bytes());
        assert!(low.as_bytes() <= middle.as_slice() && middle.as_slice() <= high.as_bytes());
        let below = (0..=255u8)
            .filter(|n| token(*n).to_string().as_bytes() < middle.as_slice())
            .count();
        assert!((96..=160).contains(&below), "{below} of 256 below the cut");
    }

    /// The index, read in two ranges, holds every code, whichever side of the cut its token is.
    #[tokio::test]
    async fn every_code_is_indexed_on_either_side_of_the_cut() {
        let escrow = Escrow::open(None).await.expect("opened");
        let tokens: Vec<_> = (0..=255u8).map(|n| (token(n), seed(n))).collect();
        let codes = provision(&escrow, &tokens).await;
        assert_eq!(escrow.reindex().await.expect("reindexed"), 256);
        for code in codes {
            assert!(escrow.is_redeemable(code, NOW).expect("read"));
        }
    }

    /// Rebuilds racing with provisions on other threads: afterwards every code the store carries is in
    /// the index. The writers stop as soon as the last rebuild is done, so the codes they minted while it
    /// read the store are kept only if the rebuild noted them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn codes_minted_while_the_index_is_rebuilt_are_kept() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let escrow = Escrow::open(None).await.expect("opened");
        // Enough codes in the store that each rebuild reads for a while.
        let many: Vec<(TokenSerial, Seed)> = (0..20_000u32)
            .map(|n| {
                let [_, _, hi, lo] = n.to_be_bytes();
                (TokenSerial::from_bytes([0, 0, 2, hi, lo]), seed(1))
            })
            .collect();
        provision(&escrow, &many).await;
        let serial = |writer: u8, n: u8| TokenSerial::from_bytes([0, 0, 1, writer, n]);
        let done = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for writer in 0..4u8 {
            let (escrow, done) = (escrow.clone(), done.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = 0u8;
                while !done.load(Ordering::SeqCst) {
                    provision(&escrow, &[(serial(writer, n % 20), seed(n))]).await;
                    n = n.wrapping_add(1);
                }
            }));
        }
        let rebuilding = escrow.clone();
        for _ in 0..5 {
            rebuilding.reindex().await.expect("reindexed");
        }
        done.store(true, Ordering::SeqCst);
        for task in tasks {
            task.await.expect("no panic");
        }
        let mut checked = 0;
        for writer in 0..4u8 {
            for n in 0..20u8 {
                let token = serial(writer, n);
                let Some(code) = escrow
                    .token_state(&token)
                    .expect("read")
                    .and_then(|state| state.code)
                else {
                    continue;
                };
                assert_eq!(escrow.codes.token(code.payload()), Some(token.clone()));
                assert!(escrow.is_redeemable(code.payload(), NOW).expect("read"));
                checked += 1;
            }
        }
        assert!(
            checked > 0,
            "the writers provisioned while the index was rebuilt"
        );
    }

    #[test]
    fn a_sealed_seed_needs_a_code() {
        let record = br#"{"v":1,"token":"FTKMOB0000000001","license":"EFTM010130823929","appliance":"FGVM01TM00000001","kind":"totp","period":60,"digits":6,"code":null,"sealed_seed":"AAAA","provisioned":1,"expires":2,"activation":null}"#;
        let error = decode_state(record).expect_err("refused");
        assert!(
            error
                .to_string()
                .contains("a sealed seed without an activation code"),
            "{error}"
        );
    }
}
