//! How the FortiToken Mobile Android app keeps its secrets on the phone (dossier 3.6), so fortimock's
//! virtual phone can store seeds the way the app does and tools can read them back.
//!
//! The app derives `uuid_key` from the phone's SSAID (Android ID) and the shared preference
//! `SerialNumberPreAndroid9`. It stores a random 32-hex-digit UUID in the `UUID` preference, encrypted under
//! `uuid_key`, and each token's seed hex digits in the `seed` column of its `Account` table, encrypted under
//! `uuid_key ‖ uuid`. Both use Base64 of AES-256-CBC with PKCS#7 padding, a key that is SHA-256 of the text
//! key and an all-zero IV. This is obfuscation, not protection: anyone with the SSAID and the app data can
//! decrypt it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::crypto::{self, BLOCK, CryptoError};
use crate::seed::{Seed, SeedError};

/// What the `SerialNumberPreAndroid9` preference holds on the devices seen in public.
pub const SERIAL_PRE_ANDROID9: &str = "TOKENSERIALunknown";

/// The app's IV for both values: sixteen zero bytes.
const ZERO_IV: [u8; BLOCK] = [0; BLOCK];

/// Why a stored value could not be decrypted. The messages never include key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceStorageError {
    /// The stored value is not standard Base64.
    #[error("the stored value is not valid Base64")]
    NotBase64,
    /// Decryption failed: a wrong key (SSAID, serial preference or UUID) or corrupt data.
    #[error("the stored value does not decrypt: {0}")]
    Crypto(#[from] CryptoError),
    /// The stored UUID decrypts to something other than hex digits, which is what a wrong key gives.
    #[error("the stored UUID does not decrypt to hex digits: wrong key or corrupt data")]
    NotUuid,
    /// The stored seed decrypts to something that is not a seed, which is what a wrong key gives.
    #[error("the stored seed does not decrypt to a seed: {0}")]
    Seed(#[from] SeedError),
}

/// The key text the app encrypts its UUID with: the SSAID followed by `serial_pre_android9` from its 12th
/// character on (for [`SERIAL_PRE_ANDROID9`], `unknown`).
pub fn uuid_key(ssaid: &str, serial_pre_android9: &str) -> String {
    let mut key = ssaid.to_owned();
    key.extend(serial_pre_android9.chars().skip(11));
    key
}

/// The `UUID` preference for `uuid_plain` (32 hex digits).
pub fn encrypt_uuid(uuid_key: &str, uuid_plain: &str) -> String {
    encrypt(uuid_key, uuid_plain.as_bytes())
}

/// The UUID inside the `UUID` preference.
pub fn decrypt_uuid(uuid_key: &str, stored: &str) -> Result<String, DeviceStorageError> {
    let plain = decrypt(uuid_key, stored)?;
    if plain.is_empty() || !plain.iter().all(|b| b.is_ascii_hexdigit() || *b == b'-') {
        return Err(DeviceStorageError::NotUuid);
    }
    String::from_utf8(plain).map_err(|_| DeviceStorageError::NotUuid)
}

/// The `seed` column for `seed`: its lowercase hex digits, encrypted under `uuid_key ‖ uuid_plain`.
pub fn encrypt_seed(uuid_key: &str, uuid_plain: &str, seed: &Seed) -> String {
    encrypt(
        &seed_key(uuid_key, uuid_plain),
        seed.to_hex_lower().as_bytes(),
    )
}

/// The seed inside a `seed` column. The hex digits may be in either letter case.
pub fn decrypt_seed(
    uuid_key: &str,
    uuid_plain: &str,
    stored: &str,
) -> Result<Seed, DeviceStorageError> {
    let plain = decrypt(&seed_key(uuid_key, uuid_plain), stored)?;
    let text = std::str::from_utf8(&plain).map_err(|_| SeedError::NotHex)?;
    // `from_hex` trims whitespace, which the app never writes, so reject it here.
    if text.trim() != text {
        return Err(SeedError::NotHex.into());
    }
    Ok(Seed::from_hex(text)?)
}

fn seed_key(uuid_key: &str, uuid_plain: &str) -> String {
    format!("{uuid_key}{uuid_plain}")
}

fn encrypt(key_text: &str, plaintext: &[u8]) -> String {
    let key: [u8; 32] = Sha256::digest(key_text.as_bytes()).into();
    STANDARD.encode(crypto::aes256_cbc_pkcs7_encrypt(&key, &ZERO_IV, plaintext))
}

fn decrypt(key_text: &str, stored: &str) -> Result<Vec<u8>, DeviceStorageError> {
    let ciphertext = STANDARD
        .decode(stored.trim())
        .map_err(|_| DeviceStorageError::NotBase64)?;
    let key: [u8; 32] = Sha256::digest(key_text.as_bytes()).into();
    Ok(crypto::aes256_cbc_pkcs7_decrypt(
        &key,
        &ZERO_IV,
        &ciphertext,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Public sample app data: SSAID, `UUID` preference and `seed` column as published in
    // github.com/ptrcnull/openftm, generate.py (commit 22490e5), the sample of the write-up
    // "Extracting FortiToken Mobile TOTP secret". Only the values are taken from there.
    const SSAID: &str = "eefd7d4837294e94";
    const STORED_UUID: &str = "N7gAr30eX72sR2owbVR4WrFiw4e3ignGBO6IcgA4qJjvBYjZvIxZXIMTHOix8QDt";
    const STORED_SEED: &str = "MNmAN7drtlNJxjFqo5bgSN/DZcdWVK9Qv1YyUP3OjuJkDXgV06siQYlQfO0678Lg";
    const UUID: &str = "bbc350195b88433dbcc7365cdbd130e5";
    const SEED_HEX: &str = "1900309085190030908519003090851900309085";

    #[test]
    fn uuid_key_appends_the_serial_suffix() {
        assert_eq!(
            uuid_key(SSAID, SERIAL_PRE_ANDROID9),
            "eefd7d4837294e94unknown"
        );
        assert_eq!(uuid_key(SSAID, "short"), SSAID);
    }

    #[test]
    fn public_sample_decrypts() {
        let key = uuid_key(SSAID, SERIAL_PRE_ANDROID9);
        assert_eq!(decrypt_uuid(&key, STORED_UUID).unwrap(), UUID);
        let seed = decrypt_seed(&key, UUID, STORED_SEED).unwrap();
        assert_eq!(seed.to_hex_lower(), SEED_HEX);
        assert_eq!(
            data_encoding::BASE32.encode(seed.as_bytes()),
            "DEADBEEFDEADBEEFDEADBEEFDEADBEEF"
        );
    }

    #[test]
    fn encryption_reproduces_the_public_sample() {
        // The IV is fixed, so encryption is deterministic and must give the app's bytes exactly.
        let key = uuid_key(SSAID, SERIAL_PRE_ANDROID9);
        assert_eq!(encrypt_uuid(&key, UUID), STORED_UUID);
        let seed = Seed::from_hex(SEED_HEX).unwrap();
        assert_eq!(encrypt_seed(&key, UUID, &seed), STORED_SEED);
    }

    #[test]
    fn round_trip_and_uppercase_seed() {
        let key = uuid_key("0123456789abcdef", SERIAL_PRE_ANDROID9);
        let seed = Seed::from_hex("A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A").unwrap();
        let stored = encrypt_seed(&key, UUID, &seed);
        assert_eq!(decrypt_seed(&key, UUID, &stored).unwrap(), seed);
        let upper = encrypt(&seed_key(&key, UUID), seed.to_hex_upper().as_bytes());
        assert_eq!(decrypt_seed(&key, UUID, &upper).unwrap(), seed);
    }

    #[test]
    fn wrong_keys_and_bad_input_are_errors() {
        let key = uuid_key(SSAID, SERIAL_PRE_ANDROID9);
        let wrong = uuid_key("eefd7d4837294e95", SERIAL_PRE_ANDROID9);
        assert!(decrypt_uuid(&wrong, STORED_UUID).is_err());
        assert!(decrypt_seed(&key, "bbc350195b88433dbcc7365cdbd130e6", STORED_SEED).is_err());
        assert!(decrypt_seed(&wrong, UUID, STORED_SEED).is_err());
        assert_eq!(
            decrypt_uuid(&key, "not base64!"),
            Err(DeviceStorageError::NotBase64)
        );
        assert!(matches!(
            decrypt_uuid(&key, &STANDARD.encode([0u8; 20])),
            Err(DeviceStorageError::Crypto(CryptoError::BadLength { .. }))
        ));
        assert!(matches!(
            decrypt_uuid(&key, ""),
            Err(DeviceStorageError::Crypto(CryptoError::BadLength { .. }))
        ));
        // A stored UUID that decrypts cleanly but is not hex.
        assert_eq!(
            decrypt_uuid(&key, &encrypt_uuid(&key, "not a uuid")),
            Err(DeviceStorageError::NotUuid)
        );
        assert_eq!(
            decrypt_seed(
                &key,
                UUID,
                &encrypt(
                    &seed_key(&key, UUID),
                    b" 1900309085190030908519003090851900309085"
                )
            ),
            Err(DeviceStorageError::Seed(SeedError::NotHex))
        );
    }
}
