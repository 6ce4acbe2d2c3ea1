//! Identifier newtypes: one parser (`FromStr`) and one `Display` each, serde as a string.
//!
//! Parsers trim the stray spaces FortiOS puts around values (the license-import capture sends
//! `" BADLICBADLICXXX "` and `" FGXXXXXXX "`) and accept either letter case; `Display` gives the canonical form.
//! Formats come from dossier section 8.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::modeled::MOBILE_ID_MAX_LEN;

/// Why a string is not a valid identifier. The message names the identifier kind and the expected format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid {kind}: expected {expected}")]
pub struct IdError {
    kind: &'static str,
    expected: &'static str,
    input: String,
}

impl IdError {
    pub(crate) fn new(kind: &'static str, expected: &'static str, input: &str) -> IdError {
        // Keep error messages short even when the input is hostile.
        let input: String = input.chars().take(64).collect();
        IdError {
            kind,
            expected,
            input,
        }
    }
}

macro_rules! string_serde {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// At most `N` ASCII characters held inline, the unused tail zeros: the serials and license ids are short,
/// so they are copied and dropped without an allocation (a 50-token poll handles each serial a dozen times).
/// Ordered as their text (the bytes compare first, and no id holds a zero byte) and hashed in one write.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct InlineAscii<const N: usize> {
    bytes: [u8; N],
    len: u8,
}

impl<const N: usize> InlineAscii<N> {
    /// `input` without the spaces around it, in upper case: `None` when that is not ASCII of at most `N`
    /// characters.
    fn upper(input: &str) -> Option<InlineAscii<N>> {
        // An id as sent (printable at both ends) has nothing to trim: `trim` decodes characters at each
        // end, a tenth of a token serial's parse.
        let bytes = input.as_bytes();
        let trimmed = match (bytes.first(), bytes.last()) {
            (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => {
                input
            }
            _ => input.trim(),
        };
        let text = trimmed.as_bytes();
        if text.len() > N || !text.is_ascii() {
            return None;
        }
        let mut bytes = [0; N];
        for (to, from) in bytes.iter_mut().zip(text) {
            *to = from.to_ascii_uppercase();
        }
        Some(InlineAscii {
            bytes,
            len: u8::try_from(text.len()).ok()?,
        })
    }

    /// `text` as it is; for ids built from parts already checked (their length and characters).
    fn built(text: &str) -> InlineAscii<N> {
        InlineAscii::upper(text)
            .filter(|inline| inline.as_str() == text)
            .unwrap_or_else(|| unreachable!("`{text}` is built to be {N} ASCII characters at most"))
    }

    fn as_str(&self) -> &str {
        // ASCII by construction, so this never falls back; checked on each call (about 150 instructions for
        // 16 bytes), so hot comparisons and keys use `as_bytes`.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The text's bytes, without checking them again (see `as_str`).
    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

fn is_upper_hex(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b))
}

/// The 20-hex-digit code printed on a FortiToken Mobile redemption certificate, shown as
/// `XXXX-XXXX-XXXX-XXXX-XXXX`. Input is case-insensitive and the dashes are optional.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LicenseActivationCode(String);

impl LicenseActivationCode {
    const EXPECTED: &'static str = "20 hex digits, as XXXX-XXXX-XXXX-XXXX-XXXX";

    /// The free-trial code, `0000-0000-0000-0000-0000`.
    pub fn trial() -> LicenseActivationCode {
        LicenseActivationCode("0".repeat(20))
    }

    pub fn is_trial(&self) -> bool {
        self.0.bytes().all(|b| b == b'0')
    }

    /// The 20 uppercase hex digits without dashes: the form fortimock stores.
    pub fn compact(&self) -> &str {
        &self.0
    }

    /// A code from 10 bytes (e.g. random ones).
    pub fn from_bytes(bytes: [u8; 10]) -> LicenseActivationCode {
        LicenseActivationCode(hex::encode_upper(bytes))
    }
}

impl FromStr for LicenseActivationCode {
    type Err = IdError;

    fn from_str(input: &str) -> Result<LicenseActivationCode, IdError> {
        let compact: String = input
            .trim()
            .chars()
            .filter(|c| *c != '-')
            .collect::<String>()
            .to_ascii_uppercase();
        if compact.len() != 20 || !is_upper_hex(compact.as_bytes()) {
            return Err(IdError::new(
                "license activation code",
                Self::EXPECTED,
                input,
            ));
        }
        Ok(LicenseActivationCode(compact))
    }
}

impl fmt::Display for LicenseActivationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, group) in self.0.as_bytes().chunks(4).enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            f.write_str(std::str::from_utf8(group).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

impl fmt::Debug for LicenseActivationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LicenseActivationCode({self})")
    }
}

string_serde!(LicenseActivationCode);
crate::schema::text_schema!(
    LicenseActivationCode,
    "The 20-hex-digit license activation code, `XXXX-XXXX-XXXX-XXXX-XXXX` (case and dashes free on input).",
    "1111-2222-3333-4444-5555"
);

/// A FortiToken Mobile license id: `EFTM` + 12 digits for a purchased license (the redemption
/// certificate's serial number, also its SKU id), `FTMTRIAL` + 8 digits for the free trial.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LicenseId(InlineAscii<16>);

impl LicenseId {
    const EXPECTED: &'static str = "EFTM followed by 12 digits, or FTMTRIAL followed by 8 digits";

    /// A purchased license id from its 12 digits.
    pub fn paid(number: u64) -> LicenseId {
        LicenseId(InlineAscii::built(&format!(
            "EFTM{:012}",
            number % 1_000_000_000_000
        )))
    }

    /// A trial license id from its 8 digits.
    pub fn trial(number: u64) -> LicenseId {
        LicenseId(InlineAscii::built(&format!(
            "FTMTRIAL{:08}",
            number % 100_000_000
        )))
    }

    pub fn is_trial(&self) -> bool {
        self.0.as_str().starts_with("FTMTRIAL")
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The id's bytes (its text, checked when it was made): for keys and comparisons.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl FromStr for LicenseId {
    type Err = IdError;

    fn from_str(input: &str) -> Result<LicenseId, IdError> {
        // Checked as bytes: `as_str` would check the inline bytes as UTF-8 once more on every parse.
        let all_digits = |s: &[u8], n: usize| s.len() == n && s.iter().all(u8::is_ascii_digit);
        let ok = |text: &InlineAscii<16>| {
            let text = text.as_bytes();
            match (text.strip_prefix(b"EFTM"), text.strip_prefix(b"FTMTRIAL")) {
                (Some(rest), _) => all_digits(rest, 12),
                (_, Some(rest)) => all_digits(rest, 8),
                _ => false,
            }
        };
        InlineAscii::upper(input)
            .filter(ok)
            .map(LicenseId)
            .ok_or_else(|| IdError::new("license id", Self::EXPECTED, input))
    }
}

impl fmt::Display for LicenseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl fmt::Debug for LicenseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LicenseId({})", self.0.as_str())
    }
}

string_serde!(LicenseId);
crate::schema::text_schema!(
    LicenseId,
    "A FortiToken Mobile license id: `EFTM` and 12 digits, or a trial's `FTMTRIAL…`.",
    "EFTM000000000005"
);

/// A FortiToken Mobile serial: `FTKMOB` + 10 uppercase hex digits, e.g. `FTKMOB947FDC1754`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenSerial(InlineAscii<16>);

impl TokenSerial {
    const EXPECTED: &'static str = "FTKMOB followed by 10 hex digits";

    /// A serial from the 5 bytes its 10 hex digits encode.
    pub fn from_bytes(bytes: [u8; 5]) -> TokenSerial {
        TokenSerial(InlineAscii::built(&format!(
            "FTKMOB{}",
            hex::encode_upper(bytes)
        )))
    }

    /// The 5 bytes its 10 hex digits encode: the inverse of [`TokenSerial::from_bytes`].
    pub fn to_bytes(&self) -> [u8; 5] {
        let mut bytes = [0u8; 5];
        // The 10 digits after `FTKMOB` were checked as hex when the serial was made: this cannot fail.
        let digits = self.as_bytes().get(6..).unwrap_or_default();
        hex::decode_to_slice(digits, &mut bytes).ok();
        bytes
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The id's bytes (its text, checked when it was made): for keys and comparisons.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The last four characters, which the FortiToken Mobile app shows as the account name ("FortiToken 4FFC").
    pub fn short(&self) -> &str {
        let text = self.0.as_str();
        &text[text.len() - 4..]
    }
}

impl FromStr for TokenSerial {
    type Err = IdError;

    fn from_str(input: &str) -> Result<TokenSerial, IdError> {
        // Checked as bytes, as a license id is.
        let ok = |text: &InlineAscii<16>| {
            text.as_bytes()
                .strip_prefix(b"FTKMOB")
                .is_some_and(|rest| rest.len() == 10 && is_upper_hex(rest))
        };
        InlineAscii::upper(input)
            .filter(ok)
            .map(TokenSerial)
            .ok_or_else(|| IdError::new("token serial", Self::EXPECTED, input))
    }
}

impl fmt::Display for TokenSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl fmt::Debug for TokenSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenSerial({})", self.0.as_str())
    }
}

string_serde!(TokenSerial);
crate::schema::text_schema!(
    TokenSerial,
    "A FortiToken Mobile token serial, `FTKMOB` and 10 hex digits.",
    "FTKMOB00C82980A7"
);

/// The serial number of a FortiGate, FortiAuthenticator or other appliance (`FGT3HD3915801656`,
/// `FGVM01TM00000000`, `FAC-VMTM18004378`). Real serials are 16 characters; the public captures
/// also show sanitised ones such as `FGXXXXXXX`, so any 4 to 32 letters, digits and dashes are accepted.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApplianceSerial(InlineAscii<32>);

impl ApplianceSerial {
    const EXPECTED: &'static str = "4 to 32 letters, digits or dashes, such as FGVM01TM00000000";

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The id's bytes (its text, checked when it was made): for keys and comparisons.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl FromStr for ApplianceSerial {
    type Err = IdError;

    fn from_str(input: &str) -> Result<ApplianceSerial, IdError> {
        let ok = |text: &InlineAscii<32>| {
            let text = text.as_bytes();
            text.len() >= 4
                && text.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                && text[0].is_ascii_alphabetic()
        };
        InlineAscii::upper(input)
            .filter(ok)
            .map(ApplianceSerial)
            .ok_or_else(|| IdError::new("appliance serial", Self::EXPECTED, input))
    }
}

impl fmt::Display for ApplianceSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl fmt::Debug for ApplianceSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApplianceSerial({})", self.0.as_str())
    }
}

string_serde!(ApplianceSerial);
crate::schema::text_schema!(
    ApplianceSerial,
    "An appliance's serial number (FortiGate `FG…`, FortiAuthenticator `FAC…`, FortiPAM `FPA…`, FortiProxy `FPX…`).",
    "FGVM01TM00000001"
);

/// A phone's identity as a client sends it in `mobile_id`. The FortiToken Mobile app sends Android's
/// 16-hex-digit SSAID (`e248e1e9527f20ff`) or an iOS UUID (`00DAB39B-B920-463A-A099-44B6138A3C95`), but the
/// live server judges the activation code first and answered a public client's 15-character non-hex id
/// like any other, so any text that is not blank and at most [`MOBILE_ID_MAX_LEN`] bytes long is a
/// `mobile_id` here (the bound is fortimock's). [`MobileId::is_android_id`] and [`MobileId::is_ios_uuid`]
/// tell the app's own shapes apart. The seed is encrypted with its exact bytes
/// (`modeled::mobile_key`), so the text is kept as sent (only trimmed), letter case included.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MobileId(String);

impl MobileId {
    const EXPECTED: &'static str = "a non-empty id of at most 128 bytes, such as 16 hex digits (an Android ID) or a UUID (iOS)";

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is an Android ID as the app sends it: 16 hex digits (the SSAID).
    pub fn is_android_id(&self) -> bool {
        self.0.len() == 16 && self.0.bytes().all(|b| b.is_ascii_hexdigit())
    }

    /// Whether this is an iOS id as the app sends it: a UUID (`8-4-4-4-12` hex digits).
    pub fn is_ios_uuid(&self) -> bool {
        // The hyphenated form only (`identifierForVendor`), not the other spellings `uuid` reads.
        self.0.len() == 36 && uuid::Uuid::try_parse(&self.0).is_ok()
    }
}

impl FromStr for MobileId {
    type Err = IdError;

    fn from_str(input: &str) -> Result<MobileId, IdError> {
        let text = input.trim();
        if text.is_empty() || text.len() > MOBILE_ID_MAX_LEN {
            return Err(IdError::new("mobile_id", Self::EXPECTED, input));
        }
        Ok(MobileId(text.to_owned()))
    }
}

impl fmt::Display for MobileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MobileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MobileId({})", self.0)
    }
}

string_serde!(MobileId);
crate::schema::text_schema!(
    MobileId,
    "The phone's `mobile_id`: 16 hex digits (Android ID) or a UUID (iOS); any non-blank id up to 128 bytes.",
    "e248e1e9527f20ff"
);

/// A hardware FortiToken's model, from the prefix of its serial (dossier 2.9): FortiToken 200, 210, 220, and
/// the 200CD (serials `FTK211…`), whose seeds come only on the CD shipped with the tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum HardwareModel {
    #[serde(rename = "FTK200")]
    Ftk200,
    #[serde(rename = "FTK210")]
    Ftk210,
    #[serde(rename = "FTK220")]
    Ftk220,
    /// FortiToken 200CD: seeds on the CD, never served by FortiGuard.
    #[serde(rename = "FTK211")]
    Ftk211,
}

impl HardwareModel {
    /// Every model, in prefix order.
    pub const ALL: [HardwareModel; 4] = [
        HardwareModel::Ftk200,
        HardwareModel::Ftk210,
        HardwareModel::Ftk220,
        HardwareModel::Ftk211,
    ];

    /// The serial prefix, which is also the model's name in fortimock's API (`FTK200`).
    pub fn prefix(self) -> &'static str {
        match self {
            HardwareModel::Ftk200 => "FTK200",
            HardwareModel::Ftk210 => "FTK210",
            HardwareModel::Ftk220 => "FTK220",
            HardwareModel::Ftk211 => "FTK211",
        }
    }

    /// Whether FortiGuard serves this model's seeds online (activation by serial): every model but the
    /// 200CD, whose seeds Fortinet does not keep (KB 425535).
    pub fn online(self) -> bool {
        self != HardwareModel::Ftk211
    }

    /// The model whose serials start with `prefix` (any letter case).
    pub fn from_prefix(prefix: &str) -> Option<HardwareModel> {
        HardwareModel::ALL
            .into_iter()
            .find(|m| m.prefix().eq_ignore_ascii_case(prefix))
    }
}

impl fmt::Display for HardwareModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix())
    }
}

/// A hardware FortiToken serial: a model prefix (`FTK200`, `FTK210`, `FTK220`, `FTK211`) and 10 uppercase
/// letters or digits, e.g. `FTK200BAA0000000` (dossier 8).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HardwareSerial(String);

impl HardwareSerial {
    const EXPECTED: &'static str = "FTK200, FTK210, FTK220 or FTK211 followed by 10 letters or digits, such as FTK200BAA0000000";

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn model(&self) -> HardwareModel {
        // The parser admits only serials with a known prefix.
        HardwareModel::from_prefix(&self.0[..6]).unwrap_or(HardwareModel::Ftk200)
    }
}

impl FromStr for HardwareSerial {
    type Err = IdError;

    fn from_str(input: &str) -> Result<HardwareSerial, IdError> {
        let text = input.trim().to_ascii_uppercase();
        let ok = text.len() == 16
            && text.is_ascii()
            && HardwareModel::from_prefix(&text[..6]).is_some()
            && text[6..].bytes().all(|b| b.is_ascii_alphanumeric());
        if !ok {
            return Err(IdError::new("hardware token serial", Self::EXPECTED, input));
        }
        Ok(HardwareSerial(text))
    }
}

impl fmt::Display for HardwareSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for HardwareSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HardwareSerial({})", self.0)
    }
}

string_serde!(HardwareSerial);

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check<T: FromStr + fmt::Display>(input: &str, canonical: Option<&str>)
    where
        T::Err: fmt::Debug,
    {
        let parsed = input.parse::<T>().ok().map(|t| t.to_string());
        assert_eq!(parsed.as_deref(), canonical, "parsing {input:?}");
    }

    #[test]
    fn license_activation_codes() {
        check::<LicenseActivationCode>(
            "1FF6-9B06-2510-F429-41AE",
            Some("1FF6-9B06-2510-F429-41AE"),
        );
        check::<LicenseActivationCode>(" 1ff69b062510f42941ae ", Some("1FF6-9B06-2510-F429-41AE"));
        check::<LicenseActivationCode>(
            "0000-0000-0000-0000-0000",
            Some("0000-0000-0000-0000-0000"),
        );
        check::<LicenseActivationCode>(" BADLICBADLICXXX ", None);
        check::<LicenseActivationCode>("1FF6-9B06-2510-F429-41A", None);
        check::<LicenseActivationCode>("1FF6-9B06-2510-F429-41AEE", None);
        check::<LicenseActivationCode>("1FF6-9B06-2510-F429-41AG", None);
        check::<LicenseActivationCode>("", None);
        assert!(
            "0000-0000-0000-0000-0000"
                .parse::<LicenseActivationCode>()
                .unwrap()
                .is_trial()
        );
        assert!(
            !"1FF6-9B06-2510-F429-41AE"
                .parse::<LicenseActivationCode>()
                .unwrap()
                .is_trial()
        );
    }

    #[test]
    fn license_ids() {
        check::<LicenseId>("EFTM010130823929", Some("EFTM010130823929"));
        check::<LicenseId>("FTMTRIAL02062407", Some("FTMTRIAL02062407"));
        check::<LicenseId>(" ftmtrial01185372", Some("FTMTRIAL01185372"));
        check::<LicenseId>("EFTM01013082392", None);
        check::<LicenseId>("FTMTRIALNOREGIST", None);
        check::<LicenseId>("EFTM01013082392X", None);
        assert_eq!(LicenseId::paid(10130823929).to_string(), "EFTM010130823929");
        assert_eq!(LicenseId::trial(2062407).to_string(), "FTMTRIAL02062407");
    }

    #[test]
    fn token_serials() {
        check::<TokenSerial>("FTKMOB947FDC1754", Some("FTKMOB947FDC1754"));
        check::<TokenSerial>(" ftkmob83f91cd33b ", Some("FTKMOB83F91CD33B"));
        check::<TokenSerial>("FTKMOB947FDC175", None);
        check::<TokenSerial>("FTKMOB947FDC1754A", None);
        check::<TokenSerial>("FTK200BAA0000000", None);
        assert_eq!(
            TokenSerial::from_bytes([0x94, 0x7f, 0xdc, 0x17, 0x54]).to_string(),
            "FTKMOB947FDC1754"
        );
        let serial = " ftkmob382eaf4ffc".parse::<TokenSerial>().unwrap();
        assert_eq!(serial.short(), "4FFC");
        assert_eq!(serial.to_bytes(), [0x38, 0x2e, 0xaf, 0x4f, 0xfc]);
        assert_eq!(TokenSerial::from_bytes(serial.to_bytes()), serial);
        let edges = "FTKMOB00FF09A0F9".parse::<TokenSerial>().unwrap();
        assert_eq!(edges.to_bytes(), [0x00, 0xff, 0x09, 0xa0, 0xf9]);
        assert_eq!(serial.as_bytes(), b"FTKMOB382EAF4FFC");
        assert_eq!(serial.as_bytes(), serial.as_str().as_bytes());
    }

    /// The serials and license ids held inline refuse what does not fit (too long, not ASCII, a NUL) as
    /// any other malformed input, name the input as sent, and sort as their text does.
    #[test]
    fn inline_ids_refuse_what_does_not_fit_and_sort_as_text() {
        for bad in [
            "FTKMOB947FDC17541",
            "FTKMOB947FDC175\u{e9}",
            "FTKMOB947FDC175\0",
            "\u{ff26}TKMOB947FDC1754",
            &"F".repeat(1000),
        ] {
            check::<TokenSerial>(bad, None);
            check::<LicenseId>(bad, None);
        }
        check::<ApplianceSerial>(
            &format!("FG{}", "1".repeat(30)),
            Some(&format!("FG{}", "1".repeat(30))),
        );
        check::<ApplianceSerial>("FGVM01TM0000000\u{e9}", None);
        let error = "FTKMOB947FDC175\u{e9}".parse::<TokenSerial>().unwrap_err();
        assert!(
            error.to_string().contains("FTKMOB947FDC175\u{e9}"),
            "{error}"
        );
        let mut serials: Vec<ApplianceSerial> =
            ["FGVM01TM0000001", "FGVM01", "FGVM01TM00000000", "FAC-VM"]
                .iter()
                .map(|s| s.parse().unwrap())
                .collect();
        serials.sort();
        let texts: Vec<&str> = serials.iter().map(ApplianceSerial::as_str).collect();
        let mut sorted = texts.clone();
        sorted.sort_unstable();
        assert_eq!(texts, sorted);
        assert_eq!(texts[0], "FAC-VM");
    }

    #[test]
    fn appliance_serials() {
        for ok in [
            "FGT3HD3915801656",
            "FG140E4Q17000494",
            "FGVM01TM00000000",
            "FAC-VMTM18004378",
            " FGXXXXXXX ",
        ] {
            check::<ApplianceSerial>(ok, Some(ok.trim()));
        }
        for bad in ["", "FG", "12345678", "FG 1234", "FG\"1234", &"F".repeat(33)] {
            check::<ApplianceSerial>(bad, None);
        }
    }

    #[test]
    fn mobile_ids() {
        check::<MobileId>("e248e1e9527f20ff", Some("e248e1e9527f20ff"));
        check::<MobileId>(" E248E1E9527F20FF ", Some("E248E1E9527F20FF"));
        check::<MobileId>(
            "00DAB39B-B920-463A-A099-44B6138A3C95",
            Some("00DAB39B-B920-463A-A099-44B6138A3C95"),
        );
        // What public clients send is a mobile_id too: other lengths, non-hex, any text.
        for odd in [
            "e248e1e9527f20f",
            "e248e1e9527f20ff0",
            "e248e1e9527f20fg",
            "not a phone",
            "x",
            "téléphone-ß",
            &"a".repeat(MOBILE_ID_MAX_LEN),
        ] {
            check::<MobileId>(odd, Some(odd));
        }
        let longest_multibyte = "é".repeat(MOBILE_ID_MAX_LEN / 2);
        check::<MobileId>(&longest_multibyte, Some(&longest_multibyte));
        for bad in [
            "",
            "   ",
            "\n\t",
            &"a".repeat(MOBILE_ID_MAX_LEN + 1),
            &"é".repeat(MOBILE_ID_MAX_LEN / 2 + 1),
        ] {
            check::<MobileId>(bad, None);
        }
        assert!(MobileId::EXPECTED.contains(&format!("at most {MOBILE_ID_MAX_LEN} bytes")));
        let shape = |text: &str| {
            let id: MobileId = text.parse().unwrap();
            (id.is_android_id(), id.is_ios_uuid())
        };
        assert_eq!(shape("e248e1e9527f20ff"), (true, false));
        assert_eq!(shape("00DAB39B-B920-463A-A099-44B6138A3C95"), (false, true));
        for neither in [
            "e248e1e9527f20f",
            "e248e1e9527f20fg",
            "00DAB39B-B920-463A-A099-44B6138A3C9",
            "00DAB39B-B920-463A-A099-44B6138A3C9Z",
            "not a phone",
        ] {
            assert_eq!(shape(neither), (false, false), "{neither}");
        }
    }

    #[test]
    fn serde_is_a_string() {
        let code: LicenseActivationCode = serde_json::from_str("\"1ff69b062510f42941ae\"").unwrap();
        assert_eq!(
            serde_json::to_string(&code).unwrap(),
            "\"1FF6-9B06-2510-F429-41AE\""
        );
        assert!(serde_json::from_str::<TokenSerial>("\"nope\"").is_err());
    }
    #[test]
    fn hardware_serials() {
        for ok in [
            "FTK200BAA0000000",
            " ftk211bcd1234567 ",
            "FTK220ZZ00000001",
            "FTK210AAAAAAAAAA",
        ] {
            check::<HardwareSerial>(ok, Some(&ok.trim().to_ascii_uppercase()));
        }
        for bad in [
            "FTK200BAA000000",
            "FTK201BAA0000000",
            "FTKMOB947FDC1754",
            "FTK200BAA-000000",
            "",
        ] {
            check::<HardwareSerial>(bad, None);
        }
        let serial: HardwareSerial = "FTK211BAA0000001".parse().unwrap();
        assert_eq!(serial.model(), HardwareModel::Ftk211);
        assert!(!serial.model().online() && HardwareModel::Ftk220.online());
        assert_eq!(
            serde_json::to_string(&HardwareModel::Ftk210).unwrap(),
            "\"FTK210\""
        );
    }
}

crate::schema::text_schema!(
    HardwareModel,
    "A hardware FortiToken model, by its serials' prefix.",
    "FTK200"
);

crate::schema::text_schema!(
    HardwareSerial,
    "A hardware FortiToken serial: a model prefix and 10 uppercase letters or digits.",
    "FTK200BAA0000000"
);
