//! Encrypt-then-MAC sealing (AES-256-CBC with PKCS#7, then HMAC-SHA256) for fortimock's own secrets at
//! rest, such as seeds in the ledger and, later, push payloads, plus the AES-CBC helpers the other modules share.
//!
//! Nothing here draws randomness: callers pass the IV in, so sealing is deterministic and testable. A
//! sealed value is `iv ‖ ciphertext ‖ mac`, where the MAC covers `iv ‖ ciphertext` and is checked in
//! constant time before anything is decrypted.

use std::fmt;
use std::sync::Arc;

use aes::cipher::consts::U16;
use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, BlockSizeUser, InnerIvInit, KeyIvInit};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The AES block size, which is also the IV size.
pub(crate) const BLOCK: usize = 16;

const MAC_LEN: usize = 32;

/// Why sealed or encrypted data could not be opened. The messages never include key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The MAC does not match: the key is wrong or the data was altered.
    #[error("authentication failed: wrong key or tampered data")]
    BadMac,
    /// The decrypted data does not end in valid PKCS#7 padding: the key is wrong or the data is corrupt.
    #[error("invalid padding after decryption: wrong key or corrupt data")]
    BadPadding,
    /// The data has a length no valid ciphertext has.
    #[error("malformed ciphertext: {len} bytes, expected {expected}")]
    BadLength { len: usize, expected: &'static str },
}

/// The two keys of an encrypt-then-MAC seal: one for AES-256-CBC, one for HMAC-SHA256, each also kept
/// ready to use (the AES key schedule expanded, the HMAC key blocks hashed), so a seal or an open (a state
/// import opens every sealed seed) does not redo that work.
/// Cheap to clone: clones share one prepared key (a service's handlers and its store's changes each hold one).
#[derive(Clone)]
pub struct SealKey(Arc<PreparedKeys>);

/// What a [`SealKey`] holds.
struct PreparedKeys {
    cipher: aes::Aes256,
    keyed_mac: Hmac<Sha256>,
    /// The derived keys themselves, for the tests of their derivation.
    #[cfg(test)]
    enc: [u8; 32],
    #[cfg(test)]
    mac: [u8; 32],
}

impl SealKey {
    /// Derives a seal key from a master secret and a label naming what it seals (for instance `"seed"`), so
    /// each use of one secret gets independent keys.
    pub fn from_secret(secret: &[u8], label: &str) -> SealKey {
        let enc = hmac_sha256(secret, &[b"fortimock seal enc\0", label.as_bytes()]);
        let mac = hmac_sha256(secret, &[b"fortimock seal mac\0", label.as_bytes()]);
        SealKey(Arc::new(PreparedKeys {
            cipher: <aes::Aes256 as KeyInit>::new(&enc.into()),
            keyed_mac: new_hmac_sha256(&mac),
            #[cfg(test)]
            enc,
            #[cfg(test)]
            mac,
        }))
    }

    fn mac_over(&self, iv: &[u8; BLOCK], ciphertext: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.0.keyed_mac.clone();
        mac.update(iv);
        mac.update(ciphertext);
        mac
    }
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealKey(<redacted>)")
    }
}

/// A sealed value: the IV, the AES-256-CBC ciphertext and the HMAC-SHA256 of `iv ‖ ciphertext`. None of
/// it is secret, so `Debug` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub iv: [u8; BLOCK],
    pub ciphertext: Vec<u8>,
    pub mac: [u8; MAC_LEN],
}

impl Sealed {
    const EXPECTED: &'static str =
        "a 16-byte IV, a ciphertext of one or more 16-byte blocks and a 32-byte MAC";

    /// The storage form: `iv ‖ ciphertext ‖ mac`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(BLOCK + self.ciphertext.len() + MAC_LEN);
        bytes.extend_from_slice(&self.iv);
        bytes.extend_from_slice(&self.ciphertext);
        bytes.extend_from_slice(&self.mac);
        bytes
    }

    /// Splits the storage form back into its parts. Only the length is checked here; [`open`] checks the MAC.
    pub fn from_bytes(bytes: &[u8]) -> Result<Sealed, CryptoError> {
        let bad_length = || CryptoError::BadLength {
            len: bytes.len(),
            expected: Sealed::EXPECTED,
        };
        let (iv, rest) = bytes.split_first_chunk::<BLOCK>().ok_or_else(bad_length)?;
        let (ciphertext, mac) = rest.split_last_chunk::<MAC_LEN>().ok_or_else(bad_length)?;
        if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(BLOCK) {
            return Err(bad_length());
        }
        Ok(Sealed {
            iv: *iv,
            ciphertext: ciphertext.to_vec(),
            mac: *mac,
        })
    }
}

/// Encrypts `plaintext` with AES-256-CBC and PKCS#7 padding under `iv`, then MACs `iv ‖ ciphertext`. The
/// IV must be fresh and unpredictable for every seal (the caller draws it).
pub fn seal(key: &SealKey, iv: [u8; BLOCK], plaintext: &[u8]) -> Sealed {
    let mut ciphertext = pkcs7_pad(plaintext);
    encrypt_blocks(
        cbc::Encryptor::<aes::Aes256>::inner_iv_init(key.0.cipher.clone(), (&iv).into()),
        &mut ciphertext,
    );
    let mac = key
        .mac_over(&iv, &ciphertext)
        .finalize()
        .into_bytes()
        .into();
    Sealed {
        iv,
        ciphertext,
        mac,
    }
}

/// Checks the MAC in constant time and only then decrypts.
pub fn open(key: &SealKey, sealed: &Sealed) -> Result<Vec<u8>, CryptoError> {
    key.mac_over(&sealed.iv, &sealed.ciphertext)
        .verify_slice(&sealed.mac)
        .map_err(|_| CryptoError::BadMac)?;
    check_blocks(&sealed.ciphertext)?;
    let mut plain = sealed.ciphertext.clone();
    decrypt_blocks(
        cbc::Decryptor::<aes::Aes256>::inner_iv_init(key.0.cipher.clone(), (&sealed.iv).into()),
        &mut plain,
    );
    pkcs7_unpad(&mut plain)?;
    Ok(plain)
}

/// HMAC-SHA256 of the concatenation of `parts` under `key` (any length).
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = new_hmac_sha256(key);
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// An HMAC-SHA256 instance keyed with `key` of any length.
///
/// `Hmac::new_from_slice` returns a `Result` even though HMAC accepts every key length. RFC 2104 hashes a
/// key longer than the 64-byte block and zero-pads a shorter one; doing that here gives the same MAC
/// through the infallible fixed-size constructor.
pub(crate) fn new_hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    <Hmac<Sha256> as KeyInit>::new(&block.into())
}

/// An HMAC-SHA1 instance keyed with `key` of any length (see [`new_hmac_sha256`]).
pub(crate) fn new_hmac_sha1(key: &[u8]) -> Hmac<Sha1> {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..20].copy_from_slice(&Sha1::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    <Hmac<Sha1> as KeyInit>::new(&block.into())
}

/// AES-256-CBC with PKCS#7 padding.
pub(crate) fn aes256_cbc_pkcs7_encrypt(
    key: &[u8; 32],
    iv: &[u8; BLOCK],
    plaintext: &[u8],
) -> Vec<u8> {
    let mut buf = pkcs7_pad(plaintext);
    encrypt_blocks(
        cbc::Encryptor::<aes::Aes256>::new(key.into(), iv.into()),
        &mut buf,
    );
    buf
}

/// Decrypts AES-256-CBC and removes PKCS#7 padding.
pub(crate) fn aes256_cbc_pkcs7_decrypt(
    key: &[u8; 32],
    iv: &[u8; BLOCK],
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    check_blocks(ciphertext)?;
    let mut buf = ciphertext.to_vec();
    decrypt_blocks(
        cbc::Decryptor::<aes::Aes256>::new(key.into(), iv.into()),
        &mut buf,
    );
    pkcs7_unpad(&mut buf)?;
    Ok(buf)
}

/// AES-128-CBC without padding: `buf` must be whole blocks (checked).
pub(crate) fn aes128_cbc_encrypt_blocks(
    key: &[u8; 16],
    iv: &[u8; BLOCK],
    buf: &mut [u8],
) -> Result<(), CryptoError> {
    check_blocks(buf)?;
    encrypt_blocks(
        cbc::Encryptor::<aes::Aes128>::new(key.into(), iv.into()),
        buf,
    );
    Ok(())
}

/// Decrypts AES-128-CBC without padding: `buf` must be whole blocks (checked).
pub(crate) fn aes128_cbc_decrypt_blocks(
    key: &[u8; 16],
    iv: &[u8; BLOCK],
    buf: &mut [u8],
) -> Result<(), CryptoError> {
    check_blocks(buf)?;
    decrypt_blocks(
        cbc::Decryptor::<aes::Aes128>::new(key.into(), iv.into()),
        buf,
    );
    Ok(())
}

/// Rejects data that is empty or not a whole number of AES blocks.
fn check_blocks(data: &[u8]) -> Result<(), CryptoError> {
    if data.is_empty() || !data.len().is_multiple_of(BLOCK) {
        return Err(CryptoError::BadLength {
            len: data.len(),
            expected: "one or more 16-byte AES blocks",
        });
    }
    Ok(())
}

/// Encrypts the whole blocks of `buf` in place; callers have checked that `buf` is whole blocks.
fn encrypt_blocks<E: BlockEncryptMut + BlockSizeUser<BlockSize = U16>>(
    mut cipher: E,
    buf: &mut [u8],
) {
    for chunk in buf.chunks_exact_mut(BLOCK) {
        cipher.encrypt_block_mut(GenericArray::from_mut_slice(chunk));
    }
}

/// Decrypts the whole blocks of `buf` in place; callers have checked that `buf` is whole blocks.
fn decrypt_blocks<D: BlockDecryptMut + BlockSizeUser<BlockSize = U16>>(
    mut cipher: D,
    buf: &mut [u8],
) {
    for chunk in buf.chunks_exact_mut(BLOCK) {
        cipher.decrypt_block_mut(GenericArray::from_mut_slice(chunk));
    }
}

/// `data` followed by 1 to 16 bytes, each holding the number of bytes added.
fn pkcs7_pad(data: &[u8]) -> Vec<u8> {
    let pad = BLOCK - data.len() % BLOCK;
    let mut buf = Vec::with_capacity(data.len() + pad);
    buf.extend_from_slice(data);
    // `pad` is 1..=16, so it fits in a byte.
    buf.resize(data.len() + pad, pad as u8);
    buf
}

/// Removes PKCS#7 padding from whole blocks.
fn pkcs7_unpad(buf: &mut Vec<u8>) -> Result<(), CryptoError> {
    let pad = buf.last().copied().map_or(0, usize::from);
    let valid = (1..=BLOCK).contains(&pad)
        && pad <= buf.len()
        && buf[buf.len() - pad..]
            .iter()
            .all(|&b| usize::from(b) == pad);
    if !valid {
        return Err(CryptoError::BadPadding);
    }
    buf.truncate(buf.len() - pad);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SealKey {
        SealKey::from_secret(b"a master secret for tests", "seed")
    }

    #[test]
    fn seal_and_open_round_trip() {
        let key = key();
        for len in [0, 1, 15, 16, 17, 20, 64, 100] {
            let plaintext: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let sealed = seal(&key, [7; 16], &plaintext);
            assert_eq!(sealed.ciphertext.len(), (len / 16 + 1) * 16);
            let stored = Sealed::from_bytes(&sealed.to_bytes()).unwrap();
            assert_eq!(stored, sealed);
            assert_eq!(open(&key, &stored).unwrap(), plaintext);
        }
    }

    #[test]
    fn any_flipped_byte_fails_authentication() {
        let key = key();
        let bytes = seal(&key, [9; 16], b"a84e2caad3bcea970e05dc1a9b7bd2d562622f4a").to_bytes();
        for i in 0..bytes.len() {
            let mut tampered = bytes.clone();
            tampered[i] ^= 0x01;
            let sealed = Sealed::from_bytes(&tampered).unwrap();
            assert_eq!(open(&key, &sealed), Err(CryptoError::BadMac), "byte {i}");
        }
    }

    #[test]
    fn wrong_key_fails_authentication() {
        let sealed = seal(&key(), [1; 16], b"secret");
        let other = SealKey::from_secret(b"another master secret", "seed");
        assert_eq!(open(&other, &sealed), Err(CryptoError::BadMac));
    }

    #[test]
    fn labels_give_independent_keys() {
        let a = SealKey::from_secret(b"secret", "seed");
        let b = SealKey::from_secret(b"secret", "push");
        assert_ne!(a.0.enc, b.0.enc);
        assert_ne!(a.0.mac, b.0.mac);
        assert_ne!(a.0.enc, a.0.mac);
        let sealed = seal(&a, [0; 16], b"payload");
        assert_eq!(open(&b, &sealed), Err(CryptoError::BadMac));
        assert_eq!(format!("{a:?}"), "SealKey(<redacted>)");
    }

    #[test]
    fn from_bytes_rejects_bad_lengths() {
        for len in [0, 16, 47, 48, 49, 63, 65, 79] {
            assert!(
                matches!(
                    Sealed::from_bytes(&vec![0; len]),
                    Err(CryptoError::BadLength { .. })
                ),
                "length {len}"
            );
        }
        assert!(Sealed::from_bytes(&[0; 64]).is_ok());
        assert!(Sealed::from_bytes(&[0; 80]).is_ok());
    }

    #[test]
    fn padding_is_checked_after_authentication() {
        // A correctly MACed ciphertext whose padding is wrong (the MAC key is right, the data is not).
        let key = key();
        let iv = [3; 16];
        let mut ciphertext = [0u8; 16].to_vec();
        encrypt_blocks(
            cbc::Encryptor::<aes::Aes256>::new((&key.0.enc).into(), (&iv).into()),
            &mut ciphertext,
        );
        let mac = key
            .mac_over(&iv, &ciphertext)
            .finalize()
            .into_bytes()
            .into();
        let sealed = Sealed {
            iv,
            ciphertext,
            mac,
        };
        assert_eq!(open(&key, &sealed), Err(CryptoError::BadPadding));
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2: a short key.
        assert_eq!(
            hex::encode(hmac_sha256(
                b"Jefe",
                &[b"what do ya want ", b"for nothing?"]
            )),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a 131-byte key, longer than the block, which must be hashed first.
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        // A 64-byte key is used as is.
        let mut reference = <Hmac<Sha256> as KeyInit>::new_from_slice(&[0x0b; 64]).unwrap();
        reference.update(b"Hi There");
        assert_eq!(
            hmac_sha256(&[0x0b; 64], &[b"Hi There"]),
            <[u8; 32]>::from(reference.finalize().into_bytes())
        );
    }

    #[test]
    fn hmac_sha1_handles_long_keys() {
        // RFC 2202 test case 6: an 80-byte key.
        let mut mac = new_hmac_sha1(&[0xaa; 80]);
        mac.update(b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112"
        );
    }
}
