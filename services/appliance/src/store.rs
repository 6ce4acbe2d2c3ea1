//! The virtual appliances' storage: the appliance service's tables and record formats, on the lab's storage
//! toolkit.
//!
//! Tables: `appliances` (serial → `ApplianceRecord`), `tokens` (`<appliance>\0<token>` →
//! `TokenRecord`, the seed sealed with the key in `<data-dir>/appliance/seal.key`) and `users`
//! (`<appliance>\0<user>` → `UserRecord`). Every change reads what it changes inside its write
//! transaction: a login (replay guard, drift and failure count together), an unlock, a settings change and a
//! poll's answer each change the current records, never a copy read before, so concurrent changes never
//! lose each other's writes. Each is durable before it is answered; of many concurrent submissions of one
//! code exactly one succeeds.

use std::path::Path;

use anyhow::{Context, anyhow};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use lab::store::{Abort, Order, Reader, Record, Schema, Store, StoreError, Table, Tx, Version};
use protocol::appliance::{ApplianceMode, ApplianceSettings, FortiTokenStatus, ServerCert};
use protocol::crypto::{SealKey, Sealed, open, seal};
use protocol::id::{ApplianceSerial, TokenSerial};
use protocol::seed::Seed;
use protocol::time::UnixTime;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::auth::{self, Lockout, OtpMemory, TokenTiming, Verdict};
use crate::fac_store;
use crate::fortitoken::{Appliance, FtmPush, ServiceUrl, Token, User};
use crate::hardware_store::{Profile, read_profile, write_profile};

pub const APPLIANCES: Table = Table::new("appliances");
pub const TOKENS: Table = Table::new("tokens");
pub const USERS: Table = Table::new("users");

/// The appliance service's tables (hardware tokens, their users and the appliances' profiles are
/// `hardware_store`'s; captured messages `messages`').
pub static SCHEMA: Schema = Schema {
    service: crate::NAME,
    tables: &[
        APPLIANCES,
        TOKENS,
        USERS,
        fac_store::FAC_CONFIG,
        fac_store::FAC_ADMINS,
        fac_store::FAC_TOKENS,
        fac_store::FAC_USERS,
        fac_store::FAC_GROUPS,
        fac_store::FAC_MEMBERSHIPS,
        fac_store::FAC_COUNTERS,
        fac_store::FAC_TOKEN_CODES,
        fac_store::FAC_EMERGENCY,
        fac_store::AGENT_CACHES,
        crate::hardware_store::HARDWARE_TOKENS,
        crate::hardware_store::HARDWARE_USERS,
        crate::hardware_store::PROFILES,
        crate::messages::MESSAGES,
        crate::messages::MAILBOX,
    ],
};

/// The virtual appliances' database; cheap to clone.
#[derive(Clone)]
pub struct Fleet {
    pub(crate) store: Store,
    pub(crate) key: SealKey,
}

/// How a login went, with the user's state after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginVerdict {
    UnknownUser,
    Locked { user: User },
    Checked { verdict: Verdict, user: User },
}

/// What a poll learned about one token, applied to the token as it stands when the answer is stored.
#[derive(Debug, Clone)]
pub struct Polled {
    pub serial: TokenSerial,
    /// The token's activation code when it was polled: a token provisioned again since keeps its new state.
    pub activation_code: Option<String>,
    pub status: String,
    pub reg_id: Option<String>,
    pub os_ver: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct ApplianceRecord {
    v: Version<1>,
    serial: String,
    peers: Vec<String>,
    vdom: String,
    mode: String,
    version: String,
    build: String,
    /// Absent: the suite's FortiToken server (`ServiceUrl::Suite`).
    ftm_url: Option<String>,
    activation_expiry_minutes: u32,
    period: u32,
    digits: u32,
    totp_window_secs: u32,
    totp_sync_window_secs: u32,
    lockout_threshold: u32,
    lockout_secs: u32,
    push_status: bool,
    push_server: String,
    push_server_port: u16,
    push_server_cert: String,
    push_reachable: bool,
    /// Absent: the suite's push relay.
    push_relay_url: Option<String>,
    push_timeout_secs: u32,
}

#[derive(Serialize, Deserialize)]
struct TokenRecord {
    v: Version<1>,
    serial: String,
    license: String,
    status: String,
    user: Option<String>,
    /// Base64 of the sealed seed (iv ‖ ciphertext ‖ mac); absent until provisioned.
    sealed_seed: Option<String>,
    period: u32,
    digits: u32,
    activation_code: Option<String>,
    activation_expire: Option<i64>,
    reg_id: Option<String>,
    os_ver: Option<String>,
    last_step: Option<i64>,
    drift_steps: i64,
    sync_step: Option<i64>,
}

#[derive(Serialize, Deserialize)]
struct UserRecord {
    v: Version<1>,
    name: String,
    token: String,
    failures: u32,
    locked_until: Option<i64>,
}

fn mode_name(mode: ApplianceMode) -> &'static str {
    match mode {
        ApplianceMode::Fortigate => "fortigate",
        ApplianceMode::Fortiauthenticator => "fortiauthenticator",
        ApplianceMode::Fortipam => "fortipam",
        ApplianceMode::Fortiproxy => "fortiproxy",
    }
}

/// Token status changes a write made (`None`: the token was not in the table), noted for the coverage
/// report once the write is durable.
type Changes = Vec<(Option<FortiTokenStatus>, FortiTokenStatus)>;

/// `result`'s value, its status changes noted as the `token` state machine's transitions.
/// Why a user who holds a hardware token gets no FortiToken Mobile token (FortiOS gives a user one token).
pub(crate) fn hardware_holder(user: &str, held: &protocol::id::HardwareSerial) -> String {
    format!("{user} already has hardware token {held}: a user has one token; remove it first")
}

fn noted<T>(result: Result<(T, Changes), StoreError>) -> Result<T, StoreError> {
    result.map(|(value, changes)| {
        for (from, to) in changes {
            lab::flow::transition("token", from.map_or("absent", status_name), status_name(to));
        }
        value
    })
}

fn status_name(status: FortiTokenStatus) -> &'static str {
    match status {
        FortiTokenStatus::Available => "available",
        FortiTokenStatus::Pending => "pending",
        FortiTokenStatus::Assigned => "assigned",
        FortiTokenStatus::ProvisionTimeout => "provision-timeout",
        FortiTokenStatus::Error => "error",
    }
}

fn parse_status(text: &str) -> anyhow::Result<FortiTokenStatus> {
    [
        FortiTokenStatus::Available,
        FortiTokenStatus::Pending,
        FortiTokenStatus::Assigned,
        FortiTokenStatus::ProvisionTimeout,
        FortiTokenStatus::Error,
    ]
    .into_iter()
    .find(|s| status_name(*s) == text)
    .ok_or_else(|| anyhow!("unknown token status {text}"))
}

impl From<&Appliance> for ApplianceRecord {
    fn from(a: &Appliance) -> ApplianceRecord {
        ApplianceRecord {
            v: Version,
            serial: a.serial.to_string(),
            peers: a.peers.iter().map(ToString::to_string).collect(),
            vdom: a.vdom.clone(),
            mode: mode_name(a.mode).to_owned(),
            version: a.version.clone(),
            build: a.build.clone(),
            ftm_url: a.ftm_url.stored(),
            activation_expiry_minutes: a.settings.activation_expiry_minutes,
            period: a.settings.period,
            digits: a.settings.digits,
            totp_window_secs: a.settings.totp_window_secs,
            totp_sync_window_secs: a.settings.totp_sync_window_secs,
            lockout_threshold: a.settings.lockout_threshold,
            lockout_secs: a.settings.lockout_secs,
            push_status: a.push.status,
            push_server: a.push.server.clone(),
            push_server_port: a.push.server_port,
            push_server_cert: match a.push.server_cert {
                ServerCert::Lab => "lab".to_owned(),
                ServerCert::Untrusted => "untrusted".to_owned(),
            },
            push_reachable: a.push.reachable,
            push_relay_url: a.push.relay_url.stored(),
            push_timeout_secs: a.push.timeout_secs,
        }
    }
}

impl TryFrom<ApplianceRecord> for Appliance {
    type Error = anyhow::Error;

    fn try_from(r: ApplianceRecord) -> anyhow::Result<Appliance> {
        let mode = match r.mode.as_str() {
            "fortigate" => ApplianceMode::Fortigate,
            "fortiauthenticator" => ApplianceMode::Fortiauthenticator,
            "fortipam" => ApplianceMode::Fortipam,
            "fortiproxy" => ApplianceMode::Fortiproxy,
            other => anyhow::bail!("unknown appliance mode {other}"),
        };
        Ok(Appliance {
            serial: r.serial.parse()?,
            peers: r
                .peers
                .iter()
                .map(|p| p.parse())
                .collect::<Result<_, _>>()?,
            vdom: r.vdom,
            mode,
            version: r.version,
            build: r.build,
            ftm_url: ServiceUrl::given(r.ftm_url.as_deref()),
            settings: ApplianceSettings {
                activation_expiry_minutes: r.activation_expiry_minutes,
                period: r.period,
                digits: r.digits,
                totp_window_secs: r.totp_window_secs,
                totp_sync_window_secs: r.totp_sync_window_secs,
                lockout_threshold: r.lockout_threshold,
                lockout_secs: r.lockout_secs,
            },
            push: FtmPush {
                status: r.push_status,
                server: r.push_server,
                server_port: r.push_server_port,
                server_cert: match r.push_server_cert.as_str() {
                    "lab" => ServerCert::Lab,
                    "untrusted" => ServerCert::Untrusted,
                    other => anyhow::bail!("unknown server certificate {other}"),
                },
                reachable: r.push_reachable,
                relay_url: ServiceUrl::given(r.push_relay_url.as_deref()),
                timeout_secs: r.push_timeout_secs,
            },
        })
    }
}

impl TokenRecord {
    fn new(token: &Token, sealed_seed: Option<String>) -> TokenRecord {
        TokenRecord {
            v: Version,
            serial: token.serial.to_string(),
            license: token.license.to_string(),
            status: status_name(token.status).to_owned(),
            user: token.user.clone(),
            sealed_seed,
            period: token.timing.period,
            digits: token.timing.digits,
            activation_code: token.activation_code.clone(),
            activation_expire: token.activation_expire,
            reg_id: token.reg_id.clone(),
            os_ver: token.os_ver.clone(),
            last_step: token.memory.last_step,
            drift_steps: token.memory.drift_steps,
            sync_step: token.memory.sync_step,
        }
    }

    fn token(&self) -> anyhow::Result<Token> {
        Ok(Token {
            serial: self.serial.parse()?,
            license: self.license.parse()?,
            status: parse_status(&self.status)?,
            user: self.user.clone(),
            timing: TokenTiming {
                period: self.period,
                digits: self.digits,
            },
            activation_code: self.activation_code.clone(),
            activation_expire: self.activation_expire,
            reg_id: self.reg_id.clone(),
            os_ver: self.os_ver.clone(),
            memory: OtpMemory {
                last_step: self.last_step,
                drift_steps: self.drift_steps,
                sync_step: self.sync_step,
            },
        })
    }
}

impl UserRecord {
    fn new(user: &User) -> UserRecord {
        UserRecord {
            v: Version,
            name: user.name.clone(),
            token: user.token.to_string(),
            failures: user.lockout.failures,
            locked_until: user.lockout.locked_until,
        }
    }

    fn user(&self) -> anyhow::Result<User> {
        Ok(User {
            name: self.name.clone(),
            token: self.token.parse()?,
            lockout: Lockout {
                failures: self.failures,
                locked_until: self.locked_until,
            },
        })
    }
}

impl Record for ApplianceRecord {
    const KIND: &'static str = "an appliance record";
}

impl Record for TokenRecord {
    const KIND: &'static str = "an appliance token record";
}

impl Record for UserRecord {
    const KIND: &'static str = "an appliance user record";
}

/// A decoding failure of a record whose JSON was fine but whose values are not.
pub(crate) fn corrupt(what: &str) -> impl Fn(anyhow::Error) -> StoreError + '_ {
    move |e| StoreError::corrupt(format!("{what}: {e:#}"))
}

/// An appliance from its stored bytes.
pub(crate) fn decode_appliance(bytes: &[u8]) -> Result<Appliance, StoreError> {
    Appliance::try_from(lab::store::decode::<ApplianceRecord>(bytes)?)
        .map_err(corrupt("an appliance record"))
}

/// Writes an appliance's record.
pub(crate) fn write_appliance(tx: &mut Tx<'_>, appliance: &Appliance) -> Result<(), StoreError> {
    tx.put(
        APPLIANCES,
        appliance.serial.as_str().as_bytes(),
        &ApplianceRecord::from(appliance),
    )
}

pub(crate) fn read_appliance(
    r: &mut impl Reader,
    serial: &ApplianceSerial,
) -> Result<Option<Appliance>, StoreError> {
    r.record::<ApplianceRecord>(APPLIANCES, serial.as_str().as_bytes())?
        .map(|record| Appliance::try_from(record).map_err(corrupt("an appliance record")))
        .transpose()
}

pub(crate) fn read_user(r: &mut impl Reader, key: &[u8]) -> Result<Option<User>, StoreError> {
    r.record::<UserRecord>(USERS, key)?
        .map(|record| record.user().map_err(corrupt("an appliance user record")))
        .transpose()
}

pub(crate) fn write_user(tx: &mut Tx<'_>, key: &[u8], user: &User) -> Result<(), StoreError> {
    tx.put(USERS, key, &UserRecord::new(user))
}

pub(crate) fn key(appliance: &ApplianceSerial, item: &str) -> Vec<u8> {
    [appliance.as_str().as_bytes(), b"\0", item.as_bytes()].concat()
}

pub(crate) fn prefix(appliance: &ApplianceSerial) -> Vec<u8> {
    [appliance.as_str().as_bytes(), b"\0"].concat()
}

/// Unseals a sealed seed (Base64 of iv ‖ ciphertext ‖ mac) with `key`.
pub(crate) fn unseal(key: &SealKey, sealed: &str) -> anyhow::Result<Seed> {
    let bytes = BASE64.decode(sealed).context("a sealed seed")?;
    let sealed = Sealed::from_bytes(&bytes).map_err(|e| anyhow!("a sealed seed: {e}"))?;
    let plain = open(key, &sealed).map_err(|e| anyhow!("unsealing a seed: {e}"))?;
    Seed::from_bytes(&plain).map_err(|e| anyhow!("a sealed seed: {e}"))
}

impl Fleet {
    /// Opens the store in `service_dir` (in memory when `None`) with its seal key.
    pub fn open(service_dir: Option<&Path>) -> anyhow::Result<Fleet> {
        let store = Store::open(service_dir, &SCHEMA)?;
        let key = SealKey::from_secret(
            &lab::store::data_secret(&store, "seal.key")?,
            "appliance token seed",
        );
        Ok(Fleet { store, key })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The hardware tokens, their users and the appliances' profiles, on this store and key.
    pub fn hardware(&self) -> crate::hardware_store::HardwareBook {
        crate::hardware_store::HardwareBook::new(self.store.clone(), self.key.clone())
    }

    /// The fingerprint of the seal key, for state snapshots.
    pub fn key_id(&self) -> String {
        lab::state::key_id(&self.key)
    }

    /// Adds an appliance; `false` (nothing written) if one with that serial exists.
    pub async fn create(&self, appliance: &Appliance) -> Result<bool, StoreError> {
        let serial = appliance.serial.clone();
        let record = ApplianceRecord::from(appliance);
        self.store
            .write(move |tx| {
                if tx.contains(APPLIANCES, serial.as_str().as_bytes())? {
                    return Ok(false);
                }
                tx.put(APPLIANCES, serial.as_str().as_bytes(), &record)?;
                Ok(true)
            })
            .await
    }

    /// Removes an appliance with its tokens and users, in one change; whether it existed.
    pub async fn remove(&self, serial: &ApplianceSerial) -> Result<bool, StoreError> {
        let serial = serial.clone();
        self.store
            .write(move |tx| {
                if tx.remove(APPLIANCES, serial.as_str().as_bytes())?.is_none() {
                    return Ok(false);
                }
                tx.remove(fac_store::FAC_CONFIG, serial.as_str().as_bytes())?;
                for table in [TOKENS, USERS].into_iter().chain(fac_store::PER_APPLIANCE) {
                    for (key, _) in tx.scan(table, &prefix(&serial), Order::Ascending, None)? {
                        tx.remove(table, &key)?;
                    }
                }
                crate::hardware_store::HardwareBook::remove_all(tx, &serial)?;
                Ok(true)
            })
            .await
    }

    /// Changes the appliance `serial` in one transaction: `change` gets its current state and changes it
    /// (written back, durable before this returns) or refuses (nothing written). `None` when there is no
    /// such appliance.
    pub async fn update<T, E>(
        &self,
        serial: &ApplianceSerial,
        change: impl FnOnce(&mut Appliance) -> Result<T, E> + Send + 'static,
    ) -> Result<Option<Result<T, E>>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        self.update_in(serial, |_, appliance| {
            change(appliance).map_err(Abort::Refused)
        })
        .await
    }

    /// As [`Fleet::update`], the appliance's profile (`default` when it has none yet) changed with it in
    /// the same transaction.
    pub async fn update_with_profile<T, E>(
        &self,
        serial: &ApplianceSerial,
        default: Profile,
        change: impl FnOnce(&mut Appliance, &mut Profile) -> Result<T, E> + Send + 'static,
    ) -> Result<Option<Result<T, E>>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        self.update_in(serial, move |tx, appliance| {
            let serial = appliance.serial.clone();
            let mut profile = read_profile(tx, &serial)?.unwrap_or(default);
            let outcome = change(appliance, &mut profile).map_err(Abort::Refused)?;
            write_profile(tx, &serial, &profile)?;
            Ok(outcome)
        })
        .await
    }

    /// The appliance `serial` read, handed with the transaction to `change`, and written back unless
    /// `change` aborts.
    async fn update_in<T, E>(
        &self,
        serial: &ApplianceSerial,
        change: impl FnOnce(&mut Tx<'_>, &mut Appliance) -> Result<T, Abort<E>> + Send + 'static,
    ) -> Result<Option<Result<T, E>>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        let serial = serial.clone();
        self.store
            .write_refusable(move |tx| {
                let Some(mut appliance) = read_appliance(tx, &serial)? else {
                    return Ok(None);
                };
                let outcome = change(tx, &mut appliance)?;
                write_appliance(tx, &appliance)?;
                Ok(Some(outcome))
            })
            .await
    }

    pub fn appliance(&self, serial: &ApplianceSerial) -> Result<Option<Appliance>, StoreError> {
        self.store.read(|r| read_appliance(r, serial))
    }

    pub fn appliances(&self) -> Result<Vec<Appliance>, StoreError> {
        self.store.read(|r| {
            r.all(APPLIANCES)?
                .iter()
                .map(|(_, bytes)| {
                    Appliance::try_from(lab::store::decode::<ApplianceRecord>(bytes)?)
                        .map_err(corrupt("an appliance record"))
                })
                .collect()
        })
    }

    pub fn tokens(&self, appliance: &ApplianceSerial) -> Result<Vec<Token>, StoreError> {
        self.store.read(|r| {
            r.scan(TOKENS, &prefix(appliance), Order::Ascending, None)?
                .iter()
                .map(|(_, bytes)| {
                    lab::store::decode::<TokenRecord>(bytes)?
                        .token()
                        .map_err(corrupt("an appliance token record"))
                })
                .collect()
        })
    }

    pub fn users(&self, appliance: &ApplianceSerial) -> Result<Vec<User>, StoreError> {
        self.store.read(|r| {
            r.scan(USERS, &prefix(appliance), Order::Ascending, None)?
                .iter()
                .map(|(_, bytes)| {
                    lab::store::decode::<UserRecord>(bytes)?
                        .user()
                        .map_err(corrupt("an appliance user record"))
                })
                .collect()
        })
    }

    /// Adds imported tokens that are not in the table yet (re-importing restores deleted tokens and makes
    /// tokens in Error status Available again, never touching the others), in one transaction.
    pub async fn add_imported(
        &self,
        appliance: &ApplianceSerial,
        imported: Vec<Token>,
    ) -> Result<(), StoreError> {
        let appliance = appliance.clone();
        noted(
            self.store
                .write(move |tx| {
                    let mut changes = Changes::new();
                    for token in &imported {
                        let key = key(&appliance, token.serial.as_str());
                        let errored = match tx.record::<TokenRecord>(TOKENS, &key)? {
                            Some(record) => (record.status == status_name(FortiTokenStatus::Error))
                                .then_some(Some(FortiTokenStatus::Error)),
                            None => Some(None),
                        };
                        if let Some(from) = errored {
                            tx.put(TOKENS, &key, &TokenRecord::new(token, None))?;
                            changes.push((from, token.status));
                        }
                    }
                    fac_store::on_imported(tx, &appliance, &imported)?;
                    Ok(((), changes))
                })
                .await,
        )
    }

    /// Records a provisioned token, its new seed and its user (replacing the user's lockout state). On a
    /// FortiAuthenticator, its HOTP counter starts over (`kind`), it is marked provisioned `offline` or not,
    /// and its user is a local user with FortiToken Mobile authentication. A user who holds a hardware token
    /// is refused in the same transaction (`Ok(Err(why))`, nothing written): a user has one token.
    pub async fn save_provisioned(
        &self,
        appliance: &ApplianceSerial,
        token: &Token,
        seed: &Seed,
        kind: protocol::otp::OtpKind,
        offline: bool,
    ) -> Result<Result<(), String>, StoreError> {
        let user_name = token
            .user
            .clone()
            .ok_or_else(|| StoreError::internal("a provisioned token has a user"))?;
        let sealed = seal(&self.key, rand::thread_rng().r#gen(), seed.as_bytes());
        let token_record = TokenRecord::new(token, Some(BASE64.encode(sealed.to_bytes())));
        let user = User {
            name: user_name.clone(),
            token: token.serial.clone(),
            lockout: Lockout::default(),
        };
        let token_key = key(appliance, token.serial.as_str());
        let user_key = key(appliance, &user_name);
        let (serial, token) = (appliance.clone(), token.clone());
        noted(
            self.store
                .write(move |tx| {
                    if let Some(held) = crate::hardware_store::held_by(tx, &serial, &user.name)? {
                        return Ok((Err(hardware_holder(&user.name, &held)), Vec::new()));
                    }
                    let before = tx
                        .record::<TokenRecord>(TOKENS, &token_key)?
                        .and_then(|r| parse_status(&r.status).ok());
                    tx.put(TOKENS, &token_key, &token_record)?;
                    write_user(tx, &user_key, &user)?;
                    fac_store::on_provisioned(tx, &serial, &token, kind, offline)?;
                    Ok((Ok(()), vec![(before, token.status)]))
                })
                .await,
        )
    }

    /// Applies a poll's answer to the tokens it named, as they stand now (their seeds, replay guard and
    /// drift stay); a token provisioned again since it was polled is left as it is. Returns the tokens.
    pub async fn save_polled(
        &self,
        appliance: &ApplianceSerial,
        polled: Vec<Polled>,
    ) -> Result<Vec<Token>, StoreError> {
        let appliance = appliance.clone();
        noted(
            self.store
                .write(move |tx| {
                    let mut changes = Changes::new();
                    let mut tokens = Vec::with_capacity(polled.len());
                    for answer in &polled {
                        let key = key(&appliance, answer.serial.as_str());
                        let Some(record) = tx.record::<TokenRecord>(TOKENS, &key)? else {
                            continue;
                        };
                        let current = record
                            .token()
                            .map_err(corrupt("an appliance token record"))?;
                        if current.activation_code != answer.activation_code {
                            tokens.push(current);
                            continue;
                        }
                        let token = current.polled(
                            &answer.status,
                            answer.reg_id.as_deref(),
                            answer.os_ver.as_deref(),
                        );
                        tx.put(TOKENS, &key, &TokenRecord::new(&token, record.sealed_seed))?;
                        changes.push((Some(current.status), token.status));
                        tokens.push(token);
                    }
                    Ok((tokens, changes))
                })
                .await,
        )
    }

    /// Deletes `token` from the appliance's table (`config user fortitoken`, `delete`), in one transaction:
    /// `Ok(false)` when there is no such token, the holder's name when a user still has it (FortiOS refuses
    /// to delete a token in use).
    pub async fn delete_token(
        &self,
        appliance: &ApplianceSerial,
        token: &TokenSerial,
    ) -> Result<Result<bool, String>, StoreError> {
        let appliance = appliance.clone();
        let token = token.clone();
        self.store
            .write(move |tx| {
                for (_, bytes) in tx.scan(USERS, &prefix(&appliance), Order::Ascending, None)? {
                    let user = lab::store::decode::<UserRecord>(&bytes)?
                        .user()
                        .map_err(corrupt("an appliance user record"))?;
                    if user.token == token {
                        return Ok(Err(user.name));
                    }
                }
                fac_store::on_token_deleted(tx, &appliance, &token)?;
                Ok(Ok(tx
                    .remove(TOKENS, &key(&appliance, token.as_str()))?
                    .is_some()))
            })
            .await
    }

    /// The user holding `token`, if any.
    pub fn holder(
        &self,
        appliance: &ApplianceSerial,
        token: &TokenSerial,
    ) -> Result<Option<User>, StoreError> {
        Ok(self
            .users(appliance)?
            .into_iter()
            .find(|u| &u.token == token))
    }

    pub fn user(
        &self,
        appliance: &ApplianceSerial,
        name: &str,
    ) -> Result<Option<User>, StoreError> {
        self.store.read(|r| read_user(r, &key(appliance, name)))
    }

    /// Clears a user's failures and lockout, in one transaction; the user after it, `None` if there is no
    /// such user.
    pub async fn unlock(
        &self,
        appliance: &ApplianceSerial,
        name: &str,
    ) -> Result<Option<User>, StoreError> {
        let user_key = key(appliance, name);
        self.store
            .write(move |tx| {
                let Some(mut user) = read_user(tx, &user_key)? else {
                    return Ok(None);
                };
                user.lockout = Lockout::default();
                write_user(tx, &user_key, &user)?;
                Ok(Some(user))
            })
            .await
    }

    /// Checks a login: the OTP check and every state change it causes (replay guard, drift, failures,
    /// lockout, the token becoming Assigned) happen in one transaction, durable before this returns.
    pub async fn login(
        &self,
        appliance: &Appliance,
        name: &str,
        otp: &str,
        now: UnixTime,
    ) -> Result<LoginVerdict, StoreError> {
        let seal_key = self.key.clone();
        let serial = appliance.serial.clone();
        let settings = appliance.settings;
        let name = name.to_owned();
        let otp = otp.to_owned();
        noted(
            self.store
                .write(move |tx| {
                    let user_key = key(&serial, &name);
                    let Some(mut user) = read_user(tx, &user_key)? else {
                        return Ok((LoginVerdict::UnknownUser, Changes::new()));
                    };
                    if user.lockout.is_locked(now) {
                        return Ok((LoginVerdict::Locked { user }, Changes::new()));
                    }
                    let token_key = key(&serial, user.token.as_str());
                    let Some(mut record) = tx.record::<TokenRecord>(TOKENS, &token_key)? else {
                        return Err(StoreError::corrupt(format!(
                            "user {name} holds {} which is not in the table",
                            user.token
                        )));
                    };
                    let mut token = record
                        .token()
                        .map_err(corrupt("an appliance token record"))?;
                    let before = token.status;
                    let verdict = match &record.sealed_seed {
                        None => Verdict::Denied,
                        Some(sealed) => {
                            let seed =
                                unseal(&seal_key, sealed).map_err(corrupt("a sealed seed"))?;
                            match fac_store::check_hotp_in(
                                tx,
                                &seal_key,
                                &serial,
                                &token.serial,
                                seed.as_bytes(),
                                &otp,
                                token.timing.digits,
                                token.memory,
                            )? {
                                Some(verdict) => verdict,
                                None => auth::check(
                                    seed.as_bytes(),
                                    &otp,
                                    now,
                                    token.timing,
                                    &settings,
                                    token.memory,
                                ),
                            }
                        }
                    };
                    match verdict {
                        Verdict::Accepted { memory } => {
                            fac_store::note_used(tx, &serial, &token.serial, now)?;
                            token.memory = memory;
                            token.status = FortiTokenStatus::Assigned;
                            token.activation_code = None;
                            user.lockout = Lockout::succeed();
                        }
                        Verdict::Resync { memory } => token.memory = memory,
                        Verdict::Denied => user.lockout = user.lockout.fail(now, &settings),
                        Verdict::Replayed { .. } => {}
                    }
                    let sealed = record.sealed_seed.take();
                    tx.put(TOKENS, &token_key, &TokenRecord::new(&token, sealed))?;
                    write_user(tx, &user_key, &user)?;
                    let changes = vec![(Some(before), token.status)];
                    Ok((LoginVerdict::Checked { verdict, user }, changes))
                })
                .await,
        )
    }

    /// The seed of `token`, unsealed (for a push: the payload and callback keys derive from it).
    pub fn seed_of(
        &self,
        appliance: &ApplianceSerial,
        token: &TokenSerial,
    ) -> Result<Option<Seed>, StoreError> {
        let record = self
            .store
            .read(|r| r.record::<TokenRecord>(TOKENS, &key(appliance, token.as_str())))?;
        record
            .and_then(|record| record.sealed_seed)
            .map(|sealed| unseal(&self.key, &sealed).map_err(corrupt("a sealed seed")))
            .transpose()
    }

    /// Checks the OTP a phone sent with a push approval: it must be within the window, and the push
    /// session (answered once) is the replay guard. On success the token becomes Assigned, the step is
    /// remembered and the user's failures are cleared; a wrong code counts as a failed login. One
    /// transaction, durable before it returns.
    pub async fn approve_push(
        &self,
        appliance: &Appliance,
        name: &str,
        otp: &str,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let seal_key = self.key.clone();
        let serial = appliance.serial.clone();
        let settings = appliance.settings;
        let name = name.to_owned();
        let otp = otp.to_owned();
        noted(
            self.store
                .write(move |tx| {
                    let user_key = key(&serial, &name);
                    let Some(mut user) = read_user(tx, &user_key)? else {
                        return Ok((false, Changes::new()));
                    };
                    let token_key = key(&serial, user.token.as_str());
                    let Some(mut record) = tx.record::<TokenRecord>(TOKENS, &token_key)? else {
                        return Ok((false, Changes::new()));
                    };
                    let mut token = record
                        .token()
                        .map_err(corrupt("an appliance token record"))?;
                    let before = token.status;
                    let Some(sealed) = record.sealed_seed.take() else {
                        return Ok((false, Changes::new()));
                    };
                    let seed = unseal(&seal_key, &sealed).map_err(corrupt("a sealed seed"))?;
                    let unguarded = OtpMemory {
                        last_step: None,
                        sync_step: None,
                        ..token.memory
                    };
                    let checked = match fac_store::check_hotp_in(
                        tx,
                        &seal_key,
                        &serial,
                        &token.serial,
                        seed.as_bytes(),
                        &otp,
                        token.timing.digits,
                        unguarded,
                    )? {
                        Some(verdict) => verdict,
                        None => auth::check(
                            seed.as_bytes(),
                            &otp,
                            now,
                            token.timing,
                            &settings,
                            unguarded,
                        ),
                    };
                    let approved = match checked {
                        Verdict::Accepted { memory } => {
                            fac_store::note_used(tx, &serial, &token.serial, now)?;
                            token.memory.last_step = token.memory.last_step.max(memory.last_step);
                            token.status = FortiTokenStatus::Assigned;
                            token.activation_code = None;
                            user.lockout = Lockout::succeed();
                            true
                        }
                        _ => {
                            user.lockout = user.lockout.fail(now, &settings);
                            false
                        }
                    };
                    tx.put(TOKENS, &token_key, &TokenRecord::new(&token, Some(sealed)))?;
                    write_user(tx, &user_key, &user)?;
                    Ok((approved, vec![(Some(before), token.status)]))
                })
                .await,
        )
    }

    /// Checks one record of a state being imported: sealed seeds must open with this data dir's key.
    pub fn check_record(&self, table: Table, key: &[u8], value: &[u8]) -> anyhow::Result<()> {
        if let Some(checked) = self.hardware().check_record(table, key, value) {
            return checked;
        }
        if table == crate::messages::MESSAGES {
            return crate::messages::check_record(key, value);
        }
        if table == crate::messages::MAILBOX {
            return crate::messages::check_mailbox_record(key, value);
        }
        if ![APPLIANCES, TOKENS, USERS].contains(&table) {
            return fac_store::check_record(&self.key, table, key, value);
        }
        if table == APPLIANCES {
            let appliance: Appliance = lab::store::decode::<ApplianceRecord>(value)?.try_into()?;
            anyhow::ensure!(
                appliance.serial.as_str().as_bytes() == key,
                "appliance {} is stored under another serial",
                appliance.serial
            );
            return Ok(());
        }
        let (serial, item) = std::str::from_utf8(key)
            .ok()
            .and_then(|k| k.split_once('\0'))
            .context("the key is <appliance serial>\\0<token or user>")?;
        serial.parse::<ApplianceSerial>()?;
        if table == TOKENS {
            let record: TokenRecord = lab::store::decode(value)?;
            let token = record.token()?;
            anyhow::ensure!(
                token.serial.as_str() == item,
                "token {} is stored under {item}",
                token.serial
            );
            if let Some(sealed) = &record.sealed_seed {
                unseal(&self.key, sealed)?;
            }
        } else {
            let user = lab::store::decode::<UserRecord>(value)?.user()?;
            anyhow::ensure!(
                user.name == item,
                "user {} is stored under {item}",
                user.name
            );
        }
        Ok(())
    }

    /// Checks that every token and user of a state belongs to an appliance in it.
    pub fn check_state(&self, incoming: &lab::state::Incoming) -> anyhow::Result<()> {
        let appliances = incoming.keys(APPLIANCES);
        for (key, _) in incoming.records(fac_store::FAC_CONFIG) {
            anyhow::ensure!(
                appliances.contains(key),
                "fac_config of `{}`, which is not in `appliances`",
                String::from_utf8_lossy(key)
            );
        }
        for (key, _) in incoming.records(crate::hardware_store::PROFILES) {
            anyhow::ensure!(
                appliances.contains(key),
                "profile of `{}`, which is not in `appliances`",
                String::from_utf8_lossy(key)
            );
        }
        let per_appliance = crate::hardware_store::HardwareBook::PER_APPLIANCE;
        for table in [TOKENS, USERS]
            .into_iter()
            .chain(fac_store::PER_APPLIANCE)
            .chain(per_appliance)
        {
            for (key, _) in incoming.records(table) {
                let serial = key.split(|b| *b == 0).next().unwrap_or_default();
                anyhow::ensure!(
                    appliances.contains(serial),
                    "{} of `{}`, which is not in `appliances`",
                    table.name(),
                    String::from_utf8_lossy(serial)
                );
            }
        }
        Ok(())
    }
}
