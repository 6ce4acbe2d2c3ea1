//! What the FortiToken Mobile app keeps on the phone, kept the way the Android app keeps it (dossier 3.6):
//! a random install UUID in the `UUID` preference, encrypted under `uuid_key` (the SSAID and the
//! `SerialNumberPreAndroid9` preference), and one `Account` row per token whose `seed` column is the seed
//! encrypted under `uuid_key ‖ uuid`. OTPs are computed by decrypting that chain, as the app does, so a
//! plain seed never rests on the virtual phone. The export shows the preferences and rows under the app's
//! own names, for tools that read real app data.

use std::fmt;

use protocol::device_storage::{self, DeviceStorageError, SERIAL_PRE_ANDROID9};
use protocol::id::{MobileId, TokenSerial};
use protocol::otp::{self, OtpKind};
use protocol::phone::{OtpView, PhoneTokenView, PhoneView};
use protocol::seed::Seed;
use protocol::time::UnixTime;
use rand::Rng;
use serde::Serialize;

use crate::device::{Identity, random_uuid_hex};

/// What the app's `AllowWarnDenyInvalidCert` preference held in the public sample.
const ALLOW_INVALID_CERT: &str = "allow";

/// A token as the provisioning server delivered it, before the app stores it. `Debug` hides the seed.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub serial: TokenSerial,
    pub seed: Seed,
    /// How to compute the token's codes: `kind`, `period` and `digits` come from the flag byte of the code
    /// the user typed or scanned, not from the answer, which has no field for them
    /// (`modeled::otp_from_wire`).
    pub kind: OtpKind,
    pub period: u32,
    pub digits: u32,
    /// The HOTP counter of the first code: the answer's `counter`.
    pub counter: u64,
    /// The provisioning appliance's serial.
    pub issuer: String,
    pub image_file: String,
    pub pin_required: String,
    pub pin_length: i64,
    pub pin_required_type: i64,
}

/// One row of the app's `Account` table.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// `_id`, the row id.
    pub id: u64,
    pub serial: TokenSerial,
    /// `name`: `FortiToken` and the serial's last four characters.
    pub name: String,
    pub kind: OtpKind,
    /// `seed`: the seed's hex digits encrypted under `uuid_key ‖ uuid`, Base64.
    pub seed: String,
    pub issuer: String,
    pub period: u32,
    pub digits: u32,
    /// The HOTP counter of the code the app shows now.
    pub counter: u64,
    pub image_file: String,
    pub pin_required: String,
    pub pin_length: i64,
    pub pin_required_type: i64,
    /// `activation_timeStamp`: the phone's clock at activation, in milliseconds.
    pub activated_ms: i64,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("serial", &self.serial)
            .field("kind", &self.kind)
            .field("seed", &"<encrypted>")
            .field("period", &self.period)
            .field("digits", &self.digits)
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

impl Account {
    /// What `GET /phones/{id}` shows of this token.
    pub fn view(&self) -> PhoneTokenView {
        PhoneTokenView {
            serial: self.serial.clone(),
            name: self.name.clone(),
            issuer: self.issuer.clone(),
            kind: self.kind.as_str().to_owned(),
            period: self.period,
            digits: self.digits,
            activated: UnixTime::from_secs(self.activated_ms.div_euclid(1000)),
        }
    }

    /// The code the app shows at `phone_time` (the phone's own clock): TOTP of that time, or HOTP at the
    /// stored counter.
    pub fn otp(&self, seed: &Seed, phone_time: UnixTime) -> OtpView {
        let (code, valid_for_secs) = match self.kind {
            OtpKind::Totp => {
                let period = self.period.max(1);
                let into_step = phone_time.secs().rem_euclid(i64::from(period));
                let left = u32::try_from(i64::from(period) - into_step).unwrap_or(period);
                (
                    otp::totp(seed.as_bytes(), phone_time.secs(), period, self.digits),
                    Some(left),
                )
            }
            OtpKind::Hotp => (otp::hotp(seed.as_bytes(), self.counter, self.digits), None),
        };
        OtpView {
            token: self.serial.clone(),
            otp: code,
            kind: self.kind.as_str().to_owned(),
            period: self.period,
            digits: self.digits,
            at: phone_time,
            valid_for_secs,
        }
    }
}

/// Which token a request means, when it may leave the token out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PickError {
    #[error("the phone has no tokens: activate one first")]
    NoTokens,
    #[error("the phone has no token {0}")]
    NotFound(TokenSerial),
    #[error("the phone has {} tokens ({}): say which with ?token=", .0.len(), list(.0))]
    Ambiguous(Vec<TokenSerial>),
}

fn list(serials: &[TokenSerial]) -> String {
    serials
        .iter()
        .map(TokenSerial::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Everything the app keeps on one phone.
#[derive(Clone, PartialEq, Eq)]
pub struct AppData {
    /// The `UUID` preference: the install UUID encrypted under `uuid_key`, Base64.
    pub uuid_pref: String,
    /// The `_id` the next new account gets.
    pub next_account_id: u64,
    /// The `Account` rows, in the order the app lists them.
    pub accounts: Vec<Account>,
}

impl fmt::Debug for AppData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppData")
            .field("uuid_pref", &"<encrypted>")
            .field("accounts", &self.accounts)
            .finish_non_exhaustive()
    }
}

/// `uuid_key` of a phone: its `mobile_id` (the SSAID on Android) followed by `unknown`, from the
/// `SerialNumberPreAndroid9` preference every public sample shows.
pub fn uuid_key(mobile_id: &MobileId) -> String {
    device_storage::uuid_key(mobile_id.as_str(), SERIAL_PRE_ANDROID9)
}

impl AppData {
    /// A fresh install on the phone `mobile_id`: a new random install UUID and no accounts.
    pub fn install(mobile_id: &MobileId, rng: &mut impl Rng) -> AppData {
        AppData {
            uuid_pref: device_storage::encrypt_uuid(&uuid_key(mobile_id), &random_uuid_hex(rng)),
            next_account_id: 1,
            accounts: Vec::new(),
        }
    }

    pub fn token_views(&self) -> Vec<PhoneTokenView> {
        self.accounts.iter().map(Account::view).collect()
    }

    pub fn serials(&self) -> Vec<TokenSerial> {
        self.accounts.iter().map(|a| a.serial.clone()).collect()
    }

    /// The account of `serial`, or the only account when `serial` is `None`.
    pub fn pick(&self, serial: Option<&TokenSerial>) -> Result<&Account, PickError> {
        match serial {
            Some(serial) => self
                .accounts
                .iter()
                .find(|a| &a.serial == serial)
                .ok_or_else(|| PickError::NotFound(serial.clone())),
            None => match self.accounts.as_slice() {
                [] => Err(PickError::NoTokens),
                [only] => Ok(only),
                _ => Err(PickError::Ambiguous(self.serials())),
            },
        }
    }

    pub fn account_mut(&mut self, serial: &TokenSerial) -> Option<&mut Account> {
        self.accounts.iter_mut().find(|a| &a.serial == serial)
    }

    /// The install UUID, decrypted from the `UUID` preference.
    fn uuid(&self, mobile_id: &MobileId) -> Result<String, DeviceStorageError> {
        device_storage::decrypt_uuid(&uuid_key(mobile_id), &self.uuid_pref)
    }

    /// Stores a delivered token as the app does, replacing the account of the same serial if there is one
    /// (it keeps its row id and place). `activated_ms` is the phone's clock.
    pub fn store(
        &mut self,
        mobile_id: &MobileId,
        delivered: &Delivered,
        activated_ms: i64,
    ) -> Result<Account, DeviceStorageError> {
        let uuid = self.uuid(mobile_id)?;
        let existing = self
            .accounts
            .iter()
            .position(|a| a.serial == delivered.serial);
        let id = match existing {
            Some(index) => self.accounts[index].id,
            None => {
                let id = self.next_account_id;
                self.next_account_id = id.saturating_add(1);
                id
            }
        };
        let account = Account {
            id,
            serial: delivered.serial.clone(),
            name: format!("FortiToken {}", delivered.serial.short()),
            kind: delivered.kind,
            seed: device_storage::encrypt_seed(&uuid_key(mobile_id), &uuid, &delivered.seed),
            issuer: delivered.issuer.clone(),
            period: delivered.period,
            digits: delivered.digits,
            counter: delivered.counter,
            image_file: delivered.image_file.clone(),
            pin_required: delivered.pin_required.clone(),
            pin_length: delivered.pin_length,
            pin_required_type: delivered.pin_required_type,
            activated_ms,
        };
        match existing {
            Some(index) => self.accounts[index] = account.clone(),
            None => self.accounts.push(account.clone()),
        }
        Ok(account)
    }

    /// Removes the account of `serial`; whether there was one.
    pub fn remove(&mut self, serial: &TokenSerial) -> bool {
        let before = self.accounts.len();
        self.accounts.retain(|a| &a.serial != serial);
        self.accounts.len() != before
    }

    /// The seed of `account`, decrypted the way the app decrypts it.
    pub fn seed_of(
        &self,
        mobile_id: &MobileId,
        account: &Account,
    ) -> Result<Seed, DeviceStorageError> {
        let uuid = self.uuid(mobile_id)?;
        device_storage::decrypt_seed(&uuid_key(mobile_id), &uuid, &account.seed)
    }

    /// The app's data under its own names, with the phone's view.
    pub fn export(&self, identity: &Identity, device: PhoneView) -> AppExport {
        AppExport {
            shared_prefs: SharedPrefs {
                uuid: self.uuid_pref.clone(),
                serial_number_pre_android9: SERIAL_PRE_ANDROID9.to_owned(),
                firebase_id: identity.registration_id.clone(),
                stored_version_code: version_code(&identity.build),
                allow_warn_deny_invalid_cert: ALLOW_INVALID_CERT.to_owned(),
            },
            accounts: self
                .accounts
                .iter()
                .enumerate()
                .map(|(position, account)| AccountRow {
                    id: account.id,
                    is_default: u8::from(position == 0),
                    name: account.name.clone(),
                    comments: account.serial.to_string(),
                    kind: account.kind.as_str().to_owned(),
                    seed: account.seed.clone(),
                    otp_issuer: account.issuer.clone(),
                    otp_period: account.period,
                    digits: account.digits,
                    counter: account.counter,
                    ftm_sn: account.serial.to_string(),
                    image_file: account.image_file.clone(),
                    position,
                    pin_required: account.pin_required.clone(),
                    pin_length: account.pin_length,
                    pin_required_type: account.pin_required_type,
                    activation_timestamp: account.activated_ms,
                    is_hiddn: 0,
                    entered_manually: 0,
                })
                .collect(),
            device,
        }
    }
}

/// `StoredVersionCode` for a build `a.b.c.d`: `a` then `b` and `c` in two digits and `d` in four, which is
/// how the public sample's 503030086 reads as 5.3.3.0086 (inferred). 4.9.9.0009 gives 409090009.
pub fn version_code(build: &str) -> u64 {
    let parts: Vec<u64> = build
        .split('.')
        .map(|part| part.parse().unwrap_or(0))
        .chain(std::iter::repeat(0))
        .take(4)
        .collect();
    [100_000_000u64, 1_000_000, 10_000, 1]
        .iter()
        .zip(&parts)
        .fold(0u64, |code, (scale, part)| {
            code.saturating_add(scale.saturating_mul(*part))
        })
}

/// `GET /phones/{id}/export`: the phone's app data as the Android app stores it (shared preferences and the
/// `Account` table of `FortiToken.db`), and the phone's view. Secrets appear only encrypted, as on a phone;
/// as the encryption is keyed by the `mobile_id`, which the export also shows, none of these types is `Debug`.
#[derive(Clone, Serialize)]
pub struct AppExport {
    pub shared_prefs: SharedPrefs,
    pub accounts: Vec<AccountRow>,
    pub device: PhoneView,
}

/// `shared_prefs/FortiToken_SharedPrefs_NAME.xml`, the preferences fortimock models.
#[derive(Clone, Serialize)]
pub struct SharedPrefs {
    #[serde(rename = "UUID")]
    pub uuid: String,
    #[serde(rename = "SerialNumberPreAndroid9")]
    pub serial_number_pre_android9: String,
    /// The push registration id (an APNs token on a virtual iPhone).
    #[serde(rename = "FirebaseId")]
    pub firebase_id: String,
    #[serde(rename = "StoredVersionCode")]
    pub stored_version_code: u64,
    #[serde(rename = "AllowWarnDenyInvalidCert")]
    pub allow_warn_deny_invalid_cert: String,
}

/// One row of the `Account` table, under the app's column names.
#[derive(Clone, Serialize)]
pub struct AccountRow {
    #[serde(rename = "_id")]
    pub id: u64,
    pub is_default: u8,
    pub name: String,
    /// The token serial.
    pub comments: String,
    /// `totp` or `hotp`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Encrypted, as the app stores it.
    pub seed: String,
    pub otp_issuer: String,
    pub otp_period: u32,
    pub digits: u32,
    pub counter: u64,
    pub ftm_sn: String,
    pub image_file: String,
    pub position: usize,
    pub pin_required: String,
    pub pin_length: i64,
    pub pin_required_type: i64,
    /// Milliseconds since the epoch, by the phone's clock.
    #[serde(rename = "activation_timeStamp")]
    pub activation_timestamp: i64,
    pub is_hiddn: u8,
    pub entered_manually: u8,
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::phone::{NewPhone, Platform};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const SEED: &str = "a84e2caad3bcea970e05dc1a9b7bd2d562622f4a";

    fn identity() -> Identity {
        crate::device::identity(
            &NewPhone {
                mobile_id: Some("e248e1e9527f20ff".parse().unwrap()),
                ..NewPhone::default()
            },
            &mut StdRng::seed_from_u64(1),
        )
        .unwrap()
    }

    fn delivered(serial: &str, kind: OtpKind, period: u32, digits: u32) -> Delivered {
        Delivered {
            serial: serial.parse().unwrap(),
            seed: Seed::from_hex(SEED).unwrap(),
            kind,
            period,
            digits,
            counter: 1,
            issuer: "FGVM01TM00000001".into(),
            image_file: String::new(),
            pin_required: "N".into(),
            pin_length: 0,
            pin_required_type: 0,
        }
    }

    #[test]
    fn seeds_are_stored_encrypted_the_way_the_app_does() {
        let identity = identity();
        let mut app = AppData::install(&identity.mobile_id, &mut StdRng::seed_from_u64(2));
        let key = uuid_key(&identity.mobile_id);
        assert_eq!(key, "e248e1e9527f20ffunknown");
        let uuid = device_storage::decrypt_uuid(&key, &app.uuid_pref).unwrap();
        assert_eq!(uuid.len(), 32);
        let account = app
            .store(
                &identity.mobile_id,
                &delivered("FTKMOB382EAF4FFC", OtpKind::Totp, 60, 6),
                1_700_000_000_123,
            )
            .unwrap();
        assert_eq!(account.name, "FortiToken 4FFC");
        assert!(!account.seed.to_lowercase().contains(SEED));
        assert_eq!(
            device_storage::decrypt_seed(&key, &uuid, &account.seed)
                .unwrap()
                .to_hex_lower(),
            SEED
        );
        assert_eq!(
            app.seed_of(&identity.mobile_id, &account)
                .unwrap()
                .to_hex_lower(),
            SEED
        );
        let debug = format!("{app:?}");
        assert!(!debug.contains(&account.seed) && !debug.contains(&app.uuid_pref));
        assert_eq!(account.view().activated, UnixTime::from_secs(1_700_000_000));
    }

    #[test]
    fn activating_a_token_again_replaces_its_account() {
        let identity = identity();
        let mut app = AppData::install(&identity.mobile_id, &mut StdRng::seed_from_u64(3));
        let first = delivered("FTKMOB382EAF4FFC", OtpKind::Totp, 60, 6);
        let second = delivered("FTKMOB947FDC1754", OtpKind::Totp, 60, 6);
        app.store(&identity.mobile_id, &first, 1).unwrap();
        app.store(&identity.mobile_id, &second, 2).unwrap();
        let mut again = first.clone();
        again.digits = 8;
        app.store(&identity.mobile_id, &again, 3).unwrap();
        let rows: Vec<(u64, &str, u32)> = app
            .accounts
            .iter()
            .map(|a| (a.id, a.serial.as_str(), a.digits))
            .collect();
        assert_eq!(
            rows,
            [(1, "FTKMOB382EAF4FFC", 8), (2, "FTKMOB947FDC1754", 6)]
        );
        assert!(app.remove(&first.serial));
        assert!(!app.remove(&first.serial));
        app.store(&identity.mobile_id, &first, 4).unwrap();
        assert_eq!(app.accounts[1].id, 3);
    }

    #[test]
    fn picking_a_token() {
        let identity = identity();
        let mut app = AppData::install(&identity.mobile_id, &mut StdRng::seed_from_u64(4));
        assert_eq!(app.pick(None).unwrap_err(), PickError::NoTokens);
        let first = delivered("FTKMOB382EAF4FFC", OtpKind::Totp, 60, 6);
        app.store(&identity.mobile_id, &first, 1).unwrap();
        assert_eq!(app.pick(None).unwrap().serial, first.serial);
        app.store(
            &identity.mobile_id,
            &delivered("FTKMOB947FDC1754", OtpKind::Totp, 60, 6),
            2,
        )
        .unwrap();
        let ambiguous = app.pick(None).unwrap_err();
        assert!(
            ambiguous
                .to_string()
                .contains("FTKMOB382EAF4FFC, FTKMOB947FDC1754")
        );
        assert_eq!(app.pick(Some(&first.serial)).unwrap().serial, first.serial);
        let other: TokenSerial = "FTKMOB0000000000".parse().unwrap();
        assert_eq!(
            app.pick(Some(&other)).unwrap_err(),
            PickError::NotFound(other)
        );
    }

    #[test]
    fn codes_follow_the_phone_clock_and_the_counter() {
        let identity = identity();
        let mut app = AppData::install(&identity.mobile_id, &mut StdRng::seed_from_u64(5));
        let seed = Seed::from_hex(SEED).unwrap();
        let totp = app
            .store(
                &identity.mobile_id,
                &delivered("FTKMOB382EAF4FFC", OtpKind::Totp, 60, 6),
                1,
            )
            .unwrap();
        // The dossier's vector: t = 1700000000, 60 s, 6 digits gives 947943; 20 s into its step.
        let view = totp.otp(&seed, UnixTime::from_secs(1_700_000_000));
        assert_eq!(view.otp, "947943");
        assert_eq!(view.valid_for_secs, Some(40));
        assert_eq!(view.kind, "totp");
        assert_eq!(
            totp.otp(&seed, UnixTime::from_secs(1_699_999_980))
                .valid_for_secs,
            Some(60)
        );
        let hotp = app
            .store(
                &identity.mobile_id,
                &delivered("FTKMOB947FDC1754", OtpKind::Hotp, 0, 8),
                1,
            )
            .unwrap();
        let view = hotp.otp(&seed, UnixTime::from_secs(5));
        assert_eq!(view.otp, otp::hotp(seed.as_bytes(), 1, 8));
        assert_eq!((view.valid_for_secs, view.kind.as_str()), (None, "hotp"));
    }

    #[test]
    fn export_uses_the_app_names() {
        let identity = identity();
        let mut app = AppData::install(&identity.mobile_id, &mut StdRng::seed_from_u64(6));
        app.store(
            &identity.mobile_id,
            &delivered("FTKMOB382EAF4FFC", OtpKind::Totp, 60, 6),
            1_700_000_000_000,
        )
        .unwrap();
        let device = PhoneView {
            id: "phone-1".into(),
            platform: Platform::Android,
            mobile_id: identity.mobile_id.clone(),
            app_version: identity.app_version.clone(),
            os_ver: identity.os_ver(),
            registration_id: identity.registration_id.clone(),
            clock_skew_secs: 0,
            created: UnixTime::from_secs(0),
            tokens: app.token_views(),
            push_policy: protocol::phone::PushPolicy::Manual,
            push_delay_ms: 0,
        };
        let export = serde_json::to_value(app.export(&identity, device)).unwrap();
        let prefs = &export["shared_prefs"];
        assert_eq!(prefs["UUID"], app.uuid_pref.as_str());
        assert_eq!(prefs["SerialNumberPreAndroid9"], "TOKENSERIALunknown");
        assert_eq!(prefs["FirebaseId"], identity.registration_id.as_str());
        assert_eq!(prefs["StoredVersionCode"], 409_090_009);
        let row = &export["accounts"][0];
        assert_eq!(row["_id"], 1);
        assert_eq!(row["comments"], "FTKMOB382EAF4FFC");
        assert_eq!(row["ftm_sn"], "FTKMOB382EAF4FFC");
        assert_eq!(row["type"], "totp");
        assert_eq!(row["otp_period"], 60);
        assert_eq!(row["activation_timeStamp"], 1_700_000_000_000i64);
        assert_eq!(row["seed"], app.accounts[0].seed.as_str());
        assert_eq!(export["device"]["id"], "phone-1");
        assert!(!export.to_string().to_lowercase().contains(SEED));
    }

    #[test]
    fn version_codes() {
        assert_eq!(version_code("5.3.3.0086"), 503_030_086);
        assert_eq!(version_code("4.9.9.0009"), 409_090_009);
        assert_eq!(version_code("4.7.1.0100"), 407_010_100);
        assert_eq!(version_code("99999999999999999999"), 0);
    }
}
