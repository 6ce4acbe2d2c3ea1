//! Activation messages end to end: email over SMTP with its QR code scanned by the virtual phone, SMS, and delivery failures.
