//! Decoded records kept beside a store, so a hot read reuses what it decoded last time instead of reading
//! and parsing the record again.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError};

use foldhash::fast::RandomState;

use super::{ReadTx, Reader, StoreError, Table};

/// Shards of the map: concurrent readers on different keys rarely wait for each other.
const SHARDS: usize = 16;

/// A decoded record, the bytes it was decoded from, and the committed state it was last read in.
struct Kept<T> {
    bytes: Box<[u8]>,
    generation: Option<u64>,
    value: Arc<T>,
}

/// Hashed with foldhash, seeded per cache: a lookup hashes its key twice (its shard, then its slot), and
/// SipHash, the standard one, was 8% of a 50-token poll's instructions. The keys are stored records' keys,
/// and a shard is bounded (below), so a hostile set of keys can slow only its own shard.
type Shard<T> = HashMap<Box<[u8]>, Kept<T>, RandomState>;

/// Records of one table decoded from a store's bytes, by key.
///
/// Coherent by construction, two ways:
/// - In a read under [`Store::read_cached`](super::Store::read_cached), an entry last read in the same
///   committed state (the store's generation) is used without reading the record at all: no commit has
///   happened since, so the record is what it was. (`read_cached` reruns a read that a commit overlapped.)
/// - Otherwise an entry is used only when the bytes the caller just read, in its own read transaction, are
///   identical to the bytes it was decoded from. A record changed since (by any write, a state import, a
///   reset) has other bytes and is decoded afresh.
///
/// No write needs to know this exists. Bounded: a shard that reaches its share of `capacity` starts over
/// empty.
pub struct DecodedRecords<T> {
    shards: Box<[Mutex<Shard<T>>]>,
    per_shard: usize,
    hasher: RandomState,
}

impl<T> DecodedRecords<T> {
    /// Keeps at most about `capacity` decoded records.
    pub fn new(capacity: usize) -> DecodedRecords<T> {
        DecodedRecords {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::with_hasher(RandomState::default())))
                .collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hasher: RandomState::default(),
        }
    }

    fn shard(&self, key: &[u8]) -> std::sync::MutexGuard<'_, Shard<T>> {
        self.shards[self.hasher.hash_one(key) as usize % SHARDS]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The record stored under `key` in `table` as `tx` sees it, decoded with `decode` (`None` when there
    /// is none): the value kept from an earlier read of the same state or of the same bytes, else decoded
    /// now and kept for next time.
    pub fn get<E: From<StoreError>>(
        &self,
        tx: &mut ReadTx,
        table: Table,
        key: &[u8],
        decode: impl FnOnce(&[u8]) -> Result<T, E>,
    ) -> Result<Option<Arc<T>>, E> {
        let generation = tx.generation();
        if let Some(generation) = generation
            && let Some(kept) = self.shard(key).get(key)
            && kept.generation == Some(generation)
        {
            return Ok(Some(Arc::clone(&kept.value)));
        }
        let Some(bytes) = tx.get(table, key)? else {
            return Ok(None);
        };
        self.get_or_decode(key, &bytes, generation, decode)
            .map(Some)
    }

    /// What `bytes` (the record stored under `key`, as just read in the state `generation` names, if
    /// any) decode to: the value decoded before when the bytes are the same, else `decode(bytes)`, kept for
    /// next time when it succeeds.
    fn get_or_decode<E>(
        &self,
        key: &[u8],
        bytes: &[u8],
        generation: Option<u64>,
        decode: impl FnOnce(&[u8]) -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        {
            let mut map = self.shard(key);
            if let Some(kept) = map.get_mut(key)
                && *kept.bytes == *bytes
            {
                kept.generation = generation;
                return Ok(Arc::clone(&kept.value));
            }
        }
        // Decoding happens outside the lock: a reader of another key in the shard does not wait for it.
        let value = Arc::new(decode(bytes)?);
        let mut map = self.shard(key);
        if map.len() >= self.per_shard && !map.contains_key(key) {
            map.clear();
        }
        map.insert(
            key.into(),
            Kept {
                bytes: bytes.into(),
                generation,
                value: Arc::clone(&value),
            },
        );
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<u64, String> {
        std::str::from_utf8(bytes)
            .map_err(|e| e.to_string())?
            .parse()
            .map_err(|e: std::num::ParseIntError| e.to_string())
    }

    #[test]
    fn the_same_bytes_reuse_the_decoded_value_and_other_bytes_decode_afresh() {
        let records = DecodedRecords::new(64);
        let decodes = std::cell::Cell::new(0);
        let read = |key: &[u8], bytes: &[u8]| {
            *records
                .get_or_decode(key, bytes, None, |b| {
                    decodes.set(decodes.get() + 1);
                    parse(b)
                })
                .unwrap()
        };
        assert_eq!(read(b"a", b"1"), 1);
        assert_eq!(read(b"a", b"1"), 1);
        assert_eq!(decodes.get(), 1, "unchanged bytes are not decoded again");
        // The record changed: what was kept for it is not used.
        assert_eq!(read(b"a", b"2"), 2);
        assert_eq!(read(b"b", b"1"), 1);
        assert_eq!(decodes.get(), 3);
    }

    #[test]
    fn a_record_that_does_not_decode_is_an_error_and_nothing_is_kept() {
        let records = DecodedRecords::new(64);
        assert!(records.get_or_decode(b"a", b"x", None, parse).is_err());
        let mut decoded_again = false;
        let value = records.get_or_decode(b"a", b"7", None, |b| {
            decoded_again = true;
            parse(b)
        });
        assert_eq!(*value.unwrap(), 7);
        assert!(decoded_again);
    }

    #[test]
    fn it_stays_within_its_capacity() {
        let records = DecodedRecords::new(SHARDS * 2);
        for n in 0..10_000u64 {
            let key = n.to_string();
            records
                .get_or_decode(key.as_bytes(), key.as_bytes(), None, parse)
                .unwrap();
        }
        let kept: usize = records.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(kept <= SHARDS * 2, "{kept} kept");
    }
}
