//! The escrow's rules, as pure functions: what a valid provisioning request is, and what state a token is in.
//!
//! An appliance provisions a token by uploading the seed it generated; the seed waits in escrow under a
//! freshly minted activation code until the phone downloads it (once) or the code expires. Provisioning the
//! same token again replaces the escrow entry and so invalidates the old code.

use protocol::activation::TokenActivationCode;
use protocol::id::{ApplianceSerial, LicenseId, TokenSerial};
use protocol::modeled::{self, TokenStatus};
use protocol::otp::OtpKind;
use protocol::provision::ProvisionToken;
use protocol::seed::Seed;
use protocol::time::UnixTime;

/// The longest activation validity FortiOS allows: `two-factor-ftm-expiry` 168 hours.
pub const MAX_CODE_MINUTES: i64 = 168 * 60;

/// A validated token of a ProvisionRequest.
#[derive(Debug, Clone)]
pub struct ProvisionSpec {
    pub token: TokenSerial,
    pub seed: Seed,
    pub params: OtpParams,
    /// How long the activation code stays valid, in minutes.
    pub valid_minutes: i64,
}

/// How the phone computes OTPs for a token.
pub use protocol::otp::OtpParams;

/// What ftm knows about a provisioned token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenState {
    pub token: TokenSerial,
    pub license: LicenseId,
    /// The appliance that provisioned it (the phone shows it as the issuer).
    pub appliance: ApplianceSerial,
    pub params: OtpParams,
    /// The activation code in escrow; `None` once the phone has downloaded the seed.
    pub code: Option<TokenActivationCode>,
    pub provisioned: UnixTime,
    pub expires: UnixTime,
    pub activation: Option<Activation>,
}

/// A phone's download of a token's seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    /// Hex SHA-256 of the phone's `mobile_id`.
    pub mobile_id_hash: String,
    /// The phone's push registration id (FortiOS `reg-id`).
    pub reg_id: String,
    /// The app version and platform (FortiOS `os-ver`).
    pub os_ver: String,
    pub at: UnixTime,
}

/// Checks one token of a ProvisionRequest (everything but ownership, which forticare decides). The error
/// names the field, for a protocol fault.
pub fn validate(token: &TokenSerial, wire: &ProvisionToken) -> Result<ProvisionSpec, String> {
    let seed = Seed::from_hex(&wire.seed).map_err(|e| format!("seed: {e}"))?;
    let kind = OtpKind::parse(&wire.kind)
        .ok_or_else(|| format!("type: `{}` is neither totp nor hotp", short(&wire.kind)))?;
    let params = OtpParams {
        kind,
        period: wire.period,
        digits: wire.digits,
    };
    // The phone learns these from the activation code's flag byte, which carries only some.
    if let Some(refusal) = modeled::otp_wire_refusal(&params) {
        return Err(refusal);
    }
    if !(1..=MAX_CODE_MINUTES).contains(&wire.code_expire) {
        return Err(format!(
            "code_expire: {} is not between 1 and {MAX_CODE_MINUTES} minutes",
            wire.code_expire
        ));
    }
    Ok(ProvisionSpec {
        token: token.clone(),
        seed,
        params,
        valid_minutes: wire.code_expire,
    })
}

/// A token's state as PollingResponse reports it.
pub fn status(state: Option<&TokenState>, now: UnixTime) -> TokenStatus {
    match state {
        None => TokenStatus::Unknown,
        Some(state) if state.activation.is_some() => TokenStatus::Activated,
        Some(state) if now >= state.expires => TokenStatus::Expired,
        Some(_) => TokenStatus::Pending,
    }
}

/// A token's state as PollingResponse reports it to `cluster`, which owns the token since an RMA transfer
/// at `since` (if any): nothing provisioned by another appliance is carried over, so such a token reads as
/// never provisioned until the new owner provisions it. With the status: whether the state is carried.
pub fn status_since(
    state: Option<&TokenState>,
    since: Option<UnixTime>,
    cluster: &[ApplianceSerial],
    now: UnixTime,
) -> (TokenStatus, bool) {
    match (state, since) {
        (Some(state), Some(_)) if !cluster.contains(&state.appliance) => {
            (TokenStatus::Unknown, false)
        }
        (state, _) => (status(state, now), true),
    }
}

/// Whether a code minted at provisioning may still be redeemed.
pub fn redeemable(expires: UnixTime, now: UnixTime) -> bool {
    now < expires
}

fn short(text: &str) -> String {
    text.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(seed: &str, kind: &str, period: u32, digits: u32, code_expire: i64) -> ProvisionToken {
        ProvisionToken {
            token: "FTKMOB947FDC1754".into(),
            seed: seed.into(),
            code_expire,
            kind: kind.into(),
            period,
            digits,
        }
    }

    const SEED: &str = "A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A";

    #[test]
    fn validation_names_the_bad_field() {
        let token: TokenSerial = "FTKMOB947FDC1754".parse().unwrap();
        assert!(validate(&token, &wire(SEED, "totp", 60, 6, 4320)).is_ok());
        assert!(validate(&token, &wire(SEED, "HOTP", 30, 8, 60)).is_ok());
        for (bad, field) in [
            (wire("XYZ", "totp", 60, 6, 4320), "seed"),
            (wire("", "totp", 60, 6, 4320), "seed"),
            (wire(SEED, "sms", 60, 6, 4320), "type"),
            (wire(SEED, "totp", 0, 6, 4320), "period"),
            (wire(SEED, "totp", 45, 6, 4320), "period"),
            (wire(SEED, "hotp", 120, 6, 4320), "period"),
            (wire(SEED, "totp", 60, 7, 4320), "digits"),
            (wire(SEED, "totp", 60, 6, 0), "code_expire"),
            (
                wire(SEED, "totp", 60, 6, MAX_CODE_MINUTES + 1),
                "code_expire",
            ),
        ] {
            let error = validate(&token, &bad).unwrap_err();
            assert!(error.starts_with(field), "{error}");
        }
    }

    #[test]
    fn status_follows_activation_and_expiry() {
        let now = UnixTime::from_secs(1_000);
        let mut state = TokenState {
            token: "FTKMOB947FDC1754".parse().unwrap(),
            license: "EFTM000000000005".parse().unwrap(),
            appliance: "FGVM01TM00000001".parse().unwrap(),
            params: OtpParams {
                kind: OtpKind::Totp,
                period: 60,
                digits: 6,
            },
            code: Some(TokenActivationCode::new(0x10, [1; 8])),
            provisioned: now,
            expires: now.plus_secs(60),
            activation: None,
        };
        assert_eq!(status(None, now), TokenStatus::Unknown);
        assert_eq!(status(Some(&state), now), TokenStatus::Pending);
        assert_eq!(
            status(Some(&state), now.plus_secs(60)),
            TokenStatus::Expired
        );
        state.activation = Some(Activation {
            mobile_id_hash: "h".into(),
            reg_id: "r".into(),
            os_ver: "o".into(),
            at: now,
        });
        assert_eq!(
            status(Some(&state), now.plus_secs(600)),
            TokenStatus::Activated
        );
        assert!(redeemable(now.plus_secs(60), now) && !redeemable(now, now));
        // After an RMA transfer, what another appliance provisioned is not the new owner's.
        let other: ApplianceSerial = "FGVM01TM00000002".parse().unwrap();
        assert_eq!(
            status_since(
                Some(&state),
                Some(now),
                std::slice::from_ref(&other),
                now.plus_secs(5)
            ),
            (TokenStatus::Unknown, false)
        );
        assert_eq!(
            status_since(
                Some(&state),
                Some(now),
                &[other, state.appliance.clone()],
                now
            ),
            (TokenStatus::Activated, true)
        );
        assert_eq!(
            status_since(Some(&state), None, &[], now),
            (TokenStatus::Activated, true)
        );
    }
}
