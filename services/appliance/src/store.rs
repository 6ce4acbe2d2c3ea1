//! The virtual appliances' storage: the only module that touches the appliance service's sled trees.
//!
//! Trees: `appliances` (serial → `ApplianceRecordV1`), `tokens` (`<appliance>\0<token>` →
//! `TokenRecordV1`, the seed sealed with the key in `<data-dir>/appliance/seal.key`) and `users`
//! (`<appliance>\0<user>` → `UserRecordV1`). A login is one transaction over the token and the user (the
//! replay guard and the failure count move together), flushed before it is answered, so of many concurrent
//! submissions of one code exactly one succeeds.

use std::path::Path;

use anyhow::{Context, anyhow};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use lab::store::{Abort, abort, committed, decode_record, encode_record};
use protocol::appliance::{ApplianceMode, ApplianceSettings, FortiTokenStatus, ServerCert};
use protocol::crypto::{SealKey, Sealed, open, seal};
use protocol::id::{ApplianceSerial, TokenSerial};
use protocol::seed::Seed;
use protocol::time::UnixTime;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sled::Transactional;

use crate::auth::{self, Lockout, OtpMemory, TokenTiming, Verdict};
use crate::fortitoken::{Appliance, FtmPush, Token, User};

/// Handle to the appliance database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    appliances: sled::Tree,
    tokens: sled::Tree,
    users: sled::Tree,
    key: SealKey,
}

/// How a login went, with the user's state after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginVerdict {
    UnknownUser,
    Locked { user: User },
    Checked { verdict: Verdict, user: User },
}

#[derive(Serialize, Deserialize)]
struct ApplianceRecordV1 {
    v: u32,
    serial: String,
    peers: Vec<String>,
    vdom: String,
    mode: String,
    version: String,
    build: String,
    ftm_url: String,
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
    push_relay_url: String,
    push_timeout_secs: u32,
}

#[derive(Serialize, Deserialize)]
struct TokenRecordV1 {
    v: u32,
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
struct UserRecordV1 {
    v: u32,
    name: String,
    token: String,
    failures: u32,
    locked_until: Option<i64>,
}

fn mode_name(mode: ApplianceMode) -> &'static str {
    match mode {
        ApplianceMode::Fortigate => "fortigate",
        ApplianceMode::Fortiauthenticator => "fortiauthenticator",
    }
}

fn status_name(status: FortiTokenStatus) -> &'static str {
    match status {
        FortiTokenStatus::Available => "available",
        FortiTokenStatus::Pending => "pending",
        FortiTokenStatus::Assigned => "assigned",
        FortiTokenStatus::ProvisionTimeout => "provision-timeout",
    }
}

fn parse_status(text: &str) -> anyhow::Result<FortiTokenStatus> {
    [
        FortiTokenStatus::Available,
        FortiTokenStatus::Pending,
        FortiTokenStatus::Assigned,
        FortiTokenStatus::ProvisionTimeout,
    ]
    .into_iter()
    .find(|s| status_name(*s) == text)
    .ok_or_else(|| anyhow!("unknown token status {text}"))
}

impl From<&Appliance> for ApplianceRecordV1 {
    fn from(a: &Appliance) -> ApplianceRecordV1 {
        ApplianceRecordV1 {
            v: 1,
            serial: a.serial.to_string(),
            peers: a.peers.iter().map(ToString::to_string).collect(),
            vdom: a.vdom.clone(),
            mode: mode_name(a.mode).to_owned(),
            version: a.version.clone(),
            build: a.build.clone(),
            ftm_url: a.ftm_url.clone(),
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
            push_relay_url: a.push.relay_url.clone(),
            push_timeout_secs: a.push.timeout_secs,
        }
    }
}

impl TryFrom<ApplianceRecordV1> for Appliance {
    type Error = anyhow::Error;

    fn try_from(r: ApplianceRecordV1) -> anyhow::Result<Appliance> {
        let mode = match r.mode.as_str() {
            "fortigate" => ApplianceMode::Fortigate,
            "fortiauthenticator" => ApplianceMode::Fortiauthenticator,
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
            ftm_url: r.ftm_url,
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
                relay_url: r.push_relay_url,
                timeout_secs: r.push_timeout_secs,
            },
        })
    }
}

impl TokenRecordV1 {
    fn new(token: &Token, sealed_seed: Option<String>) -> TokenRecordV1 {
        TokenRecordV1 {
            v: 1,
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

impl UserRecordV1 {
    fn new(user: &User) -> UserRecordV1 {
        UserRecordV1 {
            v: 1,
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

fn key(appliance: &ApplianceSerial, item: &str) -> Vec<u8> {
    [appliance.as_str().as_bytes(), b"\0", item.as_bytes()].concat()
}

fn prefix(appliance: &ApplianceSerial) -> Vec<u8> {
    [appliance.as_str().as_bytes(), b"\0"].concat()
}

impl Store {
    /// Opens the store in `<service_dir>/db` (temporary when `None`) with its seal key.
    pub fn open(service_dir: Option<&Path>) -> anyhow::Result<Store> {
        let key = SealKey::from_secret(
            &lab::store::data_secret(service_dir, "seal.key")?,
            "appliance token seed",
        );
        let db = lab::store::open_db(service_dir)?;
        Ok(Store {
            appliances: db.open_tree("appliances")?,
            tokens: db.open_tree("tokens")?,
            users: db.open_tree("users")?,
            db,
            key,
        })
    }

    async fn flush(&self) -> anyhow::Result<()> {
        lab::store::flush(&self.db)
            .await
            .context("flushing the appliance store")
    }

    /// Empties every tree for `POST /__admin/reset`, flushed before it returns; how many records went.
    pub async fn reset(&self) -> anyhow::Result<u64> {
        lab::store::reset(
            &self.db,
            vec![
                self.appliances.clone(),
                self.tokens.clone(),
                self.users.clone(),
            ],
        )
        .await
    }

    /// Adds an appliance; `false` if one with that serial exists.
    pub async fn create(&self, appliance: &Appliance) -> anyhow::Result<bool> {
        let record = encode_record(&ApplianceRecordV1::from(appliance));
        let created = self
            .appliances
            .compare_and_swap(
                appliance.serial.as_str(),
                None as Option<&[u8]>,
                Some(record),
            )?
            .is_ok();
        if created {
            self.flush().await?;
        }
        Ok(created)
    }

    pub async fn save(&self, appliance: &Appliance) -> anyhow::Result<()> {
        self.appliances.insert(
            appliance.serial.as_str(),
            encode_record(&ApplianceRecordV1::from(appliance)),
        )?;
        self.flush().await
    }

    pub fn appliance(&self, serial: &ApplianceSerial) -> anyhow::Result<Option<Appliance>> {
        self.appliances
            .get(serial.as_str())?
            .map(|b| decode_record::<ApplianceRecordV1>(&b, "an appliance record")?.try_into())
            .transpose()
    }

    pub fn appliances(&self) -> anyhow::Result<Vec<Appliance>> {
        self.appliances
            .iter()
            .values()
            .map(|b| decode_record::<ApplianceRecordV1>(&b?, "an appliance record")?.try_into())
            .collect()
    }

    pub fn tokens(&self, appliance: &ApplianceSerial) -> anyhow::Result<Vec<Token>> {
        self.tokens
            .scan_prefix(prefix(appliance))
            .values()
            .map(|b| decode_record::<TokenRecordV1>(&b?, "an appliance record")?.token())
            .collect()
    }

    pub fn users(&self, appliance: &ApplianceSerial) -> anyhow::Result<Vec<User>> {
        self.users
            .scan_prefix(prefix(appliance))
            .values()
            .map(|b| decode_record::<UserRecordV1>(&b?, "an appliance record")?.user())
            .collect()
    }

    /// Adds imported tokens that are not in the table yet (re-importing restores deleted tokens only), in
    /// one transaction.
    pub async fn add_imported(
        &self,
        appliance: &Appliance,
        imported: &[Token],
    ) -> anyhow::Result<()> {
        let records: Vec<(Vec<u8>, Vec<u8>)> = imported
            .iter()
            .map(|token| {
                (
                    key(&appliance.serial, token.serial.as_str()),
                    encode_record(&TokenRecordV1::new(token, None)),
                )
            })
            .collect();
        let result = self.tokens.transaction(|tokens| {
            for (key, record) in &records {
                if tokens.get(key)?.is_none() {
                    tokens.insert(key.as_slice(), record.as_slice())?;
                }
            }
            Ok::<(), Abort>(())
        });
        committed(result, "storing imported tokens")?;
        self.flush().await
    }

    /// Records a provisioned token, its new seed and its user (replacing the user's lockout state).
    pub async fn save_provisioned(
        &self,
        appliance: &ApplianceSerial,
        token: &Token,
        seed: &Seed,
    ) -> anyhow::Result<()> {
        let user_name = token
            .user
            .clone()
            .ok_or_else(|| anyhow!("a provisioned token has a user"))?;
        let sealed = seal(&self.key, rand::thread_rng().r#gen(), seed.as_bytes());
        let token_record = encode_record(&TokenRecordV1::new(
            token,
            Some(BASE64.encode(sealed.to_bytes())),
        ));
        let user = User {
            name: user_name.clone(),
            token: token.serial.clone(),
            lockout: Lockout::default(),
        };
        let user_record = encode_record(&UserRecordV1::new(&user));
        let result = (&self.tokens, &self.users).transaction(|(tokens, users)| {
            tokens.insert(key(appliance, token.serial.as_str()), token_record.clone())?;
            users.insert(key(appliance, &user_name), user_record.clone())?;
            Ok(())
        });
        committed(result, "appliance storage")?;
        self.flush().await
    }

    /// Applies a poll's answer to the tokens it named (their seeds stay).
    pub async fn save_polled(
        &self,
        appliance: &ApplianceSerial,
        polled: &[Token],
    ) -> anyhow::Result<()> {
        let result = self.tokens.transaction(|tokens| {
            for token in polled {
                let key = key(appliance, token.serial.as_str());
                let Some(old) = tokens.get(&key)? else {
                    continue;
                };
                let old: TokenRecordV1 =
                    decode_record(&old, "an appliance record").map_err(abort)?;
                tokens.insert(
                    key,
                    encode_record(&TokenRecordV1::new(token, old.sealed_seed)),
                )?;
            }
            Ok(())
        });
        committed(result, "appliance storage")?;
        self.flush().await
    }

    /// The user holding `token`, if any.
    pub fn holder(
        &self,
        appliance: &ApplianceSerial,
        token: &TokenSerial,
    ) -> anyhow::Result<Option<User>> {
        Ok(self
            .users(appliance)?
            .into_iter()
            .find(|u| &u.token == token))
    }

    pub fn user(&self, appliance: &ApplianceSerial, name: &str) -> anyhow::Result<Option<User>> {
        self.users
            .get(key(appliance, name))?
            .map(|b| decode_record::<UserRecordV1>(&b, "an appliance record")?.user())
            .transpose()
    }

    /// Clears a user's failures and lockout; `false` if there is no such user.
    pub async fn unlock(&self, appliance: &ApplianceSerial, name: &str) -> anyhow::Result<bool> {
        let Some(mut user) = self.user(appliance, name)? else {
            return Ok(false);
        };
        user.lockout = Lockout::default();
        self.users.insert(
            key(appliance, name),
            encode_record(&UserRecordV1::new(&user)),
        )?;
        self.flush().await?;
        Ok(true)
    }

    /// Checks a login: the OTP check and every state change it causes (replay guard, drift, failures,
    /// lockout, the token becoming Assigned) happen in one transaction, flushed before this returns.
    pub async fn login(
        &self,
        appliance: &Appliance,
        name: &str,
        otp: &str,
        now: UnixTime,
    ) -> anyhow::Result<LoginVerdict> {
        let result = (&self.tokens, &self.users).transaction(|(tokens, users)| {
            let user_key = key(&appliance.serial, name);
            let Some(user) = users.get(&user_key)? else {
                return Ok(LoginVerdict::UnknownUser);
            };
            let mut user = decode_record::<UserRecordV1>(&user, "an appliance record")
                .and_then(|r| r.user())
                .map_err(abort)?;
            if user.lockout.is_locked(now) {
                return Ok(LoginVerdict::Locked { user });
            }
            let token_key = key(&appliance.serial, user.token.as_str());
            let Some(record) = tokens.get(&token_key)? else {
                return Err(abort(anyhow!(
                    "user {name} holds {} which is not in the table",
                    user.token
                )));
            };
            let mut record: TokenRecordV1 =
                decode_record(&record, "an appliance record").map_err(abort)?;
            let mut token = record.token().map_err(abort)?;
            let verdict = match &record.sealed_seed {
                None => Verdict::Denied,
                Some(sealed) => {
                    let seed = self.unseal(sealed).map_err(abort)?;
                    auth::check(
                        seed.as_bytes(),
                        otp,
                        now,
                        token.timing,
                        &appliance.settings,
                        token.memory,
                    )
                }
            };
            match verdict {
                Verdict::Accepted { memory } => {
                    token.memory = memory;
                    token.status = FortiTokenStatus::Assigned;
                    token.activation_code = None;
                    user.lockout = Lockout::succeed();
                }
                Verdict::Resync { memory } => token.memory = memory,
                Verdict::Denied => user.lockout = user.lockout.fail(now, &appliance.settings),
                Verdict::Replayed { .. } => {}
            }
            let sealed = record.sealed_seed.take();
            tokens.insert(
                token_key,
                encode_record(&TokenRecordV1::new(&token, sealed)),
            )?;
            users.insert(user_key, encode_record(&UserRecordV1::new(&user)))?;
            Ok(LoginVerdict::Checked { verdict, user })
        });
        let verdict = committed(result, "appliance storage")?;
        self.flush().await?;
        Ok(verdict)
    }

    /// The seed of `token`, unsealed (for a push: the payload and callback keys derive from it).
    pub fn seed_of(
        &self,
        appliance: &ApplianceSerial,
        token: &TokenSerial,
    ) -> anyhow::Result<Option<Seed>> {
        let Some(bytes) = self.tokens.get(key(appliance, token.as_str()))? else {
            return Ok(None);
        };
        let record: TokenRecordV1 = decode_record(&bytes, "an appliance record")?;
        record
            .sealed_seed
            .map(|sealed| self.unseal(&sealed))
            .transpose()
    }

    /// Checks the OTP a phone sent with a push approval: it must be within the window, and the push
    /// session (answered once) is the replay guard. On success the token becomes Assigned, the step is
    /// remembered and the user's failures are cleared; a wrong code counts as a failed login. One
    /// transaction, flushed before it returns.
    pub async fn approve_push(
        &self,
        appliance: &Appliance,
        name: &str,
        otp: &str,
        now: UnixTime,
    ) -> anyhow::Result<bool> {
        let result = (&self.tokens, &self.users).transaction(|(tokens, users)| {
            let user_key = key(&appliance.serial, name);
            let Some(user) = users.get(&user_key)? else {
                return Ok(false);
            };
            let mut user = decode_record::<UserRecordV1>(&user, "an appliance record")
                .and_then(|r| r.user())
                .map_err(abort)?;
            let token_key = key(&appliance.serial, user.token.as_str());
            let Some(record) = tokens.get(&token_key)? else {
                return Ok(false);
            };
            let mut record: TokenRecordV1 =
                decode_record(&record, "an appliance record").map_err(abort)?;
            let mut token = record.token().map_err(abort)?;
            let Some(sealed) = record.sealed_seed.take() else {
                return Ok(false);
            };
            let seed = self.unseal(&sealed).map_err(abort)?;
            let unguarded = OtpMemory {
                last_step: None,
                sync_step: None,
                ..token.memory
            };
            let approved = match auth::check(
                seed.as_bytes(),
                otp,
                now,
                token.timing,
                &appliance.settings,
                unguarded,
            ) {
                Verdict::Accepted { memory } => {
                    token.memory.last_step = token.memory.last_step.max(memory.last_step);
                    token.status = FortiTokenStatus::Assigned;
                    token.activation_code = None;
                    user.lockout = Lockout::succeed();
                    true
                }
                _ => {
                    user.lockout = user.lockout.fail(now, &appliance.settings);
                    false
                }
            };
            tokens.insert(
                token_key,
                encode_record(&TokenRecordV1::new(&token, Some(sealed))),
            )?;
            users.insert(user_key, encode_record(&UserRecordV1::new(&user)))?;
            Ok(approved)
        });
        let approved = committed(result, "appliance storage")?;
        self.flush().await?;
        Ok(approved)
    }

    fn unseal(&self, sealed: &str) -> anyhow::Result<Seed> {
        let bytes = BASE64.decode(sealed).context("a sealed seed")?;
        let sealed = Sealed::from_bytes(&bytes).map_err(|e| anyhow!("a sealed seed: {e}"))?;
        let plain = open(&self.key, &sealed).map_err(|e| anyhow!("unsealing a seed: {e}"))?;
        Seed::from_bytes(&plain).map_err(|e| anyhow!("a sealed seed: {e}"))
    }
}

/// The appliances' records for `/__admin/state`: seeds stay sealed with `seal.key`, so this state imports
/// only where that key is the same.
impl lab::state::Snapshot for Store {
    fn db(&self) -> &sled::Db {
        &self.db
    }

    fn trees(&self) -> Vec<(&'static str, sled::Tree)> {
        vec![
            ("appliances", self.appliances.clone()),
            ("tokens", self.tokens.clone()),
            ("users", self.users.clone()),
        ]
    }

    fn key_id(&self) -> Option<String> {
        Some(lab::state::key_id(&self.key))
    }

    fn check(&self, tree: &str, key: &[u8], value: &[u8]) -> anyhow::Result<()> {
        if tree == "appliances" {
            let appliance: Appliance =
                decode_record::<ApplianceRecordV1>(value, "an appliance record")?.try_into()?;
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
        if tree == "tokens" {
            let record: TokenRecordV1 = decode_record(value, "a token record")?;
            let token = record.token()?;
            anyhow::ensure!(
                token.serial.as_str() == item,
                "token {} is stored under {item}",
                token.serial
            );
            if let Some(sealed) = &record.sealed_seed {
                self.unseal(sealed)?;
            }
        } else {
            let user = decode_record::<UserRecordV1>(value, "a user record")?.user()?;
            anyhow::ensure!(
                user.name == item,
                "user {} is stored under {item}",
                user.name
            );
        }
        Ok(())
    }

    fn check_whole(&self, incoming: &lab::state::Incoming) -> anyhow::Result<()> {
        let appliances = incoming.keys("appliances");
        for tree in ["tokens", "users"] {
            for (key, _) in incoming.records(tree) {
                let serial = key.split(|b| *b == 0).next().unwrap_or_default();
                anyhow::ensure!(
                    appliances.contains(serial),
                    "{tree} of `{}`, which is not in `appliances`",
                    String::from_utf8_lossy(serial)
                );
            }
        }
        Ok(())
    }
}
