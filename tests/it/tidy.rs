//! Repository rules checked as tests: every Rust file opens with a `//!` line saying what it is for, there
//! are no grab-bag modules (`utils`, `helpers`, `common`, `misc`), and servers register routes only through
//! `lab::api` (so every route is in its service's OpenAPI document).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() && name != "target" && !name.starts_with('.') {
            rust_files(&path, found);
        } else if name.ends_with(".rs") {
            found.push(path);
        }
    }
}

fn workspace_files() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in [
        "shared", "services", "testing", "tests", "bench", "tools", "fuzz",
    ] {
        if root.join(dir).exists() {
            rust_files(&root.join(dir), &mut files);
        }
    }
    assert!(files.len() > 20, "found only {} files", files.len());
    files
}

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let missing: Vec<_> = workspace_files()
        .into_iter()
        .filter(|path| !std::fs::read_to_string(path).unwrap().starts_with("//!"))
        .collect();
    assert!(
        missing.is_empty(),
        "these files do not open with a `//!` line: {missing:#?}"
    );
}

#[test]
fn no_grab_bag_modules() {
    let bad: Vec<_> = workspace_files()
        .into_iter()
        .filter(|path| {
            let stem = path.file_stem().unwrap().to_string_lossy();
            ["utils", "util", "helpers", "common", "misc"].contains(&stem.as_ref())
        })
        .collect();
    assert!(bad.is_empty(), "name modules after the domain: {bad:#?}");
}

/// Every route a fortimock listener serves is registered through `lab::api::Api`, which documents it: no
/// service code builds actix routes, resources or scopes itself.
#[test]
fn routes_are_registered_only_through_lab_api() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    rust_files(&root.join("services"), &mut files);
    let allowed = [
        root.join("services/lab/src/api.rs"),
        root.join("services/lab/src/server.rs"),
        // The bench's reference server is bare actix-web on purpose: the baseline fortimock is measured
        // against, not a fortimock listener.
        root.join("services/fortimock/src/bench/reference.rs"),
    ];
    let registering = [
        "web::resource(",
        "web::scope(",
        "web::route(",
        "web::get()",
        "web::post()",
        "web::put()",
        "web::patch()",
        "web::delete()",
        ".default_service(",
        "#[get(",
        "#[post(",
    ];
    let mut found = Vec::new();
    for path in files.iter().filter(|p| !allowed.contains(p)) {
        let text = std::fs::read_to_string(path).unwrap();
        // Test modules start their own small servers freely.
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        for needle in registering {
            if text.contains(needle) {
                found.push(format!("{}: {needle}", path.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "register routes with `lab::api::Api::route` and a `#[utoipa::path]` (see ARCHITECTURE.md): {found:#?}"
    );
}
