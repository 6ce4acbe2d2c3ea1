//! A hardware token seed file as the appliance imports it offline (FortiOS `execute fortitoken import`, the
//! GUI's "Seed File"): the password-protected zip Customer Service sends (or the 200CD's CD), its one entry
//! decrypted with the password, read in the FTK200CD format (`protocol::modeled::parse_seed_file`). No
//! FortiGuard contact. Errors never quote a seed.

use std::io::{Cursor, Read};

use protocol::id::HardwareSerial;
use protocol::seed::Seed;

/// The largest seed file the appliance takes (a zip of 1,000 tokens is about 60 KiB).
pub const MAX_SEED_FILE: usize = 512 * 1024;

/// Why a seed file was not imported (nothing changes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedFileError {
    #[error("the seed file is not a zip file: {0}")]
    NotZip(String),
    #[error("the seed file's password is wrong")]
    WrongPassword,
    #[error("the seed file's zip holds {0} files; a seed file holds one")]
    Entries(usize),
    #[error("the seed file cannot be read: {0}")]
    Unreadable(String),
    #[error("{0}")]
    Format(String),
}

/// Opens `zip` with `password` and reads its tokens and seeds.
pub fn open(zip: &[u8], password: &str) -> Result<Vec<(HardwareSerial, Seed)>, SeedFileError> {
    if zip.len() > MAX_SEED_FILE {
        return Err(SeedFileError::Unreadable(format!(
            "{} bytes is over the {MAX_SEED_FILE}-byte limit",
            zip.len()
        )));
    }
    let mut archive =
        zip::ZipArchive::new(Cursor::new(zip)).map_err(|e| SeedFileError::NotZip(e.to_string()))?;
    if archive.len() != 1 {
        return Err(SeedFileError::Entries(archive.len()));
    }
    let mut entry = match archive.by_index_decrypt(0, password.as_bytes()) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::InvalidPassword) => return Err(SeedFileError::WrongPassword),
        Err(e) => return Err(SeedFileError::Unreadable(e.to_string())),
    };
    let mut text = String::new();
    entry
        .by_ref()
        .take(MAX_SEED_FILE as u64 * 4)
        .read_to_string(&mut text)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData if e.to_string().contains("password") => {
                SeedFileError::WrongPassword
            }
            _ => SeedFileError::Unreadable(e.to_string()),
        })?;
    protocol::modeled::parse_seed_file(&text).map_err(SeedFileError::Format)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zipped(text: &str, password: &str) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .with_aes_encryption(zip::AesMode::Aes256, password);
        writer.start_file("HW000001.ftk", options).unwrap();
        writer.write_all(text.as_bytes()).unwrap();
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn seed_files_open_with_their_password_only() {
        let seed = Seed::from_hex("A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A").unwrap();
        let serial: HardwareSerial = "FTK211BAA0000000".parse().unwrap();
        let text = protocol::modeled::seed_file_text(&[(serial.clone(), seed.clone())]);
        let zip = zipped(&text, "s3cret-phone-password");
        assert_eq!(
            open(&zip, "s3cret-phone-password").unwrap(),
            vec![(serial, seed)]
        );
        assert_eq!(open(&zip, "guess"), Err(SeedFileError::WrongPassword));
        assert!(matches!(
            open(b"not a zip", "x"),
            Err(SeedFileError::NotZip(_))
        ));
        let garbage = zipped("hello", "p");
        assert!(matches!(open(&garbage, "p"), Err(SeedFileError::Format(_))));
    }
}
