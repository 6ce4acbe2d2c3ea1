//! Opening a service's sled database (the one place fortimock configures sled), the per-data-dir secret
//! services derive their at-rest keys from, flushing, transactions' plumbing, and emptying trees for a reset. Each service's own
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

/// A 32-byte secret kept in `<service_dir>/<file>` (hex, mode 0600), created on first use; a fresh random one
/// each time when ephemeral. Services derive their at-rest encryption keys from it.
pub fn data_secret(service_dir: Option<&Path>, file: &str) -> anyhow::Result<Vec<u8>> {
    use rand::RngCore;
    let fresh = || {
        let mut secret = vec![0u8; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        secret
    };
    let Some(dir) = service_dir else {
        return Ok(fresh());
    };
    let path = dir.join(file);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return hex::decode(text.trim()).with_context(|| format!("{} is not hex", path.display()));
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let secret = fresh();
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, hex::encode(&secret))
        .with_context(|| format!("writing {}", tmp.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(secret)
}

/// Flushes `db` to disk before a change is acknowledged. sled 0.34's `flush_async` can deadlock when several
/// run at once: each waits, on sled's small shared thread pool, for log writes queued behind it
/// (spacejam/sled#1308, fixed only in unreleased sled). This flushes synchronously on tokio's blocking pool
/// instead.
pub async fn flush(db: &sled::Db) -> anyhow::Result<()> {
    let db = db.clone();
    tokio::task::spawn_blocking(move || db.flush())
        .await
        .context("the flush task failed")?
        .context("flushing the database")?;
    Ok(())
}

/// Empties `trees` for a reset, as one change: returns how many records it removed.
///
/// sled runs transactions one at a time, but cannot iterate inside one; so this lists the keys, removes them
/// in one transaction over every tree, and repeats until a pass finds every tree empty. A change that
/// commits meanwhile is removed whole by a later pass, or (committing after the last pass looked at the
/// trees it wrote) kept whole: never half of it.
pub fn clear_trees(trees: &[sled::Tree]) -> anyhow::Result<u64> {
    use sled::Transactional;
    let mut removed = 0;
    loop {
        let keys = trees
            .iter()
            .map(|tree| tree.iter().keys().collect::<Result<Vec<_>, _>>())
            .collect::<Result<Vec<_>, _>>()
            .context("listing the store's records")?;
        if keys.iter().all(Vec::is_empty) {
            return Ok(removed);
        }
        let result = trees.transaction(|views| {
            let mut count = 0;
            for (view, keys) in views.iter().zip(&keys) {
                for key in keys {
                    if view.remove(key)?.is_some() {
                        count += 1;
                    }
                }
            }
            Ok::<u64, Abort>(count)
        });
        removed += committed(result, "clearing the store")?;
    }
}

/// A store's reset: empties `trees` (on the blocking pool, see [`clear_trees`]) and flushes `db`; returns
/// how many records went.
pub async fn reset(db: &sled::Db, trees: Vec<sled::Tree>) -> anyhow::Result<u64> {
    let removed = tokio::task::spawn_blocking(move || clear_trees(&trees))
        .await
        .context("the reset task failed")??;
    flush(db).await?;
    Ok(removed)
}

/// How a store's transaction closure stops early: with the error that says why (sled then rolls back).
pub type Abort = sled::transaction::ConflictableTransactionError<anyhow::Error>;

/// Stops a transaction with `error`; nothing it wrote is kept.
pub fn abort(error: impl Into<anyhow::Error>) -> Abort {
    sled::transaction::ConflictableTransactionError::Abort(error.into())
}

/// A transaction's result as `anyhow`: the abort's own error, or the storage failure in context `what`.
pub fn committed<T>(
    result: Result<T, sled::transaction::TransactionError<anyhow::Error>>,
    what: &str,
) -> anyhow::Result<T> {
    result.map_err(|e| match e {
        sled::transaction::TransactionError::Abort(e) => e,
        sled::transaction::TransactionError::Storage(e) => {
            anyhow::Error::new(e).context(what.to_owned())
        }
    })
}

/// A storage record as bytes (JSON: readable in a dump, and records only ever gain fields).
pub fn encode_record<T: serde::Serialize>(record: &T) -> Vec<u8> {
    // Records are plain structs of strings and numbers: serializing them cannot fail.
    serde_json::to_vec(record).unwrap_or_default()
}

/// A storage record from its bytes.
pub fn decode_record<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &str,
) -> anyhow::Result<T> {
    serde_json::from_slice(bytes).with_context(|| format!("decoding {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_trees_empties_every_tree_and_counts() {
        let db = open_db(None).unwrap();
        let a = db.open_tree("a").unwrap();
        let b = db.open_tree("b").unwrap();
        for i in 0u32..300 {
            a.insert(i.to_be_bytes(), &b"x"[..]).unwrap();
        }
        b.insert("k", &b"y"[..]).unwrap();
        assert_eq!(clear_trees(&[a.clone(), b.clone()]).unwrap(), 301);
        assert!(a.is_empty() && b.is_empty());
        assert_eq!(clear_trees(&[a, b]).unwrap(), 0);
    }
}
