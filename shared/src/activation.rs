//! The token activation code a user types into FortiToken Mobile (dossier 3.5).
//!
//! A code is 10 bytes: `0x21`, a flag (`0x10` on codes an appliance issued, `0x00` on portal and cloud
//! codes) and 8 random payload bytes. Users see it as 16 characters of RFC 4648 base32 (uppercase, no
//! padding), such as `EEIOHIDHBXN5QLXV`; the app sends only the payload, as 16 lowercase hex digits.
//! What the flag says about the token (its period, and in fortimock its algorithm and length) is modeled:
//! `modeled::otp_to_wire` and `modeled::otp_from_wire`.

use std::fmt;
use std::str::FromStr;

use data_encoding::BASE32_NOPAD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::id::IdError;
use crate::modeled::is_code_flag;

/// The first byte of every token activation code.
pub const CODE_PREFIX: u8 = 0x21;

/// The flag byte of codes a FortiGate or FortiAuthenticator issued.
pub const FLAG_APPLIANCE: u8 = 0x10;

/// The flag byte of codes the FortiToken Cloud portal issued.
pub const FLAG_CLOUD: u8 = 0x00;

const KIND: &str = "token activation code";

/// A token activation code: its flag and its 8 payload bytes. `Display` and serde give the base32 form.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenActivationCode {
    flag: u8,
    payload: [u8; 8],
}

impl TokenActivationCode {
    const EXPECTED: &'static str = "16 base32 characters encoding 0x21, a flag byte (0x00 or 0x10, with fortimock's HOTP and 8-digit bits) and 8 payload bytes";
    const EXPECTED_INPUT: &'static str =
        "a 16-character base32 activation code or its 16-hex-digit payload";

    /// A code from its flag ([`FLAG_APPLIANCE`] or [`FLAG_CLOUD`], or what `modeled::otp_to_wire` mints) and 8
    /// random payload bytes.
    pub fn new(flag: u8, payload: [u8; 8]) -> TokenActivationCode {
        TokenActivationCode { flag, payload }
    }

    pub fn flag(&self) -> u8 {
        self.flag
    }

    pub fn payload(&self) -> [u8; 8] {
        self.payload
    }

    /// The 16-character form users type, e.g. `EEIOHIDHBXN5QLXV`.
    pub fn to_base32(&self) -> String {
        BASE32_NOPAD.encode(&self.bytes())
    }

    /// The form the app sends: the payload as 16 lowercase hex digits, e.g. `e3a0670ddbd82ef5`.
    pub fn wire_hex(&self) -> String {
        hex::encode(self.payload)
    }

    /// The 8 payload bytes from either form a code travels in: the base32 code a user types or the hex
    /// payload the app sends. Letter case and surrounding whitespace do not matter.
    ///
    /// Sixteen hex digits are read as the hex payload. A base32 code is never all hex digits when its
    /// flag has the 60-second bit of [`FLAG_APPLIANCE`] (its third character is `I` to `P`); for a code
    /// without it, such as a [`FLAG_CLOUD`] code, that happens with a chance of about 3 in a million, and
    /// such input is read as hex.
    pub fn payload_from_input(text: &str) -> Result<[u8; 8], IdError> {
        let trimmed = text.trim();
        if trimmed.len() == 16 && trimmed.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut payload = [0u8; 8];
            hex::decode_to_slice(trimmed, &mut payload)
                .map_err(|_| IdError::new(KIND, Self::EXPECTED_INPUT, text))?;
            return Ok(payload);
        }
        TokenActivationCode::from_str(text)
            .map(|code| code.payload)
            .map_err(|_| IdError::new(KIND, Self::EXPECTED_INPUT, text))
    }

    fn bytes(&self) -> [u8; 10] {
        let mut bytes = [0u8; 10];
        bytes[0] = CODE_PREFIX;
        bytes[1] = self.flag;
        bytes[2..].copy_from_slice(&self.payload);
        bytes
    }
}

impl FromStr for TokenActivationCode {
    type Err = IdError;

    /// Parses the base32 code, ignoring letter case, spaces and dashes.
    fn from_str(input: &str) -> Result<TokenActivationCode, IdError> {
        let error = || IdError::new(KIND, Self::EXPECTED, input);
        let compact: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if compact.len() != 16 {
            return Err(error());
        }
        let bytes = BASE32_NOPAD
            .decode(compact.as_bytes())
            .map_err(|_| error())?;
        match bytes.as_slice() {
            [CODE_PREFIX, flag, payload @ ..] if is_code_flag(*flag) => {
                let payload = <[u8; 8]>::try_from(payload).map_err(|_| error())?;
                Ok(TokenActivationCode::new(*flag, payload))
            }
            _ => Err(error()),
        }
    }
}

impl fmt::Display for TokenActivationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base32())
    }
}

impl fmt::Debug for TokenActivationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenActivationCode({self})")
    }
}

crate::schema::text_schema!(
    TokenActivationCode,
    "A token activation code: 16 base32 characters as the user types it (or its 16-hex-digit payload).",
    "EEILE34EDIS5TC67"
);

impl Serialize for TokenActivationCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TokenActivationCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Codes seen in public, with their decoded bytes.
    const KNOWN: [(&str, u8, &str); 6] = [
        ("EEIOHIDHBXN5QLXV", 0x10, "e3a0670ddbd82ef5"),
        ("EEIMCUO6X6DF4BL3", 0x10, "c151debf865e057b"),
        ("EEIOTCU3LENEDJMR", 0x10, "e98a9b591a41a591"),
        ("EEIPIZWG7DCLAVYA", 0x10, "f466c6f8c4b05700"),
        ("EEAEVVEYZSERRHEM", 0x00, "4ad498cc89189c8c"),
        ("EEAHRHB4UOEJJ4XX", 0x00, "789c3ca38894f2f7"),
    ];

    fn payload(hex_digits: &str) -> [u8; 8] {
        let mut payload = [0u8; 8];
        hex::decode_to_slice(hex_digits, &mut payload).unwrap();
        payload
    }

    #[test]
    fn known_codes_decode_and_encode() {
        for (text, flag, hex_payload) in KNOWN {
            let code: TokenActivationCode = text.parse().unwrap();
            assert_eq!(code.flag(), flag, "{text}");
            assert_eq!(code.payload(), payload(hex_payload), "{text}");
            assert_eq!(code.wire_hex(), hex_payload);
            assert_eq!(code, TokenActivationCode::new(flag, payload(hex_payload)));
            assert_eq!(code.to_base32(), text);
            assert_eq!(code.to_string(), text);
        }
        assert_eq!(
            "EEAEVVEYZSERRHEM"
                .parse::<TokenActivationCode>()
                .unwrap()
                .wire_hex(),
            "4ad498cc89189c8c"
        );
    }

    #[test]
    fn parsing_ignores_case_spaces_and_dashes() {
        for input in [
            "eeiohidhbxn5qlxv",
            " EEIO-HIDH-BXN5-QLXV ",
            "EEIO HIDH BXN5 QLXV",
        ] {
            let code: TokenActivationCode = input.parse().unwrap();
            assert_eq!(code.to_string(), "EEIOHIDHBXN5QLXV");
        }
    }

    #[test]
    fn parsing_rejects_bad_codes() {
        let wrong_prefix = BASE32_NOPAD.encode(&[0x22, 0x10, 1, 2, 3, 4, 5, 6, 7, 8]);
        let wrong_flag = BASE32_NOPAD.encode(&[0x21, 0x20, 1, 2, 3, 4, 5, 6, 7, 8]);
        let unknown_bit = BASE32_NOPAD.encode(&[0x21, 0x14, 1, 2, 3, 4, 5, 6, 7, 8]);
        for bad in [
            "",
            "EEIOHIDHBXN5QLX",
            "EEIOHIDHBXN5QLXVA",
            "EEIOHIDHBXN5QLX1",
            "e3a0670ddbd82ef5",
            &wrong_prefix,
            &wrong_flag,
            &unknown_bit,
        ] {
            assert!(bad.parse::<TokenActivationCode>().is_err(), "{bad:?}");
        }
        let error = "EEIOHIDHBXN5QLX"
            .parse::<TokenActivationCode>()
            .unwrap_err();
        assert!(error.to_string().contains("token activation code"));
    }

    #[test]
    fn payload_from_either_form() {
        let expected = payload("e3a0670ddbd82ef5");
        for input in [
            "EEIOHIDHBXN5QLXV",
            "eeiohidhbxn5qlxv",
            " EEIO-HIDH-BXN5-QLXV ",
            "e3a0670ddbd82ef5",
            " E3A0670DDBD82EF5\n",
        ] {
            assert_eq!(
                TokenActivationCode::payload_from_input(input),
                Ok(expected),
                "{input:?}"
            );
        }
        let wrong_prefix = BASE32_NOPAD.encode(&[0x22, 0x10, 1, 2, 3, 4, 5, 6, 7, 8]);
        for bad in [
            "",
            "   ",
            "e3a0670ddbd82ef",
            "e3a0670ddbd82ef50",
            "e3a0670ddbd82efg",
            "EEIOHIDHBXN5QLX",
            "EEIOHIDHBXN5QLXVA",
            &wrong_prefix,
        ] {
            assert!(
                TokenActivationCode::payload_from_input(bad).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn sixty_second_codes_are_never_hex() {
        // The third base32 character of a code whose flag has the 60-second bit is `I` to `P`, so
        // `payload_from_input` cannot mistake one for a hex payload.
        for flag in [0x10, 0x11, 0x18, 0x19] {
            for payload in [
                [0u8; 8],
                [0xff; 8],
                [0xee; 8],
                [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0],
            ] {
                let code = TokenActivationCode::new(flag, payload).to_base32();
                assert!(("I"..="P").contains(&&code[2..3]), "{code}");
                assert_eq!(TokenActivationCode::payload_from_input(&code), Ok(payload));
            }
        }
        assert_eq!(
            &TokenActivationCode::new(FLAG_APPLIANCE, [0; 8]).to_base32()[..3],
            "EEI"
        );
    }

    #[test]
    fn codes_with_fortimocks_flag_bits_parse() {
        for flag in [0x00, 0x01, 0x08, 0x09, 0x10, 0x11, 0x18, 0x19] {
            let code = TokenActivationCode::new(flag, payload("e3a0670ddbd82ef5"));
            let back: TokenActivationCode = code.to_base32().parse().unwrap();
            assert_eq!((back.flag(), back.payload()), (flag, code.payload()));
        }
    }

    #[test]
    fn serde_is_the_base32_string() {
        let code = TokenActivationCode::new(FLAG_CLOUD, payload("4ad498cc89189c8c"));
        assert_eq!(
            serde_json::to_string(&code).unwrap(),
            "\"EEAEVVEYZSERRHEM\""
        );
        let back: TokenActivationCode = serde_json::from_str("\"eeaevveyzserrhem\"").unwrap();
        assert_eq!(back, code);
        assert!(serde_json::from_str::<TokenActivationCode>("\"4ad498cc89189c8c\"").is_err());
        assert_eq!(format!("{code:?}"), "TokenActivationCode(EEAEVVEYZSERRHEM)");
    }
}
