//! The escrow's storage: the only module that touches ftm's sled trees.
//!
//! Trees: `escrow` (activation code as 16 hex digits → `EscrowRecordV1`: the token and its seed, sealed
//! with the per-data-dir escrow key), `tokens` (token serial → `TokenRecordV1`) and `activations`
//! (`<time>:<token>` → `ActivationRecordV1`, the download log).
//!
//! Seeds never rest in the clear: each is sealed (AES-256-CBC + HMAC-SHA256) with a key kept in
//! `<data-dir>/ftm/escrow.key` (in memory when ephemeral). Taking a seed out of escrow for a phone is one
//! transaction (remove the entry, record the activation) and is flushed before the caller answers, so of
//! any number of requests for one code exactly one ever gets the seed, even across a crash.

use std::path::Path;

use anyhow::{Context, anyhow};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use lab::store::{abort, committed, decode_record, encode_record};
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
use sled::Transactional;

use crate::escrow::{self, Activation, OtpParams, ProvisionSpec, TokenState};

/// Handle to the escrow database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    escrow: sled::Tree,
    tokens: sled::Tree,
    activations: sled::Tree,
    key: SealKey,
}

#[derive(Serialize, Deserialize)]
struct EscrowRecordV1 {
    v: u32,
    token: String,
    /// Base64 of iv ‖ ciphertext ‖ mac.
    sealed_seed: String,
    expires: i64,
}

#[derive(Serialize, Deserialize)]
struct TokenRecordV1 {
    v: u32,
    token: String,
    license: String,
    appliance: String,
    kind: String,
    period: u32,
    digits: u32,
    /// The activation code in escrow, base32; absent once downloaded.
    code: Option<String>,
    provisioned: i64,
    expires: i64,
    activation: Option<ActivationRecordV1>,
}

#[derive(Clone, Serialize, Deserialize)]
struct ActivationRecordV1 {
    token: String,
    mobile_id_hash: String,
    reg_id: String,
    os_ver: String,
    at: i64,
}

impl From<&TokenState> for TokenRecordV1 {
    fn from(state: &TokenState) -> TokenRecordV1 {
        TokenRecordV1 {
            v: 1,
            token: state.token.to_string(),
            license: state.license.to_string(),
            appliance: state.appliance.to_string(),
            kind: state.params.kind.as_str().to_owned(),
            period: state.params.period,
            digits: state.params.digits,
            code: state.code.map(|c| c.to_base32()),
            provisioned: state.provisioned.secs(),
            expires: state.expires.secs(),
            activation: state.activation.as_ref().map(|a| ActivationRecordV1 {
                token: state.token.to_string(),
                mobile_id_hash: a.mobile_id_hash.clone(),
                reg_id: a.reg_id.clone(),
                os_ver: a.os_ver.clone(),
                at: a.at.secs(),
            }),
        }
    }
}

impl TryFrom<TokenRecordV1> for TokenState {
    type Error = anyhow::Error;

    fn try_from(record: TokenRecordV1) -> anyhow::Result<TokenState> {
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
                mobile_id_hash: a.mobile_id_hash,
                reg_id: a.reg_id,
                os_ver: a.os_ver,
                at: UnixTime::from_secs(a.at),
            }),
        })
    }
}

fn decode_state(bytes: &[u8]) -> anyhow::Result<TokenState> {
    decode_record::<TokenRecordV1>(bytes, "an escrow record")?.try_into()
}

impl Store {
    /// Opens the escrow in `<service_dir>/db` (temporary when `None`) and loads or creates its key.
    pub fn open(service_dir: Option<&Path>) -> anyhow::Result<Store> {
        let key = SealKey::from_secret(
            &lab::store::data_secret(service_dir, "escrow.key")?,
            "ftm escrow seed",
        );
        let db = lab::store::open_db(service_dir)?;
        Ok(Store {
            escrow: db.open_tree("escrow")?,
            tokens: db.open_tree("tokens")?,
            activations: db.open_tree("activations")?,
            db,
            key,
        })
    }

    async fn flush(&self) -> anyhow::Result<()> {
        lab::store::flush(&self.db)
            .await
            .context("flushing the escrow")
    }

    /// Empties every tree for `POST /__admin/reset`, flushed before it returns; how many records went.
    pub async fn reset(&self) -> anyhow::Result<u64> {
        lab::store::reset(
            &self.db,
            vec![
                self.escrow.clone(),
                self.tokens.clone(),
                self.activations.clone(),
            ],
        )
        .await
    }

    /// Escrows each token's seed under a new activation code, replacing (and so invalidating) any code the
    /// token had. All or nothing, flushed before it returns.
    pub async fn provision(
        &self,
        appliance: &ApplianceSerial,
        items: &[(ProvisionSpec, LicenseId)],
        now: UnixTime,
    ) -> anyhow::Result<Vec<TokenState>> {
        let result = (&self.escrow, &self.tokens).transaction(|(escrow, tokens)| {
            let mut rng = rand::thread_rng();
            let mut minted: Vec<TokenState> = Vec::with_capacity(items.len());
            for (spec, license) in items {
                let code = loop {
                    let flag = otp_to_wire(&spec.params).code_flag;
                    let code = TokenActivationCode::new(flag, rng.r#gen());
                    let taken = escrow.get(code.wire_hex())?.is_some()
                        || minted.iter().any(|s| s.code == Some(code));
                    if !taken {
                        break code;
                    }
                };
                if let Some(old) = tokens.get(spec.token.as_str())? {
                    let old = decode_state(&old).map_err(abort)?;
                    if let Some(old_code) = old.code {
                        escrow.remove(old_code.wire_hex().as_bytes())?;
                    }
                }
                // A token listed twice in one request keeps only its last code.
                if let Some(earlier) = minted.iter().position(|s| s.token == spec.token) {
                    if let Some(earlier_code) = minted[earlier].code {
                        escrow.remove(earlier_code.wire_hex().as_bytes())?;
                    }
                    minted.remove(earlier);
                }
                let sealed = seal(&self.key, rng.r#gen(), spec.seed.as_bytes());
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
                let record = EscrowRecordV1 {
                    v: 1,
                    token: spec.token.to_string(),
                    sealed_seed: BASE64.encode(sealed.to_bytes()),
                    expires: state.expires.secs(),
                };
                escrow.insert(code.wire_hex().as_bytes(), encode_record(&record))?;
                tokens.insert(
                    spec.token.as_str(),
                    encode_record(&TokenRecordV1::from(&state)),
                )?;
                minted.push(state);
            }
            Ok(minted)
        });
        let minted = committed(result, "escrow storage")?;
        self.flush().await?;
        Ok(minted)
    }

    /// Takes the seed escrowed under `code` for a phone, if the code is known and unexpired: removes it from
    /// escrow and records `activation`, in one transaction, flushed before it returns. `None` for an unknown,
    /// used or expired code (nothing changes then).
    pub async fn take_for_phone(
        &self,
        code: [u8; 8],
        activation: &Activation,
        now: UnixTime,
    ) -> anyhow::Result<Option<(TokenState, Seed)>> {
        let key = hex::encode(code);
        let result = (&self.escrow, &self.tokens, &self.activations).transaction(
            |(escrow, tokens, activations)| {
                let Some(bytes) = escrow.get(key.as_bytes())? else {
                    return Ok(None);
                };
                let record: EscrowRecordV1 =
                    decode_record(&bytes, "an escrow record").map_err(abort)?;
                if !escrow::redeemable(UnixTime::from_secs(record.expires), now) {
                    return Ok(None);
                }
                let seed = unseal(&self.key, &record)
                    .context("unsealing an escrowed seed")
                    .map_err(abort)?;
                let Some(state) = tokens.get(record.token.as_bytes())? else {
                    return Err(abort(anyhow!(
                        "escrow entry for {} has no token state",
                        record.token
                    )));
                };
                let mut state = decode_state(&state).map_err(abort)?;
                state.code = None;
                state.activation = Some(activation.clone());
                escrow.remove(key.as_bytes())?;
                tokens.insert(
                    state.token.as_str(),
                    encode_record(&TokenRecordV1::from(&state)),
                )?;
                let log = ActivationRecordV1 {
                    token: state.token.to_string(),
                    mobile_id_hash: activation.mobile_id_hash.clone(),
                    reg_id: activation.reg_id.clone(),
                    os_ver: activation.os_ver.clone(),
                    at: activation.at.secs(),
                };
                activations.insert(
                    format!("{:016x}:{}", activation.at.secs(), state.token).as_bytes(),
                    encode_record(&log),
                )?;
                Ok(Some((state, seed)))
            },
        );
        let taken = committed(result, "escrow storage")?;
        if taken.is_some() {
            self.flush().await?;
        }
        Ok(taken)
    }

    /// What ftm knows about `token`.
    pub fn token_state(&self, token: &TokenSerial) -> anyhow::Result<Option<TokenState>> {
        self.tokens
            .get(token.as_str())?
            .map(|bytes| decode_state(&bytes))
            .transpose()
    }

    /// Every escrow entry, without seeds.
    pub fn escrow_entries(&self, now: UnixTime) -> anyhow::Result<Vec<EscrowEntryView>> {
        let mut entries = Vec::new();
        for item in self.escrow.iter() {
            let (_, bytes) = item?;
            let record: EscrowRecordV1 = decode_record(&bytes, "an escrow record")?;
            let token: TokenSerial = record.token.parse()?;
            let Some(state) = self.token_state(&token)? else {
                continue;
            };
            let Some(code) = state.code else { continue };
            entries.push(EscrowEntryView {
                activation_code: code.to_base32(),
                wire_code: code.wire_hex(),
                token,
                license: state.license,
                appliance: state.appliance,
                provisioned: state.provisioned,
                expires: state.expires,
                redeemable: escrow::redeemable(state.expires, now),
            });
        }
        entries.sort_by(|a, b| (a.provisioned, &a.token).cmp(&(b.provisioned, &b.token)));
        Ok(entries)
    }

    /// Every seed download, oldest first.
    pub fn activations(&self) -> anyhow::Result<Vec<ActivationView>> {
        let mut views = Vec::new();
        for item in self.activations.iter() {
            let (_, bytes) = item?;
            let log: ActivationRecordV1 = decode_record(&bytes, "an escrow record")?;
            let token: TokenSerial = log.token.parse()?;
            let state = self
                .token_state(&token)?
                .ok_or_else(|| anyhow!("activation of unknown token {token}"))?;
            views.push(ActivationView {
                token,
                license: state.license,
                appliance: state.appliance,
                mobile_id_hash: log.mobile_id_hash,
                reg_id: log.reg_id,
                os_ver: log.os_ver,
                activated: UnixTime::from_secs(log.at),
            });
        }
        Ok(views)
    }
}

/// Unseals an escrow record's seed with `key`.
fn unseal(key: &SealKey, record: &EscrowRecordV1) -> anyhow::Result<Seed> {
    let sealed = BASE64
        .decode(&record.sealed_seed)
        .context("sealed_seed is not Base64")?;
    let sealed = Sealed::from_bytes(&sealed).map_err(|e| anyhow!("sealed_seed: {e}"))?;
    let plain = open(key, &sealed).map_err(|e| anyhow!("sealed_seed: {e}"))?;
    Seed::from_bytes(&plain).map_err(|e| anyhow!("sealed_seed: {e}"))
}

/// The escrow's records for `/__admin/state`: seeds stay sealed with the escrow key, so this state imports
/// only where `escrow.key` is the same.
impl lab::state::Snapshot for Store {
    fn db(&self) -> &sled::Db {
        &self.db
    }

    fn trees(&self) -> Vec<(&'static str, sled::Tree)> {
        vec![
            ("escrow", self.escrow.clone()),
            ("tokens", self.tokens.clone()),
            ("activations", self.activations.clone()),
        ]
    }

    fn key_id(&self) -> Option<String> {
        Some(lab::state::key_id(&self.key))
    }

    fn check(&self, tree: &str, key: &[u8], value: &[u8]) -> anyhow::Result<()> {
        let key = std::str::from_utf8(key).context("the key is not text")?;
        match tree {
            "escrow" => {
                TokenActivationCode::payload_from_input(key)?;
                let record: EscrowRecordV1 = decode_record(value, "an escrow record")?;
                record.token.parse::<TokenSerial>()?;
                unseal(&self.key, &record)?;
            }
            "tokens" => {
                let state = decode_state(value)?;
                anyhow::ensure!(
                    state.token.as_str() == key,
                    "token {} is stored under {key}",
                    state.token
                );
            }
            _ => {
                let log: ActivationRecordV1 = decode_record(value, "an activation record")?;
                log.token.parse::<TokenSerial>()?;
            }
        }
        Ok(())
    }

    fn check_whole(&self, incoming: &lab::state::Incoming) -> anyhow::Result<()> {
        let tokens = incoming.keys("tokens");
        for (tree, records) in [
            ("escrow", incoming.records("escrow")),
            ("activations", incoming.records("activations")),
        ] {
            for (_, value) in records {
                let token = serde_json::from_slice::<serde_json::Value>(value)?["token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                anyhow::ensure!(
                    tokens.contains(token.as_bytes()),
                    "{tree} names token {token}, which is not in `tokens`"
                );
            }
        }
        Ok(())
    }
}
