//! Repository rules checked as tests: every Rust file opens with a `//!` line saying what it is for, there
//! are no grab-bag modules (`utils`, `helpers`, `common`, `misc`), servers register routes only through
//! `lab::api` (so every route is in its service's OpenAPI document), and the CLI calls fortimock's APIs
//! through `fortimock_testing`'s typed clients, not with raw requests to `protocol::paths`.

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

/// `SuiteClient`'s (and reqwest's) raw request methods.
const RAW_METHODS: [&str; 10] = [
    "get",
    "post",
    "put",
    "patch",
    "delete",
    "delete_json",
    "get_bytes",
    "get_bytes_with_header",
    "post_raw",
    "post_outcome",
];

/// The raw calls in `text` (a call of one of [`RAW_METHODS`], turbofish allowed, over any number of lines)
/// whose arguments name a `paths::` constant: each as its line number and first line.
fn raw_calls_with_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(dot) = text[at..].find('.') {
        let start = at + dot + 1;
        at = start;
        let name_len = text[start..]
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        if !RAW_METHODS.contains(&&text[start..start + name_len]) {
            continue;
        }
        let mut open = start + name_len;
        if text[open..].starts_with("::<") {
            let mut depth = 0;
            for (i, c) in text[open..].char_indices() {
                match c {
                    '<' => depth += 1,
                    '>' => {
                        depth -= 1;
                        if depth == 0 {
                            open += i + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
        }
        if !text[open..].starts_with('(') {
            continue;
        }
        let mut depth = 0;
        let mut close = text.len();
        for (i, c) in text[open..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        close = open + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        if text[open..close].contains("paths::") {
            let line = text[..start].lines().count();
            let first = text[..start].lines().last().unwrap_or_default().trim();
            found.push(format!(
                "line {line}: {first}{}(…)",
                &text[start..start + name_len]
            ));
        }
    }
    found
}

#[test]
fn the_raw_call_finder_finds_raw_calls_and_only_them() {
    let raw = "let x: ApplianceView = client\n    .get(\n        APPLIANCE,\n        &paths::fill(paths::APPLIANCE, &[&s]),\n    )\n    .await?;";
    assert_eq!(raw_calls_with_paths(raw).len(), 1, "{raw}");
    let turbofish = "client.get::<Value>(ftm::NAME, paths::ADMIN_CLOCK).await";
    assert_eq!(raw_calls_with_paths(turbofish).len(), 1);
    let typed = "let x = client.appliances().get(&s).await?; println!(\"{}\", paths::FAC_API);";
    assert!(raw_calls_with_paths(typed).is_empty());
}

/// The `fortimock` CLI calls fortimock's own APIs through `fortimock_testing`'s typed clients (the ones the
/// e2e harness and other projects' tests use): no module builds a request from a `protocol::paths` constant
/// with `SuiteClient`'s raw `get`/`post`/…, except where a raw request is the point.
#[test]
fn the_cli_calls_the_suite_through_the_typed_clients() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join("services/fortimock/src");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    assert!(files.len() > 20, "found only {} files", files.len());
    let allowed = [
        // A probe of a running suite with a short timeout, before anything else is asked.
        dir.join("replay.rs"),
    ];
    let mut found = Vec::new();
    for path in files.iter().filter(|p| !allowed.contains(p)) {
        let text = std::fs::read_to_string(path).unwrap();
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        for call in raw_calls_with_paths(text) {
            found.push(format!("{}: {call}", path.display()));
        }
    }
    assert!(
        found.is_empty(),
        "call the suite through the typed clients (`client.appliances().get(…)`, `client.control(…)`, …; add \
         one in testing/src/typed*.rs when an endpoint has none): {found:#?}"
    );
}

/// `services/fortimock/code-order.txt`, the release binary's start functions for lld (its `build.rs`), is
/// as `tools/code-order/generate.py` writes it: a header of `#` lines, then one symbol per line, each once.
/// lld reads whatever stands on a line as a name, so a hand edit that breaks one only loses its place.
#[test]
fn the_code_order_lists_each_symbol_once() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../services/fortimock/code-order.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("# ") && text.contains("tools/code-order/generate.py"),
        "{} should open with the generator's header",
        path.display()
    );
    let mut seen = std::collections::HashSet::new();
    let mut symbols = 0;
    for (number, line) in text.lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        assert!(
            !line.is_empty() && line.bytes().all(|b| b.is_ascii_graphic() && b != b'#'),
            "line {} is not one symbol: {line:?}",
            number + 1
        );
        assert!(seen.insert(line), "line {} repeats {line}", number + 1);
        symbols += 1;
    }
    assert!(symbols > 1000, "only {symbols} symbols listed");
}
