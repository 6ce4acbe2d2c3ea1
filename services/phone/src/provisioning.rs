//! The app's side of token activation (dossier 3.2 to 3.5): read the code the user typed or scanned, send
//! `SoftToken.MobileProvisionRequest` to the provisioning server's `/SoftToken/Provisioning.asmx/Mobile`
//! exactly as FortiToken Mobile 4.9.9 does, and turn the answer into a token to store or a refusal. How to
//! compute the token's codes comes from the code's flag byte and the answer's `counter`
//! (`modeled::otp_from_wire`), as public clients read them: the answer has no field for it. HTTP only: the
//! phone never links the ftm crate.

use anyhow::Context;
use lab::flow::InFlow;
use protocol::activation::TokenActivationCode;
use protocol::catalogue::CATALOGUE;
use protocol::envelope::Envelope;
use protocol::id::{IdError, MobileId, TokenSerial};
use protocol::mobile::{MobileProvisionRequest, MobileProvisionResponse};
use protocol::modeled::{ProtocolFault, code_from_qr, otp_from_wire};
use protocol::paths::MOBILE;
use protocol::seed::decrypt_from_server;

use crate::app_data::Delivered;
use crate::device::Identity;

/// The `__version` FortiToken Mobile 4.9.9 sends.
pub(crate) const MESSAGE_VERSION: &str = "5";

/// The error id of a refusal the catalogue does not know.
const UNKNOWN_REFUSAL: &str = "phone.activation-refused";

/// Why an activation did not give the phone a token.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    /// The server answered with `d.error`, as it does for an unknown, used or expired code.
    #[error("{message}")]
    Refused { error_id: String, message: String },
    /// The server could not be reached.
    #[error("the provisioning server did not answer: {0:#}")]
    Unreachable(anyhow::Error),
    /// The server answered something the app cannot use.
    #[error("the provisioning server's answer is unusable: {0}")]
    BadAnswer(String),
}

/// An activation code as the user entered it: the payload the app sends, and the flag byte that says how
/// to compute the token's codes, which only the 16-character code has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnteredCode {
    pub payload: [u8; 8],
    /// `None` when the user gave the 16-hex-digit wire form.
    pub flag: Option<u8>,
}

/// An activation code as the user enters it: the 16-character base32 code (any letter case, spaces and
/// dashes ignored), its 16-hex-digit wire form, or the QR string that carries it.
pub fn code_from_input(text: &str) -> Result<EnteredCode, IdError> {
    let code = code_from_qr(text).unwrap_or_else(|| text.to_owned());
    let payload = TokenActivationCode::payload_from_input(&code)?;
    // Input read as the hex payload has no flag, even when it also parses as a code.
    let flag = code
        .parse::<TokenActivationCode>()
        .ok()
        .filter(|typed| typed.payload() == payload)
        .map(|typed| typed.flag());
    Ok(EnteredCode { payload, flag })
}

/// The request the app sends for `code` (the payload as 16 lowercase hex digits, as the app sends it).
pub fn request(identity: &Identity, code: [u8; 8]) -> MobileProvisionRequest {
    MobileProvisionRequest {
        version: MESSAGE_VERSION.to_owned(),
        device_version: identity.os_ver(),
        device_build: identity.build.clone(),
        mobile_id: identity.mobile_id.to_string(),
        registration_id: identity.registration_id.clone(),
        token_activation_code: hex::encode(code),
    }
}

/// What the server's answer to `code` gives the phone `mobile_id`: the token to store, or why not.
pub fn delivered(
    response: MobileProvisionResponse,
    mobile_id: &MobileId,
    code: &EnteredCode,
) -> Result<Delivered, ActivationError> {
    if let Some(error) = &response.error {
        let error_id = CATALOGUE
            .iter()
            .find(|entry| entry.matches(error))
            .map_or(UNKNOWN_REFUSAL, |entry| entry.id);
        return Err(ActivationError::Refused {
            error_id: error_id.to_owned(),
            message: format!("{} ({})", error.error_message, error.error_code),
        });
    }
    let bad = |what: String| ActivationError::BadAnswer(what);
    let serial: TokenSerial = response
        .token
        .parse()
        .map_err(|e| bad(format!("token: {e}")))?;
    let seed =
        decrypt_from_server(&response.seed, mobile_id).map_err(|e| bad(format!("seed: {e}")))?;
    let otp = otp_from_wire(code.flag, response.counter).map_err(bad)?;
    Ok(Delivered {
        serial,
        seed,
        kind: otp.params.kind,
        period: otp.params.period,
        digits: otp.params.digits,
        counter: otp.counter,
        issuer: response.issuer,
        image_file: response.image_file,
        pin_required: response.pin_required,
        pin_length: i64::from(response.pin_length),
        pin_required_type: response.pin_require_type.trim().parse().unwrap_or(0),
    })
}

/// An HTTP client for one provisioning server.
#[derive(Clone)]
pub struct FtmClient {
    pub(crate) http: reqwest::Client,
    pub(crate) base_url: String,
}

impl FtmClient {
    pub fn new(http: reqwest::Client, base_url: &str) -> FtmClient {
        FtmClient {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// Redeems `code` for the phone `identity`. The server takes the seed out of escrow when it answers
    /// with one, so a token it delivered must be stored.
    pub async fn activate(
        &self,
        identity: &Identity,
        code: EnteredCode,
    ) -> Result<Delivered, ActivationError> {
        let url = format!("{}{MOBILE}", self.base_url);
        let response = self
            .http
            .post(&url)
            .in_flow()
            .header("content-type", "application/json;charset=utf-8")
            .header("accept", "application/json")
            .body(Envelope::to_vec(&request(identity, code.payload)))
            .send()
            .await
            .with_context(|| format!("POST {url}"))
            .map_err(ActivationError::Unreachable)?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .with_context(|| format!("reading the answer of {url}"))
            .map_err(ActivationError::Unreachable)?;
        if !status.is_success() {
            let detail = match serde_json::from_slice::<ProtocolFault>(&body) {
                Ok(fault) => format!("{} ({})", fault.message, fault.error_id),
                Err(_) => String::from_utf8_lossy(&body).chars().take(200).collect(),
            };
            return Err(ActivationError::BadAnswer(format!(
                "POST {url} answered HTTP {status}: {detail}"
            )));
        }
        let Envelope(answer) = serde_json::from_slice::<Envelope<MobileProvisionResponse>>(&body)
            .map_err(|e| {
            ActivationError::BadAnswer(format!("not a MobileProvisionResponse: {e}"))
        })?;
        delivered(answer, &identity.mobile_id, &code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::catalogue::ACTIVATION_CODE_INVALID;
    use protocol::otp::OtpKind;
    use protocol::phone::NewPhone;
    use protocol::seed::{Seed, encrypt_for_phone};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const SEED: &str = "A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A";

    fn identity() -> Identity {
        crate::device::identity(
            &NewPhone {
                mobile_id: Some("e248e1e9527f20ff".parse().unwrap()),
                registration_id: Some("dzbg2OOiDYM:APA91bF7EP6PJ9".into()),
                ..NewPhone::default()
            },
            &mut StdRng::seed_from_u64(1),
        )
        .unwrap()
    }

    fn success() -> MobileProvisionResponse {
        let mut response = MobileProvisionResponse::refused(ACTIVATION_CODE_INVALID.wire_error());
        response.error = None;
        response.token = "FTKMOB00C82980A7".into();
        response.seed = encrypt_for_phone(&Seed::from_hex(SEED).unwrap(), &identity().mobile_id);
        response.issuer = "FGVM01TM00000001".into();
        response.counter = 1;
        response.pin_required = "N".into();
        response.pin_require_type = "0".into();
        response
    }

    /// A 60-second code as an appliance mints it (flag `0x10`).
    const SIXTY: EnteredCode = EnteredCode {
        payload: [0xe3, 0xa0, 0x67, 0x0d, 0xdb, 0xd8, 0x2e, 0xf5],
        flag: Some(0x10),
    };

    #[test]
    fn codes_as_typed_as_sent_or_scanned() {
        let payload = [0xe3, 0xa0, 0x67, 0x0d, 0xdb, 0xd8, 0x2e, 0xf5];
        for input in [
            "EEIOHIDHBXN5QLXV",
            "eeio-hidh-bxn5-qlxv",
            " EEIO HIDH BXN5 QLXV ",
            "fortitokenmobile://activate?code=EEIOHIDHBXN5QLXV&server=globalftm.fortinet.net",
        ] {
            assert_eq!(code_from_input(input), Ok(SIXTY), "{input:?}");
        }
        // The wire form is the payload alone: no flag.
        assert_eq!(
            code_from_input("e3a0670ddbd82ef5"),
            Ok(EnteredCode {
                payload,
                flag: None
            })
        );
        // A portal code (`0x00`), and a 30-second HOTP 8-digit code fortimock mints (`0x09`).
        assert_eq!(
            code_from_input("EEAEVVEYZSERRHEM").map(|c| c.flag),
            Ok(Some(0x00))
        );
        let hotp = TokenActivationCode::new(0x09, payload).to_base32();
        assert_eq!(
            code_from_input(&hotp),
            Ok(EnteredCode {
                payload,
                flag: Some(0x09)
            })
        );
        for bad in [
            "",
            "EEIOHIDHBXN5QLX",
            "EEIOHIDHBXN5QLX1",
            "fortitokenmobile://activate?code=nope",
            "fortitokenmobile://activate?server=x",
        ] {
            assert!(code_from_input(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_request_is_what_the_app_sends() {
        let request = request(&identity(), SIXTY.payload);
        let json = serde_json::to_value(Envelope(request)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"d": {
                "__type": "SoftToken.MobileProvisionRequest",
                "__version": "5",
                "__device_version": "4.9.9_Android",
                "__device_build": "4.9.9.0009",
                "mobile_id": "e248e1e9527f20ff",
                "registration_id": "dzbg2OOiDYM:APA91bF7EP6PJ9",
                "token_activation_code": "e3a0670ddbd82ef5"
            }})
        );
    }

    #[test]
    fn a_success_gives_the_seed_and_the_token() {
        let delivered = delivered(success(), &identity().mobile_id, &SIXTY).unwrap();
        assert_eq!(delivered.seed, Seed::from_hex(SEED).unwrap());
        assert_eq!(delivered.serial.as_str(), "FTKMOB00C82980A7");
        assert_eq!(
            (delivered.counter, delivered.issuer.as_str()),
            (1, "FGVM01TM00000001")
        );
    }

    #[test]
    fn the_code_it_was_given_says_how_to_compute_codes() {
        let with = |flag: Option<u8>| {
            let code = EnteredCode { flag, ..SIXTY };
            let delivered = delivered(success(), &identity().mobile_id, &code).unwrap();
            (delivered.kind, delivered.period, delivered.digits)
        };
        assert_eq!(with(Some(0x10)), (OtpKind::Totp, 60, 6));
        assert_eq!(with(Some(0x00)), (OtpKind::Totp, 30, 6));
        assert_eq!(with(Some(0x18)), (OtpKind::Totp, 60, 8));
        assert_eq!(with(Some(0x09)), (OtpKind::Hotp, 30, 8));
        // Given only the payload, the phone assumes a FortiGate token.
        assert_eq!(with(None), (OtpKind::Totp, 60, 6));

        // An answer that names a period, as fortimock's used to, does not override the code's.
        let mut answer = serde_json::to_value(Envelope(success())).unwrap();
        answer["d"]["type"] = "hotp".into();
        answer["d"]["period"] = 60.into();
        answer["d"]["digits"] = 8.into();
        let Envelope(answer) =
            serde_json::from_value::<Envelope<MobileProvisionResponse>>(answer).unwrap();
        let thirty = EnteredCode {
            flag: Some(0x00),
            ..SIXTY
        };
        let delivered = delivered(answer, &identity().mobile_id, &thirty).unwrap();
        assert_eq!(
            (delivered.kind, delivered.period, delivered.digits),
            (OtpKind::Totp, 30, 6)
        );
    }

    #[test]
    fn a_hotp_token_starts_at_the_answers_counter() {
        let hotp = EnteredCode {
            flag: Some(0x11),
            ..SIXTY
        };
        let mut answer = success();
        answer.counter = 5;
        let delivered = delivered(answer, &identity().mobile_id, &hotp).unwrap();
        assert_eq!((delivered.kind, delivered.counter), (OtpKind::Hotp, 5));
    }

    #[test]
    fn refusals_carry_the_catalogue_id() {
        let refused = MobileProvisionResponse::refused(ACTIVATION_CODE_INVALID.wire_error());
        match delivered(refused, &identity().mobile_id, &SIXTY) {
            Err(ActivationError::Refused { error_id, message }) => {
                assert_eq!(error_id, "ftm.mobile.code-invalid");
                assert_eq!(message, "FTM token Activation Code is invalid (40)");
            }
            other => panic!("{other:?}"),
        }
        let mut unknown = MobileProvisionResponse::refused(ACTIVATION_CODE_INVALID.wire_error());
        if let Some(error) = unknown.error.as_mut() {
            error.error_code = 99;
        }
        assert!(matches!(
            delivered(unknown, &identity().mobile_id, &SIXTY),
            Err(ActivationError::Refused { error_id, .. }) if error_id == UNKNOWN_REFUSAL
        ));
    }

    #[test]
    fn unusable_answers_are_errors() {
        let other_phone: MobileId = "0123456789abcdef".parse().unwrap();
        assert!(matches!(
            delivered(success(), &other_phone, &SIXTY),
            Err(ActivationError::BadAnswer(_))
        ));
        for change in [
            |r: &mut MobileProvisionResponse| r.token = "nope".into(),
            |r: &mut MobileProvisionResponse| r.counter = -1,
        ] {
            let mut response = success();
            change(&mut response);
            assert!(matches!(
                delivered(response, &identity().mobile_id, &SIXTY),
                Err(ActivationError::BadAnswer(_))
            ));
        }
    }
}
