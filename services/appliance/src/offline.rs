//! Offline activation on a FortiAuthenticator (KB 425535, FAC ≥ 6.6.1, "Provision mode: Offline"): after the
//! one online license activation, a token assigned to a user is activated from a QR code on the FAC's
//! activation page, which carries everything the phone needs (`modeled::offline_activation_payload`), with no
//! call to the FortiToken server. Only FortiAuthenticator does this. The QR code is drawn as a PNG, as the page
//! and activation emails show it.

use protocol::appliance::{FortiTokenStatus, ProvisionOutcome};
use protocol::fac_admin::ActivationPage;
use protocol::id::TokenSerial;
use protocol::modeled::{OfflineActivation, offline_activation_payload};
use protocol::otp::{OtpKind, OtpParams};
use protocol::seed::Seed;
use protocol::time::UnixTime;
use qrcode::{Color, QrCode};

use crate::auth::TokenTiming;
use crate::error::ApplianceError;
use crate::fortitoken::{Appliance, Token};
use crate::operations::Ops;

/// Pixels per QR module in the PNG, and the quiet zone around it in modules (ISO/IEC 18004 asks for 4).
pub const PNG_SCALE: usize = 4;
pub const QUIET_ZONE: usize = 4;

/// The payload of `token`'s activation page on `appliance`.
pub fn payload(appliance: &Appliance, token: &Token, seed: &Seed, params: OtpParams) -> String {
    offline_activation_payload(&OfflineActivation {
        token: token.serial.clone(),
        issuer: appliance.serial.to_string(),
        seed: seed.clone(),
        params,
        counter: 1,
    })
}

/// Provisions `token` to `user` offline: the appliance keeps the seed it generated and the token waits,
/// Pending, for the phone to scan its activation page; no FortiToken server is asked. It becomes Assigned when
/// the user first authenticates with it (KB 425535, step 9.2), with no poll.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn provision(
    ops: &Ops<'_>,
    appliance: &Appliance,
    token: &Token,
    user: &str,
    seed: Seed,
    timing: TokenTiming,
    kind: OtpKind,
    minutes: u32,
) -> Result<ProvisionOutcome, ApplianceError> {
    let now = ops.clock.now();
    let expire = now.secs() + i64::from(minutes) * 60;
    let mut provisioned = token.provisioned(user, timing, String::new(), expire);
    provisioned.activation_code = None;
    ops.store
        .save_provisioned(&appliance.serial, &provisioned, &seed, kind, true)
        .await?
        .map_err(ApplianceError::Conflict)?;
    let params = OtpParams {
        kind,
        period: timing.period,
        digits: timing.digits,
    };
    Ok(ProvisionOutcome {
        token: provisioned.view(now),
        qr_code: payload(appliance, &provisioned, &seed, params),
        debug: vec![format!(
            "fac_provision_offline: {} provisioned offline for {user}: the activation page shows its QR code",
            token.serial
        )],
        delivered: None,
    })
}

/// The activation page of `token`: only for a token provisioned offline and still waiting for its phone.
pub(crate) fn activation_page(
    ops: &Ops<'_>,
    appliance: &Appliance,
    token: &TokenSerial,
    now: UnixTime,
) -> Result<ActivationPage, ApplianceError> {
    let not_found = || {
        ApplianceError::NotFound(format!(
            "no activation page for {token} on {}",
            appliance.serial
        ))
    };
    let row = ops
        .store
        .tokens(&appliance.serial)?
        .into_iter()
        .find(|t| &t.serial == token)
        .ok_or_else(not_found)?;
    let info = ops
        .store
        .fac_tokens(&appliance.serial)?
        .remove(token)
        .filter(|info| info.offline)
        .ok_or_else(|| {
            ApplianceError::Conflict(format!(
                "{token} was not provisioned offline: its activation code went through the FortiToken server"
            ))
        })?;
    if row.status_at(now) != FortiTokenStatus::Pending {
        return Err(ApplianceError::Conflict(format!(
            "{token} is {:?}, not waiting for its phone: the activation page shows nothing",
            row.status_at(now)
        )));
    }
    let seed = ops
        .store
        .seed_of(&appliance.serial, token)?
        .ok_or_else(not_found)?;
    let params = OtpParams {
        kind: if info.hotp.is_some() {
            OtpKind::Hotp
        } else {
            OtpKind::Totp
        },
        period: row.timing.period,
        digits: row.timing.digits,
    };
    Ok(ActivationPage {
        token: token.clone(),
        user: row.user.clone().unwrap_or_default(),
        payload: payload(appliance, &row, &seed, params),
        expires: UnixTime::from_secs(row.activation_expire.unwrap_or_default()),
    })
}

/// `text` as a QR code in a grayscale PNG: black modules on white, [`PNG_SCALE`] pixels each, with the quiet
/// zone.
pub fn qr_png(text: &str) -> anyhow::Result<Vec<u8>> {
    let code = QrCode::new(text.as_bytes())?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_ZONE) * PNG_SCALE;
    let mut pixels = vec![255u8; side * side];
    for (index, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (x, y) = (index % modules + QUIET_ZONE, index / modules + QUIET_ZONE);
        for dy in 0..PNG_SCALE {
            let row = (y * PNG_SCALE + dy) * side;
            for dx in 0..PNG_SCALE {
                pixels[row + x * PNG_SCALE + dx] = 0;
            }
        }
    }
    let side = u32::try_from(side)?;
    let mut png = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&pixels)?;
    }
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a PNG back into its modules, for comparing with what `qrcode` made of the text.
    fn modules_of(png_bytes: &[u8]) -> (usize, Vec<bool>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        let side = info.width as usize;
        let modules = side / PNG_SCALE - 2 * QUIET_ZONE;
        let dark = (0..modules * modules)
            .map(|i| {
                let (x, y) = (i % modules + QUIET_ZONE, i / modules + QUIET_ZONE);
                pixels[(y * PNG_SCALE) * side + x * PNG_SCALE] == 0
            })
            .collect();
        (modules, dark)
    }

    #[test]
    fn the_png_holds_exactly_the_qr_code_of_the_text() {
        let text = "fortitokenmobile://offline?sn=FTKMOB00C82980A7&issuer=FAC-VMTM00000001";
        let png_bytes = qr_png(text).unwrap();
        assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
        let (modules, dark) = modules_of(&png_bytes);
        let code = QrCode::new(text.as_bytes()).unwrap();
        assert_eq!(modules, code.width());
        let expected: Vec<bool> = code.to_colors().iter().map(|c| *c == Color::Dark).collect();
        assert_eq!(dark, expected);
    }
}
