//! Fuzz target: a hardware token seed file as the virtual appliance imports it offline. Input starting with
//! `Z` is the rest as the password-protected zip (`appliance::seed_file::open`, password `fortimock`);
//! anything else is the unzipped FTK200CD text (`protocol::modeled::parse_seed_file`). Never a panic, an
//! error never quotes a seed, and an accepted file's entries written again read back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::modeled::{parse_seed_file, seed_file_text};

fuzz_target!(|data: &[u8]| {
    if let Some(zip) = data.strip_prefix(b"Z") {
        if let Ok(entries) = appliance::seed_file::open(zip, "fortimock") {
            let _ = entries.len();
        }
        return;
    }
    let text = String::from_utf8_lossy(data);
    match parse_seed_file(&text) {
        Ok(entries) => {
            let written = seed_file_text(&entries);
            assert_eq!(parse_seed_file(&written).ok(), Some(entries));
        }
        Err(why) => {
            // An error names the line, never its seed: no 40-hex-digit run of the input appears in it.
            for line in text.lines() {
                for field in line.split(',') {
                    let field = field.trim();
                    if field.len() >= 32 && field.bytes().all(|b| b.is_ascii_hexdigit()) {
                        assert!(!why.contains(field), "an error quotes a seed");
                    }
                }
            }
        }
    }
});
