//! The phone's camera: reads the QR code in an image (the PNG an activation email carries inline) the way
//! the app's scanner does, with `png` to decode the image and `rqrr` to find and decode the QR code.

/// The largest image the camera takes (a QR code PNG of an activation email is a few KiB).
pub const MAX_IMAGE: usize = 2 * 1024 * 1024;

/// The text of the first QR code found in `png_bytes`, or why none was read.
pub fn read_qr(png_bytes: &[u8]) -> Result<String, String> {
    if png_bytes.len() > MAX_IMAGE {
        return Err(format!("the image is over {MAX_IMAGE} bytes"));
    }
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder
        .read_info()
        .map_err(|e| format!("not a PNG image: {e}"))?;
    let size = reader
        .output_buffer_size()
        .ok_or("the PNG image is too large")?;
    let (width, height) = (reader.info().width as usize, reader.info().height as usize);
    if width == 0 || height == 0 || width.saturating_mul(height) > 16_000_000 {
        return Err(format!("a {width}x{height} image is not one a camera sees"));
    }
    let mut buffer = vec![0; size];
    let frame = reader
        .next_frame(&mut buffer)
        .map_err(|e| format!("the PNG image cannot be read: {e}"))?;
    let channels = frame.color_type.samples();
    let pixels = &buffer[..frame.buffer_size()];
    let luma = |x: usize, y: usize| -> u8 {
        let at = (y * frame.line_size) + x * channels;
        match channels {
            1 | 2 => pixels[at],
            _ => {
                let (r, g, b) = (
                    u32::from(pixels[at]),
                    u32::from(pixels[at + 1]),
                    u32::from(pixels[at + 2]),
                );
                u8::try_from((r * 299 + g * 587 + b * 114) / 1000).unwrap_or(u8::MAX)
            }
        }
    };
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, luma);
    let grids = image.detect_grids();
    let grid = grids.first().ok_or("no QR code found in the image")?;
    let (_, text) = grid
        .decode()
        .map_err(|e| format!("the QR code cannot be read: {e}"))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_without_a_qr_code_are_refused() {
        assert!(
            read_qr(b"not a png")
                .unwrap_err()
                .starts_with("not a PNG image")
        );
        let mut blank = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut blank, 64, 64);
            encoder.set_color(png::ColorType::Grayscale);
            let mut writer = encoder.write_header().unwrap();
            writer.write_image_data(&[255u8; 64 * 64]).unwrap();
        }
        assert_eq!(
            read_qr(&blank).unwrap_err(),
            "no QR code found in the image"
        );
    }
}
