//! The OTP seed of a FortiToken Mobile token and its transport encryption to the phone (dossier 3.4).
//!
//! The server sends the seed to the app in `MobileProvisionResponse.seed` as Base64 of AES-128-CBC with the
//! phone's `mobile_id` as key ([`crate::modeled::mobile_key`]), the ASCII IV `fortitokenmobile` and no
//! PKCS#7 padding: the plaintext is the seed's lowercase hex digits followed by 0x00 bytes up to a whole
//! block. The known-answer test below pins the letter case.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

use crate::crypto::{self, BLOCK};
use crate::id::MobileId;
use crate::modeled::mobile_key;

/// The IV of the phone transport encryption: the 16 ASCII bytes `fortitokenmobile`.
const PHONE_IV: &[u8; BLOCK] = b"fortitokenmobile";

/// The seed lengths accepted, in bytes. FortiToken seeds are 20 bytes (HMAC-SHA1's output size); RFC 4226
/// requires at least 16 and recommends 20, and some imports use 10-byte (80-bit) secrets.
const SEED_LEN: std::ops::RangeInclusive<usize> = 10..=64;

/// Why a seed, or its encrypted form, is not valid. The messages never include seed material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    /// The seed has too few or too many bytes.
    #[error("a seed of {len} bytes is not valid: expected 10 to 64 bytes")]
    Length { len: usize },
    /// The seed text is not an even number of hex digits.
    #[error("the seed is not valid hex: expected an even number of hex digits")]
    NotHex,
    /// The encrypted seed is not standard Base64.
    #[error("the encrypted seed is not valid Base64")]
    NotBase64,
    /// The encrypted seed is not a whole number of AES blocks.
    #[error("the encrypted seed has {len} bytes: expected one or more 16-byte AES blocks")]
    CiphertextLength { len: usize },
    /// The decrypted seed is not hex digits followed by zero bytes, which is what a wrong `mobile_id` or a
    /// corrupt ciphertext gives.
    #[error("the encrypted seed does not decrypt to hex digits: wrong mobile_id or corrupt data")]
    Undecryptable,
}

/// An OTP seed (the HMAC key of HOTP/TOTP). `Debug` hides the bytes and equality runs in constant time.
#[derive(Clone)]
pub struct Seed(Vec<u8>);

impl Seed {
    /// A seed from its raw bytes (10 to 64 of them).
    pub fn from_bytes(bytes: &[u8]) -> Result<Seed, SeedError> {
        if !SEED_LEN.contains(&bytes.len()) {
            return Err(SeedError::Length { len: bytes.len() });
        }
        Ok(Seed(bytes.to_vec()))
    }

    /// A seed from hex digits in either letter case, ignoring surrounding whitespace.
    pub fn from_hex(text: &str) -> Result<Seed, SeedError> {
        Seed::from_hex_bytes(text.trim().as_bytes())
    }

    fn from_hex_bytes(digits: &[u8]) -> Result<Seed, SeedError> {
        let bytes = hex::decode(digits).map_err(|_| SeedError::NotHex)?;
        Seed::from_bytes(&bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Uppercase hex, the form FortiOS uploads in a ProvisionRequest.
    pub fn to_hex_upper(&self) -> String {
        hex::encode_upper(&self.0)
    }

    /// Lowercase hex, the form encrypted for the phone.
    pub fn to_hex_lower(&self) -> String {
        hex::encode(&self.0)
    }
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Seed(<redacted, {} bytes>)", self.0.len())
    }
}

impl PartialEq for Seed {
    fn eq(&self, other: &Seed) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Seed {}

/// The `seed` field of a MobileProvisionResponse for the phone `mobile_id`.
pub fn encrypt_for_phone(seed: &Seed, mobile_id: &MobileId) -> String {
    let mut buf = seed.to_hex_lower().into_bytes();
    buf.resize(buf.len().div_ceil(BLOCK) * BLOCK, 0);
    // `buf` is whole blocks, and not empty because a seed has at least 10 bytes, so this cannot fail.
    match crypto::aes128_cbc_encrypt_blocks(&mobile_key(mobile_id), PHONE_IV, &mut buf) {
        Ok(()) => STANDARD.encode(&buf),
        Err(_) => String::new(),
    }
}

/// The seed inside a MobileProvisionResponse's `seed` field, as the phone `mobile_id` decrypts it. The hex
/// digits may be in either letter case.
pub fn decrypt_from_server(seed_b64: &str, mobile_id: &MobileId) -> Result<Seed, SeedError> {
    let mut buf = STANDARD
        .decode(seed_b64.trim())
        .map_err(|_| SeedError::NotBase64)?;
    crypto::aes128_cbc_decrypt_blocks(&mobile_key(mobile_id), PHONE_IV, &mut buf)
        .map_err(|_| SeedError::CiphertextLength { len: buf.len() })?;
    let digits = buf.len() - buf.iter().rev().take_while(|&&b| b == 0).count();
    let digits = &buf[..digits];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(SeedError::Undecryptable);
    }
    Seed::from_hex_bytes(digits).map_err(|error| match error {
        SeedError::NotHex => SeedError::Undecryptable,
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FGT_SEED: &str = "a84e2caad3bcea970e05dc1a9b7bd2d562622f4a";

    fn android() -> MobileId {
        "e248e1e9527f20ff".parse().unwrap()
    }

    #[test]
    fn known_answer_uses_lowercase_hex() {
        let seed = Seed::from_hex(FGT_SEED).unwrap();
        let expected = "wqU4qQPz3wLXYfump+sadsN9/bdV9AykxGv2NWOnSiS7X0L/BkSu95v2Iar5KNvC";
        assert_eq!(encrypt_for_phone(&seed, &android()), expected);
        assert_eq!(decrypt_from_server(expected, &android()).unwrap(), seed);
    }

    #[test]
    fn decrypt_accepts_uppercase_hex() {
        // The same seed encrypted as uppercase digits, as another server might send it.
        let seed = Seed::from_hex(FGT_SEED).unwrap();
        let mut buf = seed.to_hex_upper().into_bytes();
        buf.resize(48, 0);
        crypto::aes128_cbc_encrypt_blocks(b"e248e1e9527f20ff", PHONE_IV, &mut buf).unwrap();
        let upper = STANDARD.encode(&buf);
        assert_ne!(upper, encrypt_for_phone(&seed, &android()));
        assert_eq!(decrypt_from_server(&upper, &android()).unwrap(), seed);
    }

    #[test]
    fn round_trip_with_an_ios_uuid() {
        let ios: MobileId = "00DAB39B-B920-463A-A099-44B6138A3C95".parse().unwrap();
        for len in [10usize, 16, 20, 32, 64] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 5) as u8).collect();
            let seed = Seed::from_bytes(&bytes).unwrap();
            let wire = encrypt_for_phone(&seed, &ios);
            assert_eq!(
                STANDARD.decode(&wire).unwrap().len(),
                (2 * len).div_ceil(16) * 16
            );
            assert_eq!(decrypt_from_server(&wire, &ios).unwrap(), seed);
        }
    }

    #[test]
    fn round_trip_with_any_mobile_id_a_client_sends() {
        // Public clients key AES with the id's bytes zero-padded or cut to 16, as `modeled::mobile_key`
        // does: decrypting by hand that way gets the seed back for any id.
        let seed = Seed::from_hex(FGT_SEED).unwrap();
        for text in [
            "public-client-1",
            "x",
            "e248e1e9527f20ff-and-more",
            "aéééééééé",
        ] {
            let id: MobileId = text.parse().unwrap();
            let wire = encrypt_for_phone(&seed, &id);
            assert_eq!(decrypt_from_server(&wire, &id).unwrap(), seed, "{text}");
            let mut key = [0u8; 16];
            let n = text.len().min(16);
            key[..n].copy_from_slice(&text.as_bytes()[..n]);
            let mut buf = STANDARD.decode(&wire).unwrap();
            crypto::aes128_cbc_decrypt_blocks(&key, PHONE_IV, &mut buf).unwrap();
            assert_eq!(&buf[..40], FGT_SEED.as_bytes(), "{text}");
        }
    }

    #[test]
    fn bad_ciphertexts_are_errors() {
        let id = android();
        assert_eq!(
            decrypt_from_server("not base64!", &id),
            Err(SeedError::NotBase64)
        );
        assert_eq!(
            decrypt_from_server("", &id),
            Err(SeedError::CiphertextLength { len: 0 })
        );
        assert_eq!(
            decrypt_from_server(&STANDARD.encode([0u8; 20]), &id),
            Err(SeedError::CiphertextLength { len: 20 })
        );
        // 48 zero bytes do not decrypt to hex digits.
        assert!(decrypt_from_server(&STANDARD.encode([0u8; 48]), &id).is_err());
    }

    #[test]
    fn wrong_mobile_id_never_yields_the_seed() {
        let seed = Seed::from_hex(FGT_SEED).unwrap();
        let wire = encrypt_for_phone(&seed, &android());
        for other in [
            "e248e1e9527f20fe",
            "E248E1E9527F20FF",
            "00DAB39B-B920-463A-A099-44B6138A3C95",
        ] {
            let other: MobileId = other.parse().unwrap();
            match decrypt_from_server(&wire, &other) {
                Ok(decrypted) => assert_ne!(decrypted, seed),
                Err(error) => assert_eq!(error, SeedError::Undecryptable),
            }
        }
    }

    #[test]
    fn seed_parsing_and_formatting() {
        let seed = Seed::from_hex("  A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A\n").unwrap();
        assert_eq!(seed, Seed::from_hex(FGT_SEED).unwrap());
        assert_eq!(seed.to_hex_lower(), FGT_SEED);
        assert_eq!(seed.to_hex_upper(), FGT_SEED.to_ascii_uppercase());
        assert_eq!(seed.as_bytes().len(), 20);
        assert_eq!(format!("{seed:?}"), "Seed(<redacted, 20 bytes>)");
        assert_ne!(seed, Seed::from_bytes(&[0xa8; 20]).unwrap());
        assert_ne!(seed, Seed::from_bytes(&seed.as_bytes()[..19]).unwrap());
        assert_eq!(Seed::from_hex("a84"), Err(SeedError::NotHex));
        assert_eq!(
            Seed::from_hex("zz".repeat(20).as_str()),
            Err(SeedError::NotHex)
        );
        assert_eq!(Seed::from_bytes(&[0; 9]), Err(SeedError::Length { len: 9 }));
        assert_eq!(
            Seed::from_bytes(&[0; 65]),
            Err(SeedError::Length { len: 65 })
        );
        assert!(Seed::from_bytes(&[0; 10]).is_ok());
        assert!(Seed::from_bytes(&[0; 64]).is_ok());
    }
}
