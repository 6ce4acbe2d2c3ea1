//! The appliance service's tables for what this issue added, on the lab's storage toolkit:
//! `hardware_tokens` (`<appliance>\0<serial>` → the hardware token row, its seed sealed with the appliance
//! service's key), `hardware_users` (`<appliance>\0<user>` → the user a hardware token is assigned to, with
//! its lockout), and `profiles` (appliance serial → its firmware, FortiGuard and where it delivers activation
//! messages). Every change reads what it changes inside its one write transaction; a login (replay guard,
//! drift, failures) is one transaction, durable before it is answered.

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use lab::store::{Order, Reader, Record, Store, StoreError, Table, Tx, Version};
use protocol::appliance::ApplianceSettings;
use protocol::crypto::{SealKey, Sealed, open, seal};
use protocol::hardware::{HardwareAssignments, HardwareHolder, HoldersFuture};
use protocol::id::{ApplianceSerial, HardwareSerial};
use protocol::messages::MessagingSettings;
use protocol::seed::Seed;
use protocol::time::UnixTime;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::auth::{self, Lockout, OtpMemory, Verdict};
use crate::fortitoken::ServiceUrl;
use crate::hardware::{self, HARDWARE_TIMING, HardwareStatus, HardwareToken, SeedSource};

pub const HARDWARE_TOKENS: Table = Table::new("hardware_tokens");
pub const HARDWARE_USERS: Table = Table::new("hardware_users");
pub const PROFILES: Table = Table::new("profiles");

/// What a virtual appliance has besides its `appliances` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The firmware's full version (`7.4.9`).
    pub firmware: String,
    /// FortiGuard's token service (hardware activation).
    pub fortiguard_url: ServiceUrl,
    /// Where activation messages go: `None` for the suite's SMTP listener and SMS sink, looked up each time
    /// (as [`ServiceUrl::Suite`]), until they are changed for this appliance.
    pub messaging: Option<MessagingSettings>,
}

/// A user a hardware token is assigned to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HardwareUser {
    pub name: String,
    pub token: HardwareSerial,
    pub lockout: Lockout,
}

/// How a hardware login went: `None` from [`HardwareBook::login`] means the user has no hardware token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HardwareLogin {
    Locked(HardwareUser),
    Checked {
        verdict: Verdict,
        user: HardwareUser,
    },
}

/// Why an assignment was refused (nothing written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignRefusal {
    NoToken(String),
    Unusable(String),
    Taken(String),
}

#[derive(Serialize, Deserialize)]
struct TokenRecord {
    v: Version<1>,
    serial: String,
    status: String,
    user: Option<String>,
    source: Option<String>,
    /// Base64 of the sealed seed (iv ‖ ciphertext ‖ mac); absent for a token FortiGuard refused.
    sealed_seed: Option<String>,
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

#[derive(Serialize, Deserialize)]
struct ProfileRecord {
    v: Version<1>,
    firmware: String,
    /// Absent: the suite's.
    fortiguard_url: Option<String>,
    /// The messaging settings: all five, or none for the suite's.
    smtp_server: Option<String>,
    smtp_port: Option<u16>,
    smtp_security: Option<String>,
    sender: Option<String>,
    sms_gateway: Option<String>,
}

impl Record for TokenRecord {
    const KIND: &'static str = "an appliance hardware token record";
}
impl Record for UserRecord {
    const KIND: &'static str = "an appliance hardware user record";
}
impl Record for ProfileRecord {
    const KIND: &'static str = "an appliance profile record";
}

impl TokenRecord {
    fn new(token: &HardwareToken, sealed_seed: Option<String>) -> TokenRecord {
        TokenRecord {
            v: Version,
            serial: token.serial.to_string(),
            status: token.status.name().to_owned(),
            user: token.user.clone(),
            source: token.source.map(|s| s.name().to_owned()),
            sealed_seed,
            last_step: token.memory.last_step,
            drift_steps: token.memory.drift_steps,
            sync_step: token.memory.sync_step,
        }
    }

    fn token(&self) -> anyhow::Result<HardwareToken> {
        Ok(HardwareToken {
            serial: self.serial.parse()?,
            status: HardwareStatus::parse(&self.status)
                .with_context(|| format!("unknown hardware token status {}", self.status))?,
            user: self.user.clone(),
            source: match &self.source {
                Some(source) => Some(
                    SeedSource::parse(source)
                        .with_context(|| format!("unknown seed source {source}"))?,
                ),
                None => None,
            },
            memory: OtpMemory {
                last_step: self.last_step,
                drift_steps: self.drift_steps,
                sync_step: self.sync_step,
            },
        })
    }
}

impl UserRecord {
    fn new(user: &HardwareUser) -> UserRecord {
        UserRecord {
            v: Version,
            name: user.name.clone(),
            token: user.token.to_string(),
            failures: user.lockout.failures,
            locked_until: user.lockout.locked_until,
        }
    }

    fn user(&self) -> anyhow::Result<HardwareUser> {
        Ok(HardwareUser {
            name: self.name.clone(),
            token: self.token.parse()?,
            lockout: Lockout {
                failures: self.failures,
                locked_until: self.locked_until,
            },
        })
    }
}

/// The profile of `appliance`, read inside a transaction (`None`: it has none yet).
pub(crate) fn read_profile(
    r: &mut impl Reader,
    appliance: &ApplianceSerial,
) -> Result<Option<Profile>, StoreError> {
    r.record::<ProfileRecord>(PROFILES, appliance.as_str().as_bytes())?
        .map(ProfileRecord::profile)
        .transpose()
}

/// Writes the profile of `appliance` inside a transaction.
pub(crate) fn write_profile(
    tx: &mut Tx<'_>,
    appliance: &ApplianceSerial,
    profile: &Profile,
) -> Result<(), StoreError> {
    tx.put(
        PROFILES,
        appliance.as_str().as_bytes(),
        &ProfileRecord::new(profile),
    )
}

impl ProfileRecord {
    fn new(profile: &Profile) -> ProfileRecord {
        let messaging = profile.messaging.as_ref();
        ProfileRecord {
            v: Version,
            firmware: profile.firmware.clone(),
            fortiguard_url: profile.fortiguard_url.stored(),
            smtp_server: messaging.map(|m| m.smtp_server.clone()),
            smtp_port: messaging.map(|m| m.smtp_port),
            smtp_security: messaging.map(|m| m.smtp_security.clone()),
            sender: messaging.map(|m| m.sender.clone()),
            sms_gateway: messaging.map(|m| m.sms_gateway.clone()),
        }
    }

    fn profile(self) -> Result<Profile, StoreError> {
        let messaging = match (
            self.smtp_server,
            self.smtp_port,
            self.smtp_security,
            self.sender,
            self.sms_gateway,
        ) {
            (None, None, None, None, None) => None,
            (
                Some(smtp_server),
                Some(smtp_port),
                Some(smtp_security),
                Some(sender),
                Some(sms_gateway),
            ) => Some(MessagingSettings {
                smtp_server,
                smtp_port,
                smtp_security,
                sender,
                sms_gateway,
            }),
            _ => {
                return Err(StoreError::corrupt(
                    "an appliance profile record has some of the messaging settings but not all five",
                ));
            }
        };
        Ok(Profile {
            firmware: self.firmware,
            fortiguard_url: ServiceUrl::given(self.fortiguard_url.as_deref()),
            messaging,
        })
    }
}

fn key(appliance: &ApplianceSerial, item: &str) -> Vec<u8> {
    [appliance.as_str().as_bytes(), b"\0", item.as_bytes()].concat()
}

fn prefix(appliance: &ApplianceSerial) -> Vec<u8> {
    [appliance.as_str().as_bytes(), b"\0"].concat()
}

fn corrupt(what: &'static str) -> impl Fn(anyhow::Error) -> StoreError {
    move |e| StoreError::corrupt(format!("{what}: {e:#}"))
}

fn unseal(key: &SealKey, sealed: &str) -> anyhow::Result<Seed> {
    let bytes = BASE64.decode(sealed).context("a sealed seed")?;
    let sealed = Sealed::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("a sealed seed: {e}"))?;
    let plain = open(key, &sealed).map_err(|e| anyhow::anyhow!("unsealing a seed: {e}"))?;
    Seed::from_bytes(&plain).map_err(|e| anyhow::anyhow!("a sealed seed: {e}"))
}

fn read_token(
    r: &mut impl Reader,
    key: &[u8],
) -> Result<Option<(TokenRecord, HardwareToken)>, StoreError> {
    r.record::<TokenRecord>(HARDWARE_TOKENS, key)?
        .map(|record| {
            let token = record
                .token()
                .map_err(corrupt("an appliance hardware token record"))?;
            Ok((record, token))
        })
        .transpose()
}

fn read_user(r: &mut impl Reader, key: &[u8]) -> Result<Option<HardwareUser>, StoreError> {
    r.record::<UserRecord>(HARDWARE_USERS, key)?
        .map(|record| {
            record
                .user()
                .map_err(corrupt("an appliance hardware user record"))
        })
        .transpose()
}

/// The hardware token `user` of `appliance` holds, read in the caller's transaction (a provisioning of a
/// FortiToken Mobile token refuses such a user in the same transaction that would give it one).
pub(crate) fn held_by(
    r: &mut impl Reader,
    appliance: &ApplianceSerial,
    user: &str,
) -> Result<Option<HardwareSerial>, StoreError> {
    Ok(read_user(r, &key(appliance, user))?.map(|held| held.token))
}

/// The hardware tokens, their users and the appliances' profiles; cheap to clone. It shares the appliance
/// service's store and seal key.
#[derive(Clone)]
pub struct HardwareBook {
    store: Store,
    key: SealKey,
}

impl HardwareBook {
    pub fn new(store: Store, key: SealKey) -> HardwareBook {
        HardwareBook { store, key }
    }

    pub fn tokens(&self, appliance: &ApplianceSerial) -> Result<Vec<HardwareToken>, StoreError> {
        self.store.read(|r| {
            r.scan(HARDWARE_TOKENS, &prefix(appliance), Order::Ascending, None)?
                .iter()
                .map(|(_, bytes)| {
                    lab::store::decode::<TokenRecord>(bytes)?
                        .token()
                        .map_err(corrupt("an appliance hardware token record"))
                })
                .collect()
        })
    }

    /// Stores what an activation or a seed file brought, in one transaction: each row with its seed (or
    /// none, for a refusal), unless a user has the token already ([`hardware::replaceable`]). Returns the
    /// rows as they stand after.
    pub async fn save(
        &self,
        appliance: &ApplianceSerial,
        rows: Vec<(HardwareToken, Option<Seed>)>,
    ) -> Result<Vec<HardwareToken>, StoreError> {
        let appliance = appliance.clone();
        let seal_key = self.key.clone();
        self.store
            .write(move |tx| {
                let mut after = Vec::with_capacity(rows.len());
                let mut rng = rand::thread_rng();
                for (token, seed) in &rows {
                    let key = key(&appliance, token.serial.as_str());
                    let current = read_token(tx, &key)?;
                    if !hardware::replaceable(current.as_ref().map(|(_, t)| t)) {
                        after.extend(current.map(|(_, t)| t));
                        continue;
                    }
                    let sealed = seed.as_ref().map(|seed| {
                        BASE64.encode(seal(&seal_key, rng.r#gen(), seed.as_bytes()).to_bytes())
                    });
                    tx.put(HARDWARE_TOKENS, &key, &TokenRecord::new(token, sealed))?;
                    after.push(token.clone());
                }
                let saved: Vec<HardwareSerial> = after.iter().map(|t| t.serial.clone()).collect();
                crate::fac_store::on_hardware_saved(tx, &appliance, &saved)?;
                Ok(after)
            })
            .await
    }

    /// Assigns `wanted` (a serial or `any`) to `user` (Available → Assigned), in one transaction. A user who
    /// has a FortiToken Mobile token (the `users` table) or another hardware token is refused.
    pub async fn assign(
        &self,
        appliance: &ApplianceSerial,
        wanted: String,
        user: String,
    ) -> Result<Result<HardwareToken, AssignRefusal>, StoreError> {
        let appliance = appliance.clone();
        self.store
            .write(move |tx| {
                let tokens: Vec<HardwareToken> = tx
                    .scan(HARDWARE_TOKENS, &prefix(&appliance), Order::Ascending, None)?
                    .iter()
                    .map(|(_, bytes)| {
                        lab::store::decode::<TokenRecord>(bytes)?
                            .token()
                            .map_err(corrupt("an appliance hardware token record"))
                    })
                    .collect::<Result<_, _>>()?;
                let Some(token) = hardware::pick(&tokens, &wanted).cloned() else {
                    return Ok(Err(AssignRefusal::NoToken(format!(
                        "no hardware token `{}` on {appliance} (activate one or import a seed file first)",
                        wanted.trim().chars().take(40).collect::<String>()
                    ))));
                };
                if !token.status.usable() {
                    return Ok(Err(AssignRefusal::Unusable(format!(
                        "{} has no seed: {}",
                        token.serial,
                        token.status.diag()
                    ))));
                }
                if let Some(holder) = token.user.as_ref().filter(|u| **u != user) {
                    return Ok(Err(AssignRefusal::Taken(format!(
                        "{} is assigned to {holder}",
                        token.serial
                    ))));
                }
                let user_key = key(&appliance, &user);
                if tx.contains(crate::store::USERS, &user_key)? {
                    return Ok(Err(AssignRefusal::Taken(format!(
                        "{user} already has a FortiToken Mobile token"
                    ))));
                }
                if let Some(held) = read_user(tx, &user_key)?.filter(|u| u.token != token.serial) {
                    return Ok(Err(AssignRefusal::Taken(format!(
                        "{user} already has hardware token {}",
                        held.token
                    ))));
                }
                let assigned = token.assigned(&user);
                let token_key = key(&appliance, token.serial.as_str());
                let Some((record, _)) = read_token(tx, &token_key)? else {
                    return Err(StoreError::internal("a picked hardware token vanished"));
                };
                tx.put(
                    HARDWARE_TOKENS,
                    &token_key,
                    &TokenRecord::new(&assigned, record.sealed_seed),
                )?;
                let holder = HardwareUser {
                    name: user.clone(),
                    token: assigned.serial.clone(),
                    lockout: Lockout::default(),
                };
                tx.put(HARDWARE_USERS, &user_key, &UserRecord::new(&holder))?;
                Ok(Ok(assigned))
            })
            .await
    }

    pub fn user(
        &self,
        appliance: &ApplianceSerial,
        name: &str,
    ) -> Result<Option<HardwareUser>, StoreError> {
        self.store.read(|r| read_user(r, &key(appliance, name)))
    }

    /// Checks a login with a hardware token's code, in one transaction (replay guard, drift, failures and
    /// lockout together). `None`: the user has no hardware token.
    pub async fn login(
        &self,
        appliance: &ApplianceSerial,
        settings: ApplianceSettings,
        name: &str,
        otp: &str,
        now: UnixTime,
    ) -> Result<Option<HardwareLogin>, StoreError> {
        let seal_key = self.key.clone();
        let appliance = appliance.clone();
        let name = name.to_owned();
        let otp = otp.to_owned();
        self.store
            .write(move |tx| {
                let user_key = key(&appliance, &name);
                let Some(mut user) = read_user(tx, &user_key)? else {
                    return Ok(None);
                };
                if user.lockout.is_locked(now) {
                    return Ok(Some(HardwareLogin::Locked(user)));
                }
                let token_key = key(&appliance, user.token.as_str());
                let Some((mut record, mut token)) = read_token(tx, &token_key)? else {
                    return Err(StoreError::corrupt(format!(
                        "user {name} holds {} which is not in the table",
                        user.token
                    )));
                };
                let verdict = match &record.sealed_seed {
                    None => Verdict::Denied,
                    Some(sealed) => {
                        let seed = unseal(&seal_key, sealed).map_err(corrupt("a sealed seed"))?;
                        auth::check(
                            seed.as_bytes(),
                            &otp,
                            now,
                            HARDWARE_TIMING,
                            &settings,
                            token.memory,
                        )
                    }
                };
                match verdict {
                    Verdict::Accepted { memory } => {
                        token.memory = memory;
                        user.lockout = Lockout::succeed();
                    }
                    Verdict::Resync { memory } => token.memory = memory,
                    Verdict::Denied => user.lockout = user.lockout.fail(now, &settings),
                    Verdict::Replayed { .. } => {}
                }
                let sealed = record.sealed_seed.take();
                tx.put(
                    HARDWARE_TOKENS,
                    &token_key,
                    &TokenRecord::new(&token, sealed),
                )?;
                tx.put(HARDWARE_USERS, &user_key, &UserRecord::new(&user))?;
                Ok(Some(HardwareLogin::Checked { verdict, user }))
            })
            .await
    }

    /// Which appliance has each of `serials` assigned to which user (what TAC asks before a lock reset);
    /// a token nobody has is left out. One read of every hardware user.
    pub fn holders(&self, serials: &[HardwareSerial]) -> Result<Vec<HardwareHolder>, StoreError> {
        let wanted: std::collections::HashSet<&HardwareSerial> = serials.iter().collect();
        self.store.read(|r| {
            let mut holders = Vec::new();
            for (key, bytes) in r.scan(HARDWARE_USERS, b"", Order::Ascending, None)? {
                let user = lab::store::decode::<UserRecord>(&bytes)?
                    .user()
                    .map_err(corrupt("an appliance hardware user record"))?;
                if !wanted.contains(&user.token) {
                    continue;
                }
                let appliance = std::str::from_utf8(&key)
                    .ok()
                    .and_then(|k| k.split_once('\0'))
                    .and_then(|(appliance, _)| appliance.parse::<ApplianceSerial>().ok())
                    .ok_or_else(|| {
                        StoreError::corrupt("a hardware user key without an appliance")
                    })?;
                holders.push(HardwareHolder {
                    serial: user.token,
                    appliance,
                    user: user.name,
                });
            }
            Ok(holders)
        })
    }

    /// The appliance's profile, if it has one (appliances created before profiles have none).
    pub fn profile(&self, appliance: &ApplianceSerial) -> Result<Option<Profile>, StoreError> {
        self.store.read(|r| read_profile(r, appliance))
    }

    pub async fn save_profile(
        &self,
        appliance: &ApplianceSerial,
        profile: &Profile,
    ) -> Result<(), StoreError> {
        let (appliance, profile) = (appliance.clone(), profile.clone());
        self.store
            .write(move |tx| write_profile(tx, &appliance, &profile))
            .await
    }

    /// Changes the appliance's profile in one transaction (`change` gets the current one, or `default`).
    pub async fn update_profile<E: Send + 'static>(
        &self,
        appliance: &ApplianceSerial,
        default: Profile,
        change: impl FnOnce(&mut Profile) -> Result<(), E> + Send + 'static,
    ) -> Result<Result<Profile, E>, StoreError> {
        let appliance = appliance.clone();
        self.store
            .write(move |tx| {
                let mut profile = read_profile(tx, &appliance)?.unwrap_or(default);
                if let Err(e) = change(&mut profile) {
                    return Ok(Err(e));
                }
                write_profile(tx, &appliance, &profile)?;
                Ok(Ok(profile))
            })
            .await
    }

    /// Deletes one hardware token that no user holds, with its FAC facts, in one transaction: `Ok(false)`
    /// when there is no such token, the holder's name when a user has it.
    pub async fn delete(
        &self,
        appliance: &ApplianceSerial,
        token: &HardwareSerial,
    ) -> Result<Result<bool, String>, StoreError> {
        let token_key = key(appliance, token.as_str());
        self.store
            .write(move |tx| {
                let Some((_, current)) = read_token(tx, &token_key)? else {
                    return Ok(Ok(false));
                };
                if let Some(user) = current.user {
                    return Ok(Err(user));
                }
                tx.remove(HARDWARE_TOKENS, &token_key)?;
                tx.remove(crate::fac_store::FAC_TOKENS, &token_key)?;
                Ok(Ok(true))
            })
            .await
    }

    /// Removes an appliance's hardware tokens, users and profile, inside the transaction removing it.
    pub fn remove_all(tx: &mut Tx<'_>, appliance: &ApplianceSerial) -> Result<(), StoreError> {
        for table in [HARDWARE_TOKENS, HARDWARE_USERS] {
            for (key, _) in tx.scan(table, &prefix(appliance), Order::Ascending, None)? {
                tx.remove(table, &key)?;
            }
        }
        tx.remove(PROFILES, appliance.as_str().as_bytes())?;
        Ok(())
    }

    /// Checks one record of a state being imported; `None` for another table.
    pub fn check_record(
        &self,
        table: Table,
        key: &[u8],
        value: &[u8],
    ) -> Option<anyhow::Result<()>> {
        if table == PROFILES {
            return Some((|| {
                std::str::from_utf8(key)?.parse::<ApplianceSerial>()?;
                lab::store::decode::<ProfileRecord>(value)?.profile()?;
                Ok(())
            })());
        }
        if table != HARDWARE_TOKENS && table != HARDWARE_USERS {
            return None;
        }
        Some((|| {
            let (serial, item) = std::str::from_utf8(key)
                .ok()
                .and_then(|k| k.split_once('\0'))
                .context("the key is <appliance serial>\\0<token or user>")?;
            serial.parse::<ApplianceSerial>()?;
            if table == HARDWARE_TOKENS {
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
        })())
    }

    /// The tables whose keys start with an appliance serial, for `check_state`.
    pub const PER_APPLIANCE: [Table; 2] = [HARDWARE_TOKENS, HARDWARE_USERS];
}

/// The appliance service's own answer, when forticare runs in the same process (`fortimock up`).
impl HardwareAssignments for HardwareBook {
    fn holders<'a>(&'a self, serials: &'a [HardwareSerial]) -> HoldersFuture<'a> {
        Box::pin(async move { HardwareBook::holders(self, serials).map_err(|e| e.to_string()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: &str) -> ProfileRecord {
        lab::store::decode::<ProfileRecord>(json.as_bytes()).unwrap()
    }

    #[test]
    fn a_profile_written_before_it_could_follow_the_suite_keeps_its_addresses() {
        let profile = record(
            r#"{"v":1,"firmware":"7.4.9","fortiguard_url":"https://127.0.0.1:8440","smtp_server":"127.0.0.1","smtp_port":2525,"smtp_security":"starttls","sender":"a@b.c","sms_gateway":"https://127.0.0.1:8446/sms"}"#,
        )
        .profile()
        .unwrap();
        assert_eq!(
            profile.fortiguard_url,
            ServiceUrl::Set("https://127.0.0.1:8440".to_owned())
        );
        assert_eq!(profile.messaging.map(|m| m.smtp_port), Some(2525));
    }

    #[test]
    fn a_profile_that_follows_the_suite_keeps_no_address_and_reads_back_the_same() {
        let profile = Profile {
            firmware: "7.4.9".to_owned(),
            fortiguard_url: ServiceUrl::Suite,
            messaging: None,
        };
        let text = serde_json::to_string(&ProfileRecord::new(&profile)).unwrap();
        assert!(!text.contains("127.0.0.1"), "{text}");
        assert_eq!(record(&text).profile().unwrap(), profile);
    }

    #[test]
    fn a_profile_with_some_messaging_settings_but_not_all_is_corrupt() {
        let refused = record(
            r#"{"v":1,"firmware":"7.4.9","fortiguard_url":null,"smtp_server":"127.0.0.1","smtp_port":25,"smtp_security":null,"sender":null,"sms_gateway":null}"#,
        )
        .profile()
        .unwrap_err();
        assert!(refused.to_string().contains("messaging"), "{refused}");
    }
}
