//! FortiGuard's hardware token service, pure: what an activation by serial returns (the seed once, then the
//! one-time activation lock's refusal; DEMO tokens never lock; 200CD tokens are never served online), what
//! TAC's lock reset accepts, and the seed file a batch's tokens come in (the FTK200CD format in a
//! password-protected zip).

use std::io::{Cursor, Read, Write};

use protocol::catalogue::CatalogueEntry;
use protocol::id::{ApplianceSerial, HardwareModel, HardwareSerial};
use protocol::modeled::{self, HARDWARE_ALREADY_ACTIVATED, HARDWARE_NOT_IN_FORTIGUARD};
use protocol::seed::Seed;
use protocol::time::UnixTime;

/// A hardware token as FortiGuard keeps it (its seed is kept apart, sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HardwareToken {
    pub serial: HardwareSerial,
    pub batch: String,
    pub demo: bool,
    /// The appliance the one-time activation lock names, and since when.
    pub locked_to: Option<(ApplianceSerial, UnixTime)>,
    /// How many times the seed was returned.
    pub activations: u32,
    /// How many times TAC reset the lock.
    pub resets: u32,
}

/// What an activation by serial gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activation {
    /// The seed is returned; the token after it (locked to the requester unless DEMO).
    Granted(HardwareToken),
    /// Refused with this error; nothing changes.
    Refused(&'static CatalogueEntry),
}

impl HardwareToken {
    /// `state` as the admin API shows it.
    pub fn state(&self) -> &'static str {
        if self.serial.model() == HardwareModel::Ftk211 {
            "seed-file-only"
        } else if self.demo {
            "demo"
        } else if self.locked_to.is_some() {
            "locked"
        } else {
            "available"
        }
    }

    pub fn view(&self) -> protocol::hardware::HardwareTokenView {
        protocol::hardware::HardwareTokenView {
            serial: self.serial.clone(),
            state: self.state().to_owned(),
            locked_to: self.locked_to.as_ref().map(|(a, _)| a.clone()),
            locked_at: self.locked_to.as_ref().map(|(_, at)| *at),
            activations: self.activations,
            resets: self.resets,
        }
    }
}

/// An activation of `token` (`None`: FortiGuard does not know the serial) by `requester` at `now`.
pub fn activate(
    token: Option<&HardwareToken>,
    requester: &ApplianceSerial,
    now: UnixTime,
) -> Activation {
    let Some(token) = token else {
        return Activation::Refused(&HARDWARE_NOT_IN_FORTIGUARD);
    };
    if !token.serial.model().online() {
        // Fortinet keeps no seed of a 200CD token: FortiGuard does not know it.
        return Activation::Refused(&HARDWARE_NOT_IN_FORTIGUARD);
    }
    if token.locked_to.is_some() && !token.demo {
        return Activation::Refused(&HARDWARE_ALREADY_ACTIVATED);
    }
    let mut after = token.clone();
    after.activations = after.activations.saturating_add(1);
    if !token.demo {
        after.locked_to = Some((requester.clone(), now));
    }
    Activation::Granted(after)
}

/// TAC's reset of a token's activation lock (KB 232153): only FortiToken 200, 210 and 220 tokens that are
/// locked. The error is a sentence naming the token.
pub fn reset_lock(token: &HardwareToken) -> Result<HardwareToken, String> {
    let serial = &token.serial;
    if !serial.model().online() {
        return Err(format!(
            "{serial} is a FortiToken 200CD (FTK211): TAC cannot reset it; its seed comes only from the CD's seed file"
        ));
    }
    if token.demo {
        return Err(format!("{serial} is a DEMO token: it never locks"));
    }
    if token.locked_to.is_none() {
        return Err(format!(
            "{serial} is not locked: it has not been activated since it was shipped or last reset"
        ));
    }
    let mut after = token.clone();
    after.locked_to = None;
    after.resets = after.resets.saturating_add(1);
    Ok(after)
}

/// The seed file formats Customer Service offers (KB 405589); fortimock writes the FortiGate /
/// FortiAuthenticator one.
pub const SEED_FILE_FORMATS: &[&str] = &["ftk200cd", "okta", "duo", "azure", "centrify"];

/// A seed file: the zip's bytes and its file name.
pub struct SeedFile {
    pub file_name: String,
    pub zip: Vec<u8>,
}

/// The batch's seed file in the FTK200CD format (`modeled::seed_file_text`), zipped with AES-256 under
/// `password` (`modeled::SEED_FILE_ZIP`).
pub fn seed_file(
    batch: &str,
    entries: &[(HardwareSerial, Seed)],
    password: &str,
) -> anyhow::Result<SeedFile> {
    use zip::write::SimpleFileOptions;
    let text = modeled::seed_file_text(entries);
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .with_aes_encryption(zip::AesMode::Aes256, password);
    writer.start_file(modeled::seed_file_entry(batch), options)?;
    writer.write_all(text.as_bytes())?;
    let zip = writer.finish()?.into_inner();
    Ok(SeedFile {
        file_name: format!("{batch}-ftk200cd.zip"),
        zip,
    })
}

/// Reads back a seed file's text (for tests and the appliance's offline import, which has its own copy of
/// this rule): the one `.ftk` entry, decrypted with `password`.
pub fn open_seed_file(zip: &[u8], password: &str) -> anyhow::Result<String> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip))?;
    let mut entry = archive.by_index_decrypt(0, password.as_bytes())?;
    let mut text = String::new();
    entry.read_to_string(&mut text)?;
    Ok(text)
}

/// A fresh seed file password: 16 letters and digits (what Customer Service reads out by phone).
pub fn seed_file_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..16)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(serial: &str, demo: bool) -> HardwareToken {
        HardwareToken {
            serial: serial.parse().unwrap(),
            batch: "HW000001".into(),
            demo,
            locked_to: None,
            activations: 0,
            resets: 0,
        }
    }

    #[test]
    fn the_seed_is_returned_once_then_locked_until_tac_resets_it() {
        let a: ApplianceSerial = "FGVM02TM00000001".parse().unwrap();
        let b: ApplianceSerial = "FGVM02TM00000002".parse().unwrap();
        let now = UnixTime::from_secs(1_700_000_000);
        let fresh = token("FTK200BAA0000000", false);
        let Activation::Granted(locked) = activate(Some(&fresh), &a, now) else {
            panic!("first activation refused")
        };
        assert_eq!(locked.locked_to, Some((a.clone(), now)));
        for who in [&a, &b] {
            assert_eq!(
                activate(Some(&locked), who, now),
                Activation::Refused(&HARDWARE_ALREADY_ACTIVATED)
            );
        }
        let reset = reset_lock(&locked).unwrap();
        assert!(reset.locked_to.is_none() && reset.resets == 1);
        assert!(reset_lock(&reset).unwrap_err().contains("not locked"));
        assert!(matches!(
            activate(Some(&reset), &b, now),
            Activation::Granted(_)
        ));
    }

    #[test]
    fn demo_tokens_never_lock_and_200cd_tokens_are_never_served() {
        let a: ApplianceSerial = "FGVM02TM00000001".parse().unwrap();
        let now = UnixTime::from_secs(1);
        let demo = token("FTK210BAA0000000", true);
        let Activation::Granted(after) = activate(Some(&demo), &a, now) else {
            panic!()
        };
        assert!(after.locked_to.is_none());
        assert!(matches!(
            activate(Some(&after), &a, now),
            Activation::Granted(_)
        ));
        assert!(reset_lock(&after).unwrap_err().contains("DEMO"));
        let cd = token("FTK211BAA0000000", false);
        assert_eq!(
            activate(Some(&cd), &a, now),
            Activation::Refused(&HARDWARE_NOT_IN_FORTIGUARD)
        );
        assert!(reset_lock(&cd).unwrap_err().contains("CD"));
        assert_eq!(
            activate(None, &a, now),
            Activation::Refused(&HARDWARE_NOT_IN_FORTIGUARD)
        );
    }

    #[test]
    fn seed_files_open_only_with_their_password() {
        let seed = Seed::from_hex("A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A").unwrap();
        let entries = vec![("FTK211BAA0000000".parse().unwrap(), seed)];
        let password = seed_file_password();
        let file = seed_file("HW000001", &entries, &password).unwrap();
        assert!(
            !file
                .zip
                .windows(40)
                .any(|w| w == b"A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A")
        );
        let text = open_seed_file(&file.zip, &password).unwrap();
        assert_eq!(modeled::parse_seed_file(&text).unwrap(), entries);
        assert!(open_seed_file(&file.zip, "wrong password").is_err());
    }
}
