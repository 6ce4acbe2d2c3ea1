//! Lays out the release `fortimock` binary for a quick, small start: the functions a start runs stand
//! together (`code-order.txt`, lld's `--symbol-ordering-file`), and its relative relocations are packed
//! (`-z pack-relative-relocs`, glibc 2.36's `DT_RELR`).
//!
//! A start runs about 4,300 functions spread over most of the 29 MB of code, and each page it touches maps
//! the 64 KiB around it (or the page cache's larger folio): 19 to 23 MiB of the code stayed resident after
//! a start, 6.4 to 8.3 MiB with them in order. The 52,000 relocations, read whole by the loader at each
//! start, take 15 KiB packed instead of 1.2 MiB. `tools/code-order/generate.py` writes the list.
//!
//! Both are link options of the release binary and nothing else: debug builds (the tests) link as before.
//! They are given only where the linker takes them, Rust's own lld (the default linker of
//! `x86_64-unknown-linux-gnu` since Rust 1.90) with no other linker configured, and packed relocations only
//! where the C library reads them. A name in the list this build does not define is left where it was.

#![allow(
    clippy::print_stdout,
    reason = "a build script speaks to cargo on stdout"
)]

use std::env;
use std::path::Path;
use std::process::Command;

const ORDER: &str = "code-order.txt";
const BINARY: &str = "fortimock";

fn main() {
    println!("cargo::rerun-if-changed={ORDER}");
    println!("cargo::rerun-if-env-changed=RUSTC_LINKER");
    if env::var("PROFILE").as_deref() != Ok("release") || !links_with_rust_lld() {
        return;
    }
    let manifest = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let order = Path::new(&manifest).join(ORDER);
    println!(
        "cargo::rustc-link-arg-bin={BINARY}=-Wl,--symbol-ordering-file={}",
        order.display()
    );
    println!("cargo::rustc-link-arg-bin={BINARY}=-Wl,--no-warn-symbol-ordering");
    if reads_packed_relocations() {
        println!("cargo::rustc-link-arg-bin={BINARY}=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether the binary is linked by the lld that ships with Rust: the target's default from Rust 1.90 on,
/// unless a linker (or the linker's flavour) is configured.
fn links_with_rust_lld() -> bool {
    if env::var("TARGET").as_deref() != Ok("x86_64-unknown-linux-gnu")
        || env::var_os("RUSTC_LINKER").is_some()
    {
        return false;
    }
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if flags.contains("linker")
        || flags.contains("link-self-contained")
        || flags.contains("fuse-ld")
    {
        return false;
    }
    rustc_minor_version().is_some_and(|minor| minor >= 90)
}

/// The minor version of the compiler building this crate (`1.95.0` gives 95).
fn rustc_minor_version() -> Option<u32> {
    let rustc = env::var_os("RUSTC")?;
    let output = Command::new(rustc).arg("-vV").output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let release = text
        .lines()
        .find_map(|line| line.strip_prefix("release: "))?;
    let mut parts = release.split('.');
    (parts.next()? == "1").then_some(())?;
    parts.next()?.parse().ok()
}

/// Whether the C library the binary is built against (this machine's: only a native build is checked)
/// applies packed relative relocations: glibc 2.36 and later.
fn reads_packed_relocations() -> bool {
    if env::var("HOST").ok() != env::var("TARGET").ok() {
        return false;
    }
    let Ok(output) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let Some(version) = text.trim().strip_prefix("glibc ") else {
        return false;
    };
    let mut parts = version.split('.').map(|part| part.parse::<u32>().ok());
    matches!((parts.next(), parts.next()), (Some(Some(major)), Some(Some(minor))) if (major, minor) >= (2, 36))
}
