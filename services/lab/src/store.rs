//! Opening a service's sled database: the one place fortimock configures sled. Each service's own
//! `store` module owns its trees and record formats and flushes before it acknowledges a change.

use std::path::Path;

use anyhow::Context;

/// sled's page cache; its default (1 GiB) is far more than a lab needs.
const CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// Opens (creating if needed) the database in `dir`, or a temporary one that lives in memory-backed
/// storage and vanishes when dropped (`--ephemeral`, tests).
pub fn open_db(dir: Option<&Path>) -> anyhow::Result<sled::Db> {
    let config = sled::Config::new()
        .cache_capacity(CACHE_BYTES)
        .flush_every_ms(Some(500));
    let config = match dir {
        Some(dir) => config.path(dir),
        None => config.temporary(true),
    };
    config.open().with_context(|| match dir {
        Some(dir) => format!(
            "opening the database in {} (is another fortimock using this data dir?)",
            dir.display()
        ),
        None => "opening a temporary database".to_owned(),
    })
}
