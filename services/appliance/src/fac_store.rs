//! A FortiAuthenticator's own tables, beside the appliance tables of `store` (which every appliance has):
//! its configuration, REST API administrators, the FAC-only facts of its tokens (REST ids, lock, last use,
//! HOTP counters, offline provisioning), its local and LDAP users, groups and memberships, token codes sent by
//! email or SMS, emergency codes, and the virtual Windows agents' caches.
//!
//! Keys are `<appliance serial>\0<item>` (`fac_config`: the serial; `agent_caches`:
//! `<serial>\0<agent>\0<user>`), so removing an appliance removes its FAC records by prefix. Secrets rest
//! sealed with the appliance service's seal key (the offline shared secret, the seed passphrase, emergency
//! codes) or as hashes (API keys: SHA-256; passwords: PBKDF2; token codes: HMAC). Every read-modify-write is
//! one transaction, including those that span the appliance tables (a login and its HOTP counter, a
//! provisioning and the user it creates).

use std::collections::HashMap;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use lab::store::{Abort, Order, Reader, Record, StoreError, Table, Tx, Version};
use pbkdf2::pbkdf2_hmac;
use protocol::appliance::{ApplianceMode, ApplianceSettings};
use protocol::crypto::{Sealed, hmac_sha256, open, seal};
use protocol::id::{ApplianceSerial, HardwareSerial, TokenSerial};
use protocol::otp::OtpKind;
use protocol::time::UnixTime;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::{Lockout, OtpMemory, Verdict};
use crate::fortitoken::{Appliance, Token};
use crate::store::{self, APPLIANCES, Fleet, USERS, corrupt, key, prefix, read_appliance};
use crate::token_policy::{self, FacConfig, HotpState, HotpVerdict, ProvisionMode};

pub const FAC_CONFIG: Table = Table::new("fac_config");
pub const FAC_ADMINS: Table = Table::new("fac_admins");
pub const FAC_TOKENS: Table = Table::new("fac_tokens");
pub const FAC_USERS: Table = Table::new("fac_users");
pub const FAC_GROUPS: Table = Table::new("fac_groups");
pub const FAC_MEMBERSHIPS: Table = Table::new("fac_memberships");
pub const FAC_COUNTERS: Table = Table::new("fac_counters");
pub const FAC_TOKEN_CODES: Table = Table::new("fac_token_codes");
pub const FAC_EMERGENCY: Table = Table::new("fac_emergency");
pub const AGENT_CACHES: Table = Table::new("agent_caches");

/// The FAC tables whose keys start with `<serial>\0` (all but `fac_config`).
pub const PER_APPLIANCE: [Table; 9] = [
    FAC_ADMINS,
    FAC_TOKENS,
    FAC_USERS,
    FAC_GROUPS,
    FAC_MEMBERSHIPS,
    FAC_COUNTERS,
    FAC_TOKEN_CODES,
    FAC_EMERGENCY,
    AGENT_CACHES,
];

/// PBKDF2 rounds for users' passwords.
const PASSWORD_ROUNDS: u32 = 10_000;

#[derive(Serialize, Deserialize)]
struct FacConfigRecord {
    v: Version<1>,
    host_name: Option<String>,
    token_algo: String,
    server_address: String,
    server_port: u16,
    require_pin: String,
    pin_length: u32,
    provision_mode: String,
    hotp_window: u32,
    hotp_sync_window: u32,
    email_sms_token_timeout: u32,
    offline_enabled: bool,
    /// Base64 of the sealed offline shared secret.
    offline_secret: Option<String>,
    offline_totp_cache_days: u32,
    offline_hotp_cache_counts: u32,
    emergency_enabled: bool,
    emergency_valid_days: u32,
    transfer_enabled: bool,
    /// Base64 of the sealed seed encryption passphrase.
    seed_passphrase: Option<String>,
}

impl Record for FacConfigRecord {
    const KIND: &'static str = "a FortiAuthenticator configuration record";
}

#[derive(Serialize, Deserialize)]
struct AdminRecord {
    v: Version<1>,
    name: String,
    /// Hex SHA-256 of the API key.
    key_sha256: String,
    issued: i64,
    /// The administrator's login password (GUI, SSH) as a salted PBKDF2 hash ([`hash_password`]); never
    /// checked by the REST API, which takes only the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password_hash: Option<String>,
}

impl Record for AdminRecord {
    const KIND: &'static str = "a FortiAuthenticator administrator record";
}

#[derive(Serialize, Deserialize)]
struct FacTokenRecord {
    v: Version<1>,
    /// The REST API id (`/api/v1/fortitokens/<id>/`).
    id: u64,
    locked: bool,
    last_used_at: Option<i64>,
    /// Provisioned for offline activation (no FortiToken server involved).
    offline: bool,
    /// Set for a HOTP token: the counter expected next.
    hotp_next: Option<u64>,
    hotp_sync: Option<u64>,
}

impl Record for FacTokenRecord {
    const KIND: &'static str = "a FortiAuthenticator token record";
}

#[derive(Serialize, Deserialize)]
struct FacUserRecord {
    v: Version<1>,
    id: u64,
    /// `local` or `ldap`.
    kind: String,
    username: String,
    first_name: String,
    last_name: String,
    email: String,
    mobile_number: String,
    active: bool,
    token_auth: bool,
    token_type: Option<String>,
    ftm_act_method: String,
    custom1: String,
    custom2: String,
    custom3: String,
    reason: Option<u32>,
    expires_at: Option<String>,
    password_hash: Option<String>,
    dn: String,
    failures: u32,
    locked_until: Option<i64>,
}

impl Record for FacUserRecord {
    const KIND: &'static str = "a FortiAuthenticator user record";
}

#[derive(Serialize, Deserialize)]
struct GroupRecord {
    v: Version<1>,
    id: u64,
    name: String,
}

impl Record for GroupRecord {
    const KIND: &'static str = "a FortiAuthenticator group record";
}

#[derive(Serialize, Deserialize)]
struct MembershipRecord {
    v: Version<1>,
    id: u64,
    user: String,
    group: String,
}

impl Record for MembershipRecord {
    const KIND: &'static str = "a FortiAuthenticator group membership record";
}

#[derive(Serialize, Deserialize)]
struct CounterRecord {
    v: Version<1>,
    next: u64,
}

impl Record for CounterRecord {
    const KIND: &'static str = "a FortiAuthenticator id counter";
}

#[derive(Serialize, Deserialize)]
struct TokenCodeRecord {
    v: Version<1>,
    /// Hex HMAC-SHA256 of the code under the seal key's derivation.
    mac: String,
    channel: String,
    expires: i64,
}

impl Record for TokenCodeRecord {
    const KIND: &'static str = "a FortiAuthenticator token code record";
}

#[derive(Serialize, Deserialize)]
struct EmergencyRecord {
    v: Version<1>,
    /// Base64 of the sealed JSON list of codes.
    codes: String,
    issued: i64,
    expires: i64,
}

impl Record for EmergencyRecord {
    const KIND: &'static str = "a FortiAuthenticator emergency codes record";
}

/// What a virtual Windows agent keeps for one user: the sealed cache as the FAC gave it, and what it used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCacheRecord {
    v: Version<1>,
    pub user: String,
    pub token: String,
    pub algorithm: String,
    pub count: u64,
    pub first: u64,
    pub valid_until: Option<i64>,
    pub emergency: usize,
    /// Base64 of the cache sealed with the offline shared secret (`modeled::seal_offline_cache`).
    pub cache: String,
    pub fetched: i64,
    /// Time steps or counters used offline.
    pub used_positions: Vec<u64>,
    /// Tags of emergency codes used.
    pub used_emergency: Vec<String>,
}

impl Record for AgentCacheRecord {
    const KIND: &'static str = "a Windows agent cache record";
}

impl AgentCacheRecord {
    /// A cache just fetched from the FAC.
    #[allow(clippy::too_many_arguments)]
    pub fn fetched(
        user: &str,
        token: &TokenSerial,
        algorithm: &str,
        first: u64,
        count: u64,
        valid_until: Option<i64>,
        emergency: usize,
        cache: String,
        now: UnixTime,
    ) -> AgentCacheRecord {
        AgentCacheRecord {
            v: Version,
            user: user.to_owned(),
            token: token.to_string(),
            algorithm: algorithm.to_owned(),
            count,
            first,
            valid_until,
            emergency,
            cache,
            fetched: now.secs(),
            used_positions: Vec::new(),
            used_emergency: Vec::new(),
        }
    }
}

/// A local or LDAP user of a FortiAuthenticator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacUser {
    pub id: u64,
    pub kind: UserKind,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub mobile_number: String,
    pub active: bool,
    pub token_auth: bool,
    pub token_type: Option<String>,
    pub ftm_act_method: String,
    pub custom: [String; 3],
    pub reason: Option<u32>,
    pub expires_at: Option<String>,
    pub password_hash: Option<String>,
    pub dn: String,
    /// The lockout of a user without a FortiToken (one with a token is locked in `users`).
    pub lockout: Lockout,
}

/// Which resource a user belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    Local,
    Ldap,
}

impl UserKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UserKind::Local => "local",
            UserKind::Ldap => "ldap",
        }
    }

    fn counter(self) -> &'static str {
        match self {
            UserKind::Local => "localusers",
            UserKind::Ldap => "ldapusers",
        }
    }
}

impl FacUser {
    /// A local user with nothing but a name (what provisioning through fortimock's API creates).
    pub fn named(username: &str, kind: UserKind) -> FacUser {
        FacUser {
            id: 0,
            kind,
            username: username.to_owned(),
            first_name: String::new(),
            last_name: String::new(),
            email: String::new(),
            mobile_number: String::new(),
            active: true,
            token_auth: false,
            token_type: None,
            ftm_act_method: "email".to_owned(),
            custom: Default::default(),
            reason: None,
            expires_at: None,
            password_hash: None,
            dn: String::new(),
            lockout: Lockout::default(),
        }
    }

    fn record(&self) -> FacUserRecord {
        FacUserRecord {
            v: Version,
            id: self.id,
            kind: self.kind.as_str().to_owned(),
            username: self.username.clone(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            email: self.email.clone(),
            mobile_number: self.mobile_number.clone(),
            active: self.active,
            token_auth: self.token_auth,
            token_type: self.token_type.clone(),
            ftm_act_method: self.ftm_act_method.clone(),
            custom1: self.custom[0].clone(),
            custom2: self.custom[1].clone(),
            custom3: self.custom[2].clone(),
            reason: self.reason,
            expires_at: self.expires_at.clone(),
            password_hash: self.password_hash.clone(),
            dn: self.dn.clone(),
            failures: self.lockout.failures,
            locked_until: self.lockout.locked_until,
        }
    }

    fn from_record(r: FacUserRecord) -> anyhow::Result<FacUser> {
        let kind = match r.kind.as_str() {
            "local" => UserKind::Local,
            "ldap" => UserKind::Ldap,
            other => anyhow::bail!("unknown user kind {other}"),
        };
        if let Some(hash) = &r.password_hash {
            anyhow::ensure!(is_password_hash(hash), "a password hash of another shape");
        }
        Ok(FacUser {
            id: r.id,
            kind,
            username: r.username,
            first_name: r.first_name,
            last_name: r.last_name,
            email: r.email,
            mobile_number: r.mobile_number,
            active: r.active,
            token_auth: r.token_auth,
            token_type: r.token_type,
            ftm_act_method: r.ftm_act_method,
            custom: [r.custom1, r.custom2, r.custom3],
            reason: r.reason,
            expires_at: r.expires_at,
            password_hash: r.password_hash,
            dn: r.dn,
            lockout: Lockout {
                failures: r.failures,
                locked_until: r.locked_until,
            },
        })
    }
}

/// What the FAC knows of one of its tokens beyond the token table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FacTokenInfo {
    pub id: u64,
    pub locked: bool,
    pub last_used_at: Option<i64>,
    pub offline: bool,
    pub hotp: Option<HotpState>,
}

impl FacTokenInfo {
    fn from_record(r: &FacTokenRecord) -> FacTokenInfo {
        FacTokenInfo {
            id: r.id,
            locked: r.locked,
            last_used_at: r.last_used_at,
            offline: r.offline,
            hotp: r.hotp_next.map(|next| HotpState {
                next,
                sync: r.hotp_sync,
            }),
        }
    }
}

/// A user group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: u64,
    pub name: String,
}

/// A group membership: the user's and the group's `resource_uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub id: u64,
    pub user: String,
    pub group: String,
}

/// A password's stored form: `pbkdf2-sha256$<rounds>$<salt hex>$<hash hex>`.
pub fn hash_password(password: &str) -> String {
    let salt: [u8; 16] = rand::thread_rng().r#gen();
    hash_with(password, &salt, PASSWORD_ROUNDS)
}

fn hash_with(password: &str, salt: &[u8], rounds: u32) -> String {
    let mut out = [0u8; 32];
    pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, rounds, &mut out);
    format!(
        "pbkdf2-sha256${rounds}${}${}",
        hex::encode(salt),
        hex::encode(out)
    )
}

/// Whether `password` is the one `stored` was made from (compared in constant time).
pub fn verify_password(stored: &str, password: &str) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    let [_, rounds, salt, _] = parts.as_slice() else {
        return false;
    };
    let (Ok(rounds), Ok(salt)) = (rounds.parse::<u32>(), hex::decode(salt)) else {
        return false;
    };
    if !is_password_hash(stored) {
        return false;
    }
    hash_with(password, &salt, rounds)
        .as_bytes()
        .ct_eq(stored.as_bytes())
        .into()
}

fn is_password_hash(stored: &str) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    parts.len() == 4
        && parts[0] == "pbkdf2-sha256"
        && parts[1]
            .parse::<u32>()
            .is_ok_and(|r| (1..=1_000_000).contains(&r))
        && hex::decode(parts[2]).is_ok()
        && hex::decode(parts[3]).is_ok_and(|h| h.len() == 32)
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn agent_key(serial: &ApplianceSerial, agent: &str, user: &str) -> Vec<u8> {
    [
        serial.as_str().as_bytes(),
        b"\0",
        agent.as_bytes(),
        b"\0",
        user.as_bytes(),
    ]
    .concat()
}

fn id_key(serial: &ApplianceSerial, id: u64) -> Vec<u8> {
    key(serial, &format!("{id:016x}"))
}

/// The next id of `what` on `serial`, counted up in the transaction.
fn next_id(tx: &mut Tx<'_>, serial: &ApplianceSerial, what: &str) -> Result<u64, StoreError> {
    let counter_key = key(serial, what);
    let next = tx
        .record::<CounterRecord>(FAC_COUNTERS, &counter_key)?
        .map_or(1, |r| r.next);
    tx.put(
        FAC_COUNTERS,
        &counter_key,
        &CounterRecord {
            v: Version,
            next: next + 1,
        },
    )?;
    Ok(next)
}

fn read_config(
    r: &mut impl Reader,
    serial: &ApplianceSerial,
    seal_key: &protocol::crypto::SealKey,
) -> Result<FacConfig, StoreError> {
    let Some(record) = r.record::<FacConfigRecord>(FAC_CONFIG, serial.as_str().as_bytes())? else {
        return Ok(FacConfig::default());
    };
    config_from_record(record, seal_key).map_err(corrupt("a FortiAuthenticator configuration"))
}

fn unseal_text(seal_key: &protocol::crypto::SealKey, sealed: &str) -> anyhow::Result<String> {
    let bytes = BASE64.decode(sealed).context("a sealed secret")?;
    let sealed = Sealed::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("a sealed secret: {e}"))?;
    let plain = open(seal_key, &sealed).map_err(|e| anyhow::anyhow!("unsealing a secret: {e}"))?;
    String::from_utf8(plain).context("a sealed secret")
}

fn seal_text(seal_key: &protocol::crypto::SealKey, text: &str) -> String {
    BASE64.encode(seal(seal_key, rand::thread_rng().r#gen(), text.as_bytes()).to_bytes())
}

fn config_from_record(
    r: FacConfigRecord,
    seal_key: &protocol::crypto::SealKey,
) -> anyhow::Result<FacConfig> {
    Ok(FacConfig {
        host_name: r.host_name,
        token_algo: OtpKind::parse(&r.token_algo).context("token_algo")?,
        server_address: r.server_address,
        server_port: r.server_port,
        require_pin: r.require_pin,
        pin_length: r.pin_length,
        provision_mode: ProvisionMode::parse(&r.provision_mode).context("provision_mode")?,
        hotp_window: r.hotp_window,
        hotp_sync_window: r.hotp_sync_window,
        email_sms_token_timeout: r.email_sms_token_timeout,
        offline_enabled: r.offline_enabled,
        offline_secret: r
            .offline_secret
            .map(|s| unseal_text(seal_key, &s))
            .transpose()?,
        offline_totp_cache_days: r.offline_totp_cache_days,
        offline_hotp_cache_counts: r.offline_hotp_cache_counts,
        emergency_enabled: r.emergency_enabled,
        emergency_valid_days: r.emergency_valid_days,
        transfer_enabled: r.transfer_enabled,
        seed_passphrase: r
            .seed_passphrase
            .map(|s| unseal_text(seal_key, &s))
            .transpose()?,
    })
}

fn config_record(c: &FacConfig, seal_key: &protocol::crypto::SealKey) -> FacConfigRecord {
    FacConfigRecord {
        v: Version,
        host_name: c.host_name.clone(),
        token_algo: c.token_algo.as_str().to_owned(),
        server_address: c.server_address.clone(),
        server_port: c.server_port,
        require_pin: c.require_pin.clone(),
        pin_length: c.pin_length,
        provision_mode: c.provision_mode.as_str().to_owned(),
        hotp_window: c.hotp_window,
        hotp_sync_window: c.hotp_sync_window,
        email_sms_token_timeout: c.email_sms_token_timeout,
        offline_enabled: c.offline_enabled,
        offline_secret: c.offline_secret.as_deref().map(|s| seal_text(seal_key, s)),
        offline_totp_cache_days: c.offline_totp_cache_days,
        offline_hotp_cache_counts: c.offline_hotp_cache_counts,
        emergency_enabled: c.emergency_enabled,
        emergency_valid_days: c.emergency_valid_days,
        transfer_enabled: c.transfer_enabled,
        seed_passphrase: c.seed_passphrase.as_deref().map(|s| seal_text(seal_key, s)),
    }
}

fn read_fac_token(
    r: &mut impl Reader,
    serial: &ApplianceSerial,
    token: &TokenSerial,
) -> Result<Option<FacTokenRecord>, StoreError> {
    r.record::<FacTokenRecord>(FAC_TOKENS, &key(serial, token.as_str()))
}

fn read_fac_user(
    r: &mut impl Reader,
    serial: &ApplianceSerial,
    name: &str,
) -> Result<Option<FacUser>, StoreError> {
    r.record::<FacUserRecord>(FAC_USERS, &key(serial, name))?
        .map(|record| FacUser::from_record(record).map_err(corrupt("a FortiAuthenticator user")))
        .transpose()
}

fn is_fac(r: &mut impl Reader, serial: &ApplianceSerial) -> Result<bool, StoreError> {
    Ok(read_appliance(r, serial)?.is_some_and(|a| a.mode == ApplianceMode::Fortiauthenticator))
}

// ------------------------------------------------------------------------------------------------------
// Hooks: called by `store` inside its own transactions, so the FAC's facts change with the token table.
// ------------------------------------------------------------------------------------------------------

/// Imported tokens get their REST ids on a FortiAuthenticator (in serial order, counting up).
pub(crate) fn on_imported(
    tx: &mut Tx<'_>,
    serial: &ApplianceSerial,
    tokens: &[Token],
) -> Result<(), StoreError> {
    if !is_fac(tx, serial)? {
        return Ok(());
    }
    let mut serials: Vec<&str> = tokens.iter().map(|t| t.serial.as_str()).collect();
    serials.sort();
    give_rest_ids(tx, serial, serials)
}

/// A token provisioned on a FortiAuthenticator: its HOTP counter starts over (or it has none), it is
/// marked offline or not, and its user exists as a local user with FortiToken Mobile authentication.
pub(crate) fn on_provisioned(
    tx: &mut Tx<'_>,
    serial: &ApplianceSerial,
    token: &Token,
    kind: OtpKind,
    offline: bool,
) -> Result<(), StoreError> {
    if !is_fac(tx, serial)? {
        return Ok(());
    }
    let token_key = key(serial, token.serial.as_str());
    let mut record = match tx.record::<FacTokenRecord>(FAC_TOKENS, &token_key)? {
        Some(record) => record,
        None => FacTokenRecord {
            v: Version,
            id: next_id(tx, serial, "fortitokens")?,
            locked: false,
            last_used_at: None,
            offline: false,
            hotp_next: None,
            hotp_sync: None,
        },
    };
    let fresh = HotpState::fresh();
    (record.hotp_next, record.hotp_sync) = match kind {
        OtpKind::Hotp => (Some(fresh.next), None),
        OtpKind::Totp => (None, None),
    };
    record.offline = offline;
    tx.put(FAC_TOKENS, &token_key, &record)?;
    if let Some(name) = &token.user {
        let mut user = match read_fac_user(tx, serial, name)? {
            Some(user) => user,
            None => {
                let mut user = FacUser::named(name, UserKind::Local);
                user.id = next_id(tx, serial, UserKind::Local.counter())?;
                user
            }
        };
        user.token_auth = true;
        user.token_type = Some("ftm".to_owned());
        tx.put(FAC_USERS, &key(serial, name), &user.record())?;
    }
    Ok(())
}

/// Hardware tokens saved on a FortiAuthenticator (activated by serial, or from a seed file) get their REST
/// ids from the same counter as its mobile tokens, so `fortitokens/` lists both (type `ftk` next to `ftm`).
pub(crate) fn on_hardware_saved(
    tx: &mut Tx<'_>,
    serial: &ApplianceSerial,
    tokens: &[HardwareSerial],
) -> Result<(), StoreError> {
    if !is_fac(tx, serial)? {
        return Ok(());
    }
    give_rest_ids(tx, serial, tokens.iter().map(HardwareSerial::as_str))
}

/// Gives each of `tokens` that has none its REST id on FAC `serial` (the `fortitokens` counter, counting up),
/// in the order given.
fn give_rest_ids<'a>(
    tx: &mut Tx<'_>,
    serial: &ApplianceSerial,
    tokens: impl IntoIterator<Item = &'a str>,
) -> Result<(), StoreError> {
    for token in tokens {
        let token_key = key(serial, token);
        if tx.contains(FAC_TOKENS, &token_key)? {
            continue;
        }
        let id = next_id(tx, serial, "fortitokens")?;
        tx.put(
            FAC_TOKENS,
            &token_key,
            &FacTokenRecord {
                v: Version,
                id,
                locked: false,
                last_used_at: None,
                offline: false,
                hotp_next: None,
                hotp_sync: None,
            },
        )?;
    }
    Ok(())
}

/// A token deleted from the table loses its FAC facts.
pub(crate) fn on_token_deleted(
    tx: &mut Tx<'_>,
    serial: &ApplianceSerial,
    token: &TokenSerial,
) -> Result<(), StoreError> {
    tx.remove(FAC_TOKENS, &key(serial, token.as_str()))?;
    Ok(())
}

/// A login's OTP check on a HOTP token of a FortiAuthenticator: `Some` verdict (its counter state written)
/// when the token is HOTP, `None` for the TOTP check to run. The arguments are the transaction's and the
/// login's, passed as the store's login has them.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_hotp_in(
    tx: &mut Tx<'_>,
    seal_key: &protocol::crypto::SealKey,
    serial: &ApplianceSerial,
    token: &TokenSerial,
    seed: &[u8],
    otp: &str,
    digits: u32,
    memory: OtpMemory,
) -> Result<Option<Verdict>, StoreError> {
    let Some(mut record) = read_fac_token(tx, serial, token)? else {
        return Ok(None);
    };
    let Some(next) = record.hotp_next else {
        return Ok(None);
    };
    let config = read_config(tx, serial, seal_key)?;
    let state = HotpState {
        next,
        sync: record.hotp_sync,
    };
    let verdict = match token_policy::check_hotp(
        seed,
        otp,
        digits,
        state,
        config.hotp_window,
        config.hotp_sync_window,
    ) {
        HotpVerdict::Accepted { state } => {
            (record.hotp_next, record.hotp_sync) = (Some(state.next), state.sync);
            Verdict::Accepted { memory }
        }
        HotpVerdict::Resync { state } => {
            (record.hotp_next, record.hotp_sync) = (Some(state.next), state.sync);
            Verdict::Resync { memory }
        }
        HotpVerdict::Denied => Verdict::Denied,
    };
    tx.put(FAC_TOKENS, &key(serial, token.as_str()), &record)?;
    Ok(Some(verdict))
}

/// A successful login with `token` on a FortiAuthenticator sets its `last_used_at`.
pub(crate) fn note_used(
    tx: &mut Tx<'_>,
    serial: &ApplianceSerial,
    token: &TokenSerial,
    now: UnixTime,
) -> Result<(), StoreError> {
    if let Some(mut record) = read_fac_token(tx, serial, token)? {
        record.last_used_at = Some(now.secs());
        tx.put(FAC_TOKENS, &key(serial, token.as_str()), &record)?;
    }
    Ok(())
}

/// Checks one record of an imported state in a FAC table.
pub(crate) fn check_record(
    seal_key: &protocol::crypto::SealKey,
    table: Table,
    record_key: &[u8],
    value: &[u8],
) -> anyhow::Result<()> {
    if table == FAC_CONFIG {
        std::str::from_utf8(record_key)?.parse::<ApplianceSerial>()?;
        config_from_record(lab::store::decode(value)?, seal_key)?;
        return Ok(());
    }
    let text = std::str::from_utf8(record_key).context("the key is not text")?;
    let (serial, item) = text
        .split_once('\0')
        .context("the key is <appliance serial>\\0<item>")?;
    serial.parse::<ApplianceSerial>()?;
    match table.name() {
        "fac_admins" => {
            let r: AdminRecord = lab::store::decode(value)?;
            anyhow::ensure!(
                r.name == item,
                "administrator {} stored under {item}",
                r.name
            );
            anyhow::ensure!(
                hex::decode(&r.key_sha256).is_ok_and(|h| h.len() == 32),
                "an API key hash of another shape"
            );
        }
        "fac_tokens" => {
            // A mobile token's facts, or a hardware token's REST id.
            if item.parse::<TokenSerial>().is_err() {
                item.parse::<HardwareSerial>()?;
            }
            lab::store::decode::<FacTokenRecord>(value)?;
        }
        "fac_users" => {
            let user = FacUser::from_record(lab::store::decode(value)?)?;
            anyhow::ensure!(
                user.username == item,
                "user {} stored under {item}",
                user.username
            );
        }
        "fac_groups" => {
            lab::store::decode::<GroupRecord>(value)?;
        }
        "fac_memberships" => {
            lab::store::decode::<MembershipRecord>(value)?;
        }
        "fac_counters" => {
            lab::store::decode::<CounterRecord>(value)?;
        }
        "fac_token_codes" => {
            lab::store::decode::<TokenCodeRecord>(value)?;
        }
        "fac_emergency" => {
            let r: EmergencyRecord = lab::store::decode(value)?;
            unseal_text(seal_key, &r.codes)?;
        }
        "agent_caches" => {
            lab::store::decode::<AgentCacheRecord>(value)?;
        }
        other => anyhow::bail!("no FAC table {other}"),
    }
    Ok(())
}

/// Why a user could not be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRefusal {
    Exists,
    NoAppliance,
}

impl Fleet {
    /// A FortiAuthenticator's configuration (FAC's defaults until changed).
    pub fn fac_config(&self, serial: &ApplianceSerial) -> Result<FacConfig, StoreError> {
        let seal_key = self.key.clone();
        self.store.read(|r| read_config(r, serial, &seal_key))
    }

    /// The FortiAuthenticators, with their configuration.
    pub fn facs(&self) -> Result<Vec<(Appliance, FacConfig)>, StoreError> {
        let mut facs = Vec::new();
        for appliance in self.appliances()? {
            if appliance.mode == ApplianceMode::Fortiauthenticator {
                let config = self.fac_config(&appliance.serial)?;
                facs.push((appliance, config));
            }
        }
        Ok(facs)
    }

    /// Changes a FortiAuthenticator's settings and configuration in one transaction: `change` gets both as
    /// they stand and changes them or refuses (nothing written). The host name stays unique among the
    /// lab's FACs. `None` when there is no such appliance.
    pub async fn update_fac<T: Send + 'static>(
        &self,
        serial: &ApplianceSerial,
        change: impl FnOnce(&mut ApplianceSettings, &mut FacConfig) -> Result<T, String>
        + Send
        + 'static,
    ) -> Result<Option<Result<T, String>>, StoreError> {
        let serial = serial.clone();
        let seal_key = self.key.clone();
        self.store
            .write_refusable(move |tx| {
                let Some(mut appliance) = read_appliance(tx, &serial)? else {
                    return Ok(None);
                };
                let mut config = read_config(tx, &serial, &seal_key)?;
                let outcome =
                    change(&mut appliance.settings, &mut config).map_err(Abort::Refused)?;
                let host = config.host_name(&serial);
                for (_, bytes) in tx.scan(APPLIANCES, b"", Order::Ascending, None)? {
                    let other: Appliance = store::decode_appliance(&bytes)?;
                    if other.serial == serial || other.mode != ApplianceMode::Fortiauthenticator {
                        continue;
                    }
                    let theirs =
                        read_config(tx, &other.serial, &seal_key)?.host_name(&other.serial);
                    if theirs == host {
                        return Err(Abort::Refused(format!(
                            "host_name `{host}` is {}'s already",
                            other.serial
                        )));
                    }
                }
                store::write_appliance(tx, &appliance)?;
                tx.put(
                    FAC_CONFIG,
                    serial.as_str().as_bytes(),
                    &config_record(&config, &seal_key),
                )?;
                Ok(Some(outcome))
            })
            .await
    }

    /// Issues `admin`'s API key (a new one replaces the old), durable before it returns.
    pub async fn issue_api_key(
        &self,
        serial: &ApplianceSerial,
        admin: &str,
        now: UnixTime,
    ) -> Result<String, StoreError> {
        let api_key: String = {
            let mut rng = rand::thread_rng();
            (0..protocol::modeled::FAC_API_KEY_LEN)
                .map(|_| char::from(rng.sample(rand::distributions::Alphanumeric)))
                .collect()
        };
        self.set_api_key(serial, admin, &api_key, now).await?;
        Ok(api_key)
    }

    /// Sets `admin`'s API key to `api_key` (a lab fixture's; kept only as its SHA-256), keeping its login
    /// password; durable before it returns.
    pub async fn set_api_key(
        &self,
        serial: &ApplianceSerial,
        admin: &str,
        api_key: &str,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let mut record = AdminRecord {
            v: Version,
            name: admin.to_owned(),
            key_sha256: sha256_hex(api_key),
            issued: now.secs(),
            password_hash: None,
        };
        let admin_key = key(serial, admin);
        self.store
            .write(move |tx| {
                // A new key keeps the administrator's login password.
                record.password_hash = tx
                    .record::<AdminRecord>(FAC_ADMINS, &admin_key)?
                    .and_then(|earlier| earlier.password_hash);
                tx.put(FAC_ADMINS, &admin_key, &record)
            })
            .await
    }

    /// Sets `admin`'s login password (stored as its salted hash): `false` when the FAC has no such
    /// administrator (one gets an API key first).
    pub async fn set_admin_password(
        &self,
        serial: &ApplianceSerial,
        admin: &str,
        password: &str,
    ) -> Result<bool, StoreError> {
        let hash = hash_password(password);
        let admin_key = key(serial, admin);
        self.store
            .write(move |tx| {
                let Some(mut record) = tx.record::<AdminRecord>(FAC_ADMINS, &admin_key)? else {
                    return Ok(false);
                };
                record.password_hash = Some(hash);
                tx.put(FAC_ADMINS, &admin_key, &record)?;
                Ok(true)
            })
            .await
    }

    /// Whether `password` is `admin`'s login password (what the GUI would check; the REST API never does).
    pub fn check_admin_password(
        &self,
        serial: &ApplianceSerial,
        admin: &str,
        password: &str,
    ) -> Result<bool, StoreError> {
        let record = self
            .store
            .read(|r| r.record::<AdminRecord>(FAC_ADMINS, &key(serial, admin)))?;
        Ok(record
            .and_then(|r| r.password_hash)
            .is_some_and(|hash| verify_password(&hash, password)))
    }

    /// Whether `api_key` is `admin`'s (compared in constant time).
    pub fn check_api_key(
        &self,
        serial: &ApplianceSerial,
        admin: &str,
        api_key: &str,
    ) -> Result<bool, StoreError> {
        let record = self
            .store
            .read(|r| r.record::<AdminRecord>(FAC_ADMINS, &key(serial, admin)))?;
        Ok(record.is_some_and(|r| {
            r.key_sha256
                .as_bytes()
                .ct_eq(sha256_hex(api_key).as_bytes())
                .into()
        }))
    }

    /// The administrators with an API key.
    pub fn fac_admins(&self, serial: &ApplianceSerial) -> Result<Vec<String>, StoreError> {
        self.store.read(|r| {
            r.scan(FAC_ADMINS, &prefix(serial), Order::Ascending, None)?
                .iter()
                .map(|(_, bytes)| Ok(lab::store::decode::<AdminRecord>(bytes)?.name))
                .collect()
        })
    }

    /// The FAC facts of every token of `serial`.
    pub fn fac_tokens(
        &self,
        serial: &ApplianceSerial,
    ) -> Result<HashMap<TokenSerial, FacTokenInfo>, StoreError> {
        self.store.read(|r| {
            let mut tokens = HashMap::new();
            let start = prefix(serial).len();
            for (k, bytes) in r.scan(FAC_TOKENS, &prefix(serial), Order::Ascending, None)? {
                let serial_text = String::from_utf8_lossy(&k[start..]).into_owned();
                let token: TokenSerial = match serial_text.parse() {
                    Ok(token) => token,
                    // A hardware token's facts: `fac_hardware_tokens`.
                    Err(_) if serial_text.parse::<HardwareSerial>().is_ok() => continue,
                    Err(e) => return Err(StoreError::corrupt(format!("a FAC token key: {e}"))),
                };
                let record: FacTokenRecord = lab::store::decode(&bytes)?;
                tokens.insert(token, FacTokenInfo::from_record(&record));
            }
            Ok(tokens)
        })
    }

    /// The FAC facts (REST id, lock) of every hardware token of `serial`.
    pub fn fac_hardware_tokens(
        &self,
        serial: &ApplianceSerial,
    ) -> Result<HashMap<HardwareSerial, FacTokenInfo>, StoreError> {
        self.store.read(|r| {
            let mut tokens = HashMap::new();
            let start = prefix(serial).len();
            for (k, bytes) in r.scan(FAC_TOKENS, &prefix(serial), Order::Ascending, None)? {
                let serial_text = String::from_utf8_lossy(&k[start..]).into_owned();
                if let Ok(token) = serial_text.parse::<HardwareSerial>() {
                    let record: FacTokenRecord = lab::store::decode(&bytes)?;
                    tokens.insert(token, FacTokenInfo::from_record(&record));
                }
            }
            Ok(tokens)
        })
    }

    /// Locks or unlocks a token for assignment; whether it exists.
    pub async fn set_token_locked(
        &self,
        serial: &ApplianceSerial,
        token: &TokenSerial,
        locked: bool,
    ) -> Result<bool, StoreError> {
        let token_key = key(serial, token.as_str());
        self.store
            .write(move |tx| {
                let Some(mut record) = tx.record::<FacTokenRecord>(FAC_TOKENS, &token_key)? else {
                    return Ok(false);
                };
                record.locked = locked;
                tx.put(FAC_TOKENS, &token_key, &record)?;
                Ok(true)
            })
            .await
    }

    /// The FAC's local and LDAP users, by name.
    pub fn fac_users(&self, serial: &ApplianceSerial) -> Result<Vec<FacUser>, StoreError> {
        self.store.read(|r| {
            r.scan(FAC_USERS, &prefix(serial), Order::Ascending, None)?
                .into_iter()
                .map(|(_, bytes)| {
                    FacUser::from_record(lab::store::decode(&bytes)?)
                        .map_err(corrupt("a FortiAuthenticator user"))
                })
                .collect()
        })
    }

    pub fn fac_user(
        &self,
        serial: &ApplianceSerial,
        name: &str,
    ) -> Result<Option<FacUser>, StoreError> {
        self.store.read(|r| read_fac_user(r, serial, name))
    }

    /// Creates a user with the next id of its kind; refused when the name is taken (by a local or LDAP
    /// user, or by a user of the token table).
    pub async fn create_fac_user(
        &self,
        serial: &ApplianceSerial,
        user: FacUser,
    ) -> Result<Result<FacUser, UserRefusal>, StoreError> {
        let serial = serial.clone();
        self.store
            .write(move |tx| {
                if !is_fac(tx, &serial)? {
                    return Ok(Err(UserRefusal::NoAppliance));
                }
                let user_key = key(&serial, &user.username);
                if tx.contains(FAC_USERS, &user_key)? || tx.contains(USERS, &user_key)? {
                    return Ok(Err(UserRefusal::Exists));
                }
                let mut user = user;
                user.id = next_id(tx, &serial, user.kind.counter())?;
                tx.put(FAC_USERS, &user_key, &user.record())?;
                Ok(Ok(user))
            })
            .await
    }

    /// Changes a user in one transaction; `None` when there is no such user.
    pub async fn update_fac_user<T: Send + 'static, E: Send + 'static>(
        &self,
        serial: &ApplianceSerial,
        name: &str,
        change: impl FnOnce(&mut FacUser) -> Result<T, E> + Send + 'static,
    ) -> Result<Option<Result<T, E>>, StoreError> {
        let serial = serial.clone();
        let name = name.to_owned();
        self.store
            .write(move |tx| {
                let Some(mut user) = read_fac_user(tx, &serial, &name)? else {
                    return Ok(None);
                };
                let outcome = match change(&mut user) {
                    Ok(outcome) => outcome,
                    Err(refused) => return Ok(Some(Err(refused))),
                };
                tx.put(FAC_USERS, &key(&serial, &name), &user.record())?;
                Ok(Some(Ok(outcome)))
            })
            .await
    }

    /// Counts a failed authentication against `name`: in `users` when the user holds a FortiToken, in the
    /// FAC user otherwise. Returns whether the user is now locked.
    pub async fn fail_fac_login(
        &self,
        serial: &ApplianceSerial,
        name: &str,
        settings: ApplianceSettings,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let serial = serial.clone();
        let name = name.to_owned();
        self.store
            .write(move |tx| {
                let user_key = key(&serial, &name);
                if let Some(mut holder) = store::read_user(tx, &user_key)? {
                    holder.lockout = holder.lockout.fail(now, &settings);
                    store::write_user(tx, &user_key, &holder)?;
                    return Ok(holder.lockout.is_locked(now));
                }
                let Some(mut user) = read_fac_user(tx, &serial, &name)? else {
                    return Ok(false);
                };
                user.lockout = user.lockout.fail(now, &settings);
                tx.put(FAC_USERS, &user_key, &user.record())?;
                Ok(user.lockout.is_locked(now))
            })
            .await
    }

    /// Clears a user's failures after a successful authentication.
    pub async fn succeed_fac_login(
        &self,
        serial: &ApplianceSerial,
        name: &str,
    ) -> Result<(), StoreError> {
        let serial = serial.clone();
        let name = name.to_owned();
        self.store
            .write(move |tx| {
                let user_key = key(&serial, &name);
                if let Some(mut holder) = store::read_user(tx, &user_key)?
                    && holder.lockout != Lockout::default()
                {
                    holder.lockout = Lockout::succeed();
                    store::write_user(tx, &user_key, &holder)?;
                }
                if let Some(mut user) = read_fac_user(tx, &serial, &name)?
                    && user.lockout != Lockout::default()
                {
                    user.lockout = Lockout::succeed();
                    tx.put(FAC_USERS, &user_key, &user.record())?;
                }
                Ok(())
            })
            .await
    }

    /// The user's lockout: the token holder's when it has a FortiToken, the FAC user's otherwise.
    pub fn fac_lockout(&self, serial: &ApplianceSerial, name: &str) -> Result<Lockout, StoreError> {
        if let Some(holder) = self.user(serial, name)? {
            return Ok(holder.lockout);
        }
        Ok(self
            .fac_user(serial, name)?
            .map(|u| u.lockout)
            .unwrap_or_default())
    }

    /// Groups, by id.
    pub fn fac_groups(&self, serial: &ApplianceSerial) -> Result<Vec<Group>, StoreError> {
        self.store.read(|r| {
            r.scan(FAC_GROUPS, &prefix(serial), Order::Ascending, None)?
                .iter()
                .map(|(_, bytes)| {
                    let r: GroupRecord = lab::store::decode(bytes)?;
                    Ok(Group {
                        id: r.id,
                        name: r.name,
                    })
                })
                .collect()
        })
    }

    /// Adds a group; `None` when the name is taken.
    pub async fn create_fac_group(
        &self,
        serial: &ApplianceSerial,
        name: &str,
    ) -> Result<Option<Group>, StoreError> {
        let serial = serial.clone();
        let name = name.to_owned();
        self.store
            .write(move |tx| {
                for (_, bytes) in tx.scan(FAC_GROUPS, &prefix(&serial), Order::Ascending, None)? {
                    if lab::store::decode::<GroupRecord>(&bytes)?.name == name {
                        return Ok(None);
                    }
                }
                let id = next_id(tx, &serial, "usergroups")?;
                tx.put(
                    FAC_GROUPS,
                    &id_key(&serial, id),
                    &GroupRecord {
                        v: Version,
                        id,
                        name: name.clone(),
                    },
                )?;
                Ok(Some(Group { id, name }))
            })
            .await
    }

    pub fn fac_memberships(&self, serial: &ApplianceSerial) -> Result<Vec<Membership>, StoreError> {
        self.store.read(|r| {
            r.scan(FAC_MEMBERSHIPS, &prefix(serial), Order::Ascending, None)?
                .iter()
                .map(|(_, bytes)| {
                    let r: MembershipRecord = lab::store::decode(bytes)?;
                    Ok(Membership {
                        id: r.id,
                        user: r.user,
                        group: r.group,
                    })
                })
                .collect()
        })
    }

    /// Adds a membership (the caller checked both ends exist); `None` when it exists already.
    pub async fn create_fac_membership(
        &self,
        serial: &ApplianceSerial,
        user: &str,
        group: &str,
    ) -> Result<Option<Membership>, StoreError> {
        let serial = serial.clone();
        let (user, group) = (user.to_owned(), group.to_owned());
        self.store
            .write(move |tx| {
                for (_, bytes) in
                    tx.scan(FAC_MEMBERSHIPS, &prefix(&serial), Order::Ascending, None)?
                {
                    let r: MembershipRecord = lab::store::decode(&bytes)?;
                    if r.user == user && r.group == group {
                        return Ok(None);
                    }
                }
                let id = next_id(tx, &serial, "localgroup-memberships")?;
                tx.put(
                    FAC_MEMBERSHIPS,
                    &id_key(&serial, id),
                    &MembershipRecord {
                        v: Version,
                        id,
                        user: user.clone(),
                        group: group.clone(),
                    },
                )?;
                Ok(Some(Membership { id, user, group }))
            })
            .await
    }

    fn code_mac(&self, serial: &ApplianceSerial, user: &str, code: &str) -> String {
        let mac_key = hmac_sha256(&self.key_id().into_bytes(), &[b"fac token code"]);
        hex::encode(hmac_sha256(
            &mac_key,
            &[
                serial.as_str().as_bytes(),
                b"\0",
                user.as_bytes(),
                b"\0",
                code.as_bytes(),
            ],
        ))
    }

    /// Keeps a token code sent to `user` (only its MAC), replacing any earlier one.
    pub async fn issue_token_code(
        &self,
        serial: &ApplianceSerial,
        user: &str,
        code: &str,
        channel: &str,
        expires: UnixTime,
    ) -> Result<(), StoreError> {
        let record = TokenCodeRecord {
            v: Version,
            mac: self.code_mac(serial, user, code),
            channel: channel.to_owned(),
            expires: expires.secs(),
        };
        let code_key = key(serial, user);
        self.store
            .write(move |tx| tx.put(FAC_TOKEN_CODES, &code_key, &record))
            .await
    }

    /// Redeems a token code once, before it expires: whether it was the user's current code. A used or
    /// expired code is gone.
    pub async fn redeem_token_code(
        &self,
        serial: &ApplianceSerial,
        user: &str,
        code: &str,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let mac = self.code_mac(serial, user, code.trim());
        let code_key = key(serial, user);
        self.store
            .write(move |tx| {
                let Some(record) = tx.record::<TokenCodeRecord>(FAC_TOKEN_CODES, &code_key)? else {
                    return Ok(false);
                };
                if now.secs() >= record.expires {
                    tx.remove(FAC_TOKEN_CODES, &code_key)?;
                    return Ok(false);
                }
                if !bool::from(record.mac.as_bytes().ct_eq(mac.as_bytes())) {
                    return Ok(false);
                }
                tx.remove(FAC_TOKEN_CODES, &code_key)?;
                Ok(true)
            })
            .await
    }

    /// Keeps `user`'s new emergency codes (sealed), replacing the old ones.
    pub async fn issue_emergency_codes(
        &self,
        serial: &ApplianceSerial,
        user: &str,
        codes: &[String],
        now: UnixTime,
        expires: UnixTime,
    ) -> Result<(), StoreError> {
        let sealed = seal_text(
            &self.key,
            &serde_json::to_string(codes).map_err(|e| StoreError::internal(e.to_string()))?,
        );
        let record = EmergencyRecord {
            v: Version,
            codes: sealed,
            issued: now.secs(),
            expires: expires.secs(),
        };
        let code_key = key(serial, user);
        self.store
            .write(move |tx| tx.put(FAC_EMERGENCY, &code_key, &record))
            .await
    }

    /// `user`'s emergency codes and their expiry, if any were issued.
    pub fn emergency_codes(
        &self,
        serial: &ApplianceSerial,
        user: &str,
    ) -> Result<Option<(Vec<String>, UnixTime)>, StoreError> {
        let Some(record) = self
            .store
            .read(|r| r.record::<EmergencyRecord>(FAC_EMERGENCY, &key(serial, user)))?
        else {
            return Ok(None);
        };
        let codes = unseal_text(&self.key, &record.codes)
            .and_then(|text| Ok(serde_json::from_str::<Vec<String>>(&text)?))
            .map_err(corrupt("emergency codes"))?;
        Ok(Some((codes, UnixTime::from_secs(record.expires))))
    }

    /// Moves a HOTP token's expected counter past `used` (the last counter a Windows agent used offline);
    /// answers the counter expected next, `None` for a token that is not HOTP.
    pub async fn advance_hotp(
        &self,
        serial: &ApplianceSerial,
        token: &TokenSerial,
        used: u64,
    ) -> Result<Option<u64>, StoreError> {
        let token_key = key(serial, token.as_str());
        self.store
            .write(move |tx| {
                let Some(mut record) = tx.record::<FacTokenRecord>(FAC_TOKENS, &token_key)? else {
                    return Ok(None);
                };
                let Some(next) = record.hotp_next else {
                    return Ok(None);
                };
                let next = next.max(used.saturating_add(1));
                record.hotp_next = Some(next);
                record.hotp_sync = None;
                tx.put(FAC_TOKENS, &token_key, &record)?;
                Ok(Some(next))
            })
            .await
    }

    /// Stores what an agent fetched (replacing its earlier cache for the user).
    pub async fn save_agent_cache(
        &self,
        serial: &ApplianceSerial,
        agent: &str,
        record: AgentCacheRecord,
    ) -> Result<(), StoreError> {
        let cache_key = agent_key(serial, agent, &record.user);
        self.store
            .write(move |tx| tx.put(AGENT_CACHES, &cache_key, &record))
            .await
    }

    /// An agent's cache for a user, changed in one transaction by `change` (an offline login marking what
    /// it used); `None` when the agent has none.
    pub async fn update_agent_cache<T: Send + 'static>(
        &self,
        serial: &ApplianceSerial,
        agent: &str,
        user: &str,
        change: impl FnOnce(&mut AgentCacheRecord) -> T + Send + 'static,
    ) -> Result<Option<T>, StoreError> {
        let cache_key = agent_key(serial, agent, user);
        self.store
            .write(move |tx| {
                let Some(mut record) = tx.record::<AgentCacheRecord>(AGENT_CACHES, &cache_key)?
                else {
                    return Ok(None);
                };
                let outcome = change(&mut record);
                tx.put(AGENT_CACHES, &cache_key, &record)?;
                Ok(Some(outcome))
            })
            .await
    }

    /// Every agent cache of `serial`: (agent, record).
    pub fn agent_caches(
        &self,
        serial: &ApplianceSerial,
    ) -> Result<Vec<(String, AgentCacheRecord)>, StoreError> {
        self.store.read(|r| {
            let start = prefix(serial).len();
            r.scan(AGENT_CACHES, &prefix(serial), Order::Ascending, None)?
                .into_iter()
                .map(|(k, bytes)| {
                    let rest = String::from_utf8_lossy(&k[start..]).into_owned();
                    let agent = rest.split('\0').next().unwrap_or_default().to_owned();
                    Ok((agent, lab::store::decode::<AgentCacheRecord>(&bytes)?))
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_admins_login_password_is_kept_apart_from_its_api_key() {
        let fleet = Fleet::open(None).unwrap();
        let fac: ApplianceSerial = "FAC-VMTM00000009".parse().unwrap();
        let now = UnixTime::from_secs(1_700_000_000);
        // No administrator yet: no password to set.
        assert!(
            !fleet
                .set_admin_password(&fac, "admin", "Login-1")
                .await
                .unwrap()
        );
        let key = fleet.issue_api_key(&fac, "admin", now).await.unwrap();
        assert!(
            fleet
                .set_admin_password(&fac, "admin", "Login-1")
                .await
                .unwrap()
        );
        assert!(
            fleet
                .check_admin_password(&fac, "admin", "Login-1")
                .unwrap()
        );
        assert!(!fleet.check_admin_password(&fac, "admin", &key).unwrap());
        assert!(!fleet.check_api_key(&fac, "admin", "Login-1").unwrap());
        assert!(fleet.check_api_key(&fac, "admin", &key).unwrap());
        // A new key keeps the password; a fixture's key is taken as given.
        fleet
            .set_api_key(&fac, "admin", "fixture-key", now)
            .await
            .unwrap();
        assert!(fleet.check_api_key(&fac, "admin", "fixture-key").unwrap());
        assert!(!fleet.check_api_key(&fac, "admin", &key).unwrap());
        assert!(
            fleet
                .check_admin_password(&fac, "admin", "Login-1")
                .unwrap()
        );
    }

    #[test]
    fn passwords_hash_and_verify() {
        let stored = hash_password("correct horse");
        assert!(is_password_hash(&stored));
        assert!(verify_password(&stored, "correct horse"));
        assert!(!verify_password(&stored, "wrong"));
        assert!(!verify_password("pbkdf2-sha256$0$00$00", "x"));
    }
}
