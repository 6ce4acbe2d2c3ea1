//! The FortiToken Mobile redemption certificate: the one-page PDF FortiCare mails with a license (and
//! Customer Service attaches to a transfer ticket), named `<EFTM id>.pdf` (dossier 2.8, §8: "FortiToken
//! Mobile Redemption Certificate", `Certificate Valid Until <date>`, `Serial Number <EFTM…>`).
//!
//! Written with `pdf-writer` (the text is real text, in the standard Helvetica font, so it can be selected,
//! searched and extracted) and a QR code of the activation code from `qrcode`, embedded as an image (one
//! 8-bit gray sample per module, its quiet zone included, scaled up without interpolation), as a printed
//! certificate's scan would carry it: a PDF reader can extract it and a QR decoder read it back.
//! The same license always gives the same bytes: the PDF carries no creation date.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use qrcode::{Color, EcLevel, QrCode};

use crate::ledger::License;

/// The media type the certificate is served as.
pub const CONTENT_TYPE: &str = "application/pdf";

/// The file name Customer Service gives it: the license's SKU id.
pub fn file_name(license: &License) -> String {
    format!("{}.pdf", license.id)
}

/// A date as the certificate prints it: `FEB 04, 2022` (the scanned certificate, dossier §8).
fn printed_date(date: protocol::time::CivilDate) -> String {
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    let month = MONTHS
        .get(date.month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("JAN");
    format!("{month} {:02}, {}", date.day, date.year)
}

/// The lines of text on the certificate, top to bottom: (font size, bold, text).
fn lines(license: &License, code: &str) -> Vec<(f32, bool, String)> {
    vec![
        (22.0, true, "FortiToken Mobile Redemption Certificate".to_owned()),
        (
            11.0,
            false,
            "Enter the activation code on your FortiGate or FortiAuthenticator to download your tokens."
                .to_owned(),
        ),
        (13.0, true, format!("SKU {}", license.sku())),
        (
            13.0,
            false,
            format!("Quantity {} FortiToken Mobile tokens", license.seats),
        ),
        (13.0, false, format!("Serial Number {}", license.id)),
        (16.0, true, format!("Activation Code {code}")),
        (
            13.0,
            false,
            format!(
                "Certificate Valid Until {}",
                printed_date(license.certificate_valid_until())
            ),
        ),
        (
            10.0,
            false,
            format!("FortiGate CLI: execute fortitoken-mobile import {code}"),
        ),
        (
            9.0,
            false,
            "Issued by fortimock, a lab emulation of FortiCare: not a Fortinet document.".to_owned(),
        ),
    ]
}

/// The license's redemption certificate as a PDF. `None` for a license without an activation code (a
/// trial: the trial code is on no certificate).
pub fn render(license: &License) -> Option<Vec<u8>> {
    let code = license.code.as_ref()?.to_string();
    let catalog = Ref::new(1);
    let pages = Ref::new(2);
    let page = Ref::new(3);
    let regular = Ref::new(4);
    let bold = Ref::new(5);
    let contents = Ref::new(6);
    let info = Ref::new(7);
    let qr_image = Ref::new(8);
    let (regular_name, bold_name) = (Name(b"F1"), Name(b"F2"));
    let qr_name = Name(b"Im1");
    let qr = qr_samples(&code);
    // A4 landscape, in points.
    let (width, height) = (842.0, 595.0);

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(pages);
    pdf.pages(pages).kids([page]).count(1);
    let mut page_writer = pdf.page(page);
    page_writer
        .media_box(Rect::new(0.0, 0.0, width, height))
        .parent(pages)
        .contents(contents);
    let mut resources = page_writer.resources();
    resources
        .fonts()
        .pair(regular_name, regular)
        .pair(bold_name, bold);
    if qr.is_some() {
        resources.x_objects().pair(qr_name, qr_image);
    }
    resources.finish();
    page_writer.finish();
    for (id, font) in [(regular, "Helvetica"), (bold, "Helvetica-Bold")] {
        pdf.type1_font(id)
            .base_font(Name(font.as_bytes()))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    let title = format!("FortiToken Mobile Redemption Certificate {}", license.id);
    pdf.document_info(info)
        .title(TextStr(&title))
        .producer(TextStr("fortimock"));

    let mut content = Content::new();
    // A frame, as the printed certificate has.
    content
        .set_line_width(2.0)
        .rect(24.0, 24.0, width - 48.0, height - 48.0)
        .stroke();
    let mut y = height - 90.0;
    for (size, is_bold, text) in lines(license, &code) {
        content
            .begin_text()
            .set_font(if is_bold { bold_name } else { regular_name }, size)
            .next_line(60.0, y)
            .show(Str(text.as_bytes()))
            .end_text();
        y -= size * 2.4;
    }
    if let Some((side, samples)) = &qr {
        let side_px = i32::try_from(*side).unwrap_or(i32::MAX);
        let mut image = pdf.image_xobject(qr_image, samples);
        image
            .width(side_px)
            .height(side_px)
            .bits_per_component(8)
            .interpolate(false);
        image.color_space().device_gray();
        image.finish();
        // 200 points square, bottom left at (width - 260, 90).
        content
            .save_state()
            .transform([200.0, 0.0, 0.0, 200.0, width - 260.0, 90.0])
            .x_object(qr_name)
            .restore_state();
    }
    pdf.stream(contents, &content.finish());
    Some(pdf.finish())
}

/// The QR code of `text` as an image: its side in samples and its 8-bit gray samples, row by row from the
/// top, one per module (0 dark, 255 light), with four modules of quiet zone around the symbol as the
/// standard asks. `None` if `text` does not fit a QR code (a 24-character code always does; should it
/// not, the certificate goes without one).
fn qr_samples(text: &str) -> Option<(usize, Vec<u8>)> {
    const QUIET: usize = 4;
    let qr = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let modules = qr.width();
    let side = modules + 2 * QUIET;
    let mut samples = vec![255u8; side * side];
    for (i, color) in qr.to_colors().iter().enumerate() {
        if *color == Color::Dark {
            let (col, row) = (i % modules, i / modules);
            samples[(row + QUIET) * side + col + QUIET] = 0;
        }
    }
    Some((side, samples))
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::time::UnixTime;

    fn license() -> License {
        License {
            id: "EFTM010130823929".parse().unwrap(),
            code: Some("1FF6-9B06-2510-F429-41AE".parse().unwrap()),
            seats: 50,
            valid_until: Some("2022-02-04".parse().unwrap()),
            note: None,
            created: UnixTime::from_secs(1_600_000_000),
            owner: None,
            shipped: "2021-02-04".parse().unwrap(),
            account: None,
            former: Vec::new(),
            since: None,
        }
    }

    #[test]
    fn the_certificate_is_a_pdf_whose_text_can_be_read_back() {
        let pdf = render(&license()).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert_eq!(
            render(&license()).unwrap(),
            pdf,
            "the same bytes every time"
        );
        let document = lopdf::Document::load_mem(&pdf).unwrap();
        let text = document.extract_text(&[1]).unwrap();
        for wanted in [
            "FortiToken Mobile Redemption Certificate",
            "FTM-ELIC-50",
            "Quantity 50",
            "Serial Number EFTM010130823929",
            "Activation Code 1FF6-9B06-2510-F429-41AE",
            "Certificate Valid Until FEB 04, 2022",
        ] {
            assert!(text.contains(wanted), "{wanted:?} missing from {text:?}");
        }
        assert_eq!(file_name(&license()), "EFTM010130823929.pdf");
    }

    #[test]
    fn the_qr_code_is_an_image_with_its_quiet_zone_and_a_trial_has_no_certificate() {
        let mut trial = license();
        trial.code = None;
        assert!(render(&trial).is_none());
        let qr =
            QrCode::with_error_correction_level(b"1FF6-9B06-2510-F429-41AE", EcLevel::M).unwrap();
        let dark = qr.to_colors().iter().filter(|c| **c == Color::Dark).count();
        let (side, samples) = qr_samples("1FF6-9B06-2510-F429-41AE").unwrap();
        assert_eq!(side, qr.width() + 8);
        assert_eq!(samples.len(), side * side);
        assert_eq!(samples.iter().filter(|s| **s == 0).count(), dark);
        assert!(samples[..4 * side].iter().all(|s| *s == 255), "quiet zone");
        assert_eq!(printed_date("2026-11-30".parse().unwrap()), "NOV 30, 2026");
    }
}
