//! The QR code an activation email carries: the activation code's URI (`protocol::modeled::qr_payload`)
//! encoded by `qrcode` and written as a grayscale PNG by `png`, with a quiet zone, at a size a phone's
//! camera reads.

use qrcode::{Color, EcLevel, QrCode};

/// Pixels per QR module.
const SCALE: usize = 8;
/// Modules of white border (the quiet zone the QR standard asks for).
const QUIET: usize = 4;

/// The PNG of a QR code holding `payload`.
pub fn png(payload: &str) -> anyhow::Result<Vec<u8>> {
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules + QUIET, i / modules + QUIET);
        for y in my * SCALE..(my + 1) * SCALE {
            pixels[y * side + mx * SCALE..y * side + (mx + 1) * SCALE].fill(0);
        }
    }
    let mut out = Vec::new();
    let side = u32::try_from(side)?;
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_is_a_png() {
        let image =
            png("fortitokenmobile://activate?code=EEIOHIDHBXN5QLXV&server=globalftm.fortinet.net")
                .unwrap();
        assert!(image.starts_with(b"\x89PNG\r\n\x1a\n"));
        let decoder = png::Decoder::new(std::io::Cursor::new(&image));
        let reader = decoder.read_info().unwrap();
        assert_eq!(reader.info().width, reader.info().height);
    }
}
