//! Records given to a table whole, as a state import gives them: every key and value is a range of one
//! shared buffer (the uploaded document itself) or of the few bytes decoded from it, so a lab of two
//! million records is not four million allocations and their copies.

use std::borrow::Cow;

use bytes::Bytes;

/// Where one key's or one value's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Span {
    /// A range of the document, byte for byte (a key without escapes, a value's JSON text).
    Document { at: u32, len: u32 },
    /// A range of the bytes decoded from it (a key with escapes, hex).
    Decoded { at: u32, len: u32 },
}

/// Records of one table, each a key and a value, in the order they were pushed until [`Records::sorted`].
#[derive(Debug, Clone)]
pub struct Records {
    document: Bytes,
    decoded: Vec<u8>,
    spans: Vec<(Span, Span)>,
    /// Sorted by key with no key twice: lookups may search.
    in_key_order: bool,
}

impl Records {
    /// No records yet, their bytes to be found in `document` where they can be.
    pub fn new(document: Bytes) -> Records {
        Records {
            document,
            decoded: Vec::new(),
            spans: Vec::new(),
            in_key_order: true,
        }
    }

    /// Adds a record: each part that lies in the document is kept as its range, any other is copied.
    /// Refused only past 4 GiB of copied bytes, which a document of at most `MAX_STATE_BYTES` (1 GiB)
    /// cannot decode to.
    pub fn push(&mut self, key: Cow<'_, [u8]>, value: Cow<'_, [u8]>) -> Result<(), String> {
        let in_order = self
            .spans
            .last()
            .is_none_or(|last| self.bytes(last.0) < &*key);
        let key = self.span(&key)?;
        let value = self.span(&value)?;
        self.in_key_order &= in_order;
        self.spans.push((key, value));
        Ok(())
    }

    fn span(&mut self, part: &[u8]) -> Result<Span, String> {
        let base = self.document.as_ptr() as usize;
        let start = part.as_ptr() as usize;
        let within = start >= base && start + part.len() <= base + self.document.len();
        if within
            && let (Ok(at), Ok(len)) = (u32::try_from(start - base), u32::try_from(part.len()))
        {
            return Ok(Span::Document { at, len });
        }
        let (Ok(at), Ok(len)) = (u32::try_from(self.decoded.len()), u32::try_from(part.len()))
        else {
            return Err("more than 4 GiB of records".to_owned());
        };
        if at.checked_add(len).is_none() {
            return Err("more than 4 GiB of records".to_owned());
        }
        self.decoded.extend_from_slice(part);
        Ok(Span::Decoded { at, len })
    }

    fn bytes(&self, span: Span) -> &[u8] {
        let (buffer, at, len): (&[u8], u32, u32) = match span {
            Span::Document { at, len } => (&self.document, at, len),
            Span::Decoded { at, len } => (&self.decoded, at, len),
        };
        let (at, len) = (at as usize, len as usize);
        &buffer[at..at + len]
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Each record's key and value, in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            records: self,
            spans: self.spans.iter(),
        }
    }

    /// The same records sorted by key, each key once with the value pushed last under it: what storing
    /// them one by one, in order, would leave. A snapshot's records are in key order already, which the
    /// sort finds in one pass.
    pub fn sorted(mut self) -> Records {
        if self.in_key_order {
            return self;
        }
        let mut spans = std::mem::take(&mut self.spans);
        // Stable: records with one key stay in the order pushed, and the last of each run is kept.
        spans.sort_by(|a, b| self.bytes(a.0).cmp(self.bytes(b.0)));
        let mut kept: Vec<(Span, Span)> = Vec::with_capacity(spans.len());
        for record in spans {
            match kept.last_mut() {
                Some(last) if self.bytes(last.0) == self.bytes(record.0) => *last = record,
                _ => kept.push(record),
            }
        }
        self.spans = kept;
        self.in_key_order = true;
        self
    }

    /// The value under `key` (the last pushed, for records not yet sorted).
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        if self.in_key_order {
            let at = self
                .spans
                .binary_search_by(|(k, _)| self.bytes(*k).cmp(key))
                .ok()?;
            return Some(self.bytes(self.spans[at].1));
        }
        self.iter().rev().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

/// The records of a [`Records`], each its key and value.
pub struct Iter<'r> {
    records: &'r Records,
    spans: std::slice::Iter<'r, (Span, Span)>,
}

impl<'r> Iterator for Iter<'r> {
    type Item = (&'r [u8], &'r [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let &(key, value) = self.spans.next()?;
        Some((self.records.bytes(key), self.records.bytes(value)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.spans.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let &(key, value) = self.spans.next_back()?;
        Some((self.records.bytes(key), self.records.bytes(value)))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'r> IntoIterator for &'r Records {
    type Item = (&'r [u8], &'r [u8]);
    type IntoIter = Iter<'r>;

    fn into_iter(self) -> Iter<'r> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_in_the_document_are_ranges_and_others_are_copied() {
        let document = Bytes::from_static(b"{\"key\":\"a\",\"value\":{\"v\":1}}");
        let mut records = Records::new(document.clone());
        records
            .push(
                Cow::Borrowed(&document[8..9]),
                Cow::Borrowed(&document[19..26]),
            )
            .unwrap();
        records
            .push(Cow::Owned(b"b\0c".to_vec()), Cow::Owned(vec![0, 255]))
            .unwrap();
        assert!(records.in_key_order, "pushed in key order");
        assert_eq!(records.spans[0].0, Span::Document { at: 8, len: 1 });
        assert!(matches!(records.spans[1].0, Span::Decoded { .. }));
        assert_eq!(
            records.decoded.len(),
            5,
            "only the decoded parts are copied"
        );
        let read: Vec<(&[u8], &[u8])> = records.iter().collect();
        assert_eq!(
            read,
            vec![
                (&b"a"[..], &b"{\"v\":1}"[..]),
                (&b"b\0c"[..], &[0u8, 255][..])
            ]
        );
    }

    #[test]
    fn sorting_keeps_the_last_value_of_a_key_as_storing_in_turn_would() {
        let mut records = Records::new(Bytes::new());
        for (key, value) in [("c", "1"), ("a", "2"), ("c", "3"), ("b", "4"), ("a", "5")] {
            records
                .push(
                    Cow::Borrowed(key.as_bytes()),
                    Cow::Borrowed(value.as_bytes()),
                )
                .unwrap();
        }
        assert!(!records.in_key_order);
        assert_eq!(records.get(b"c"), Some(&b"3"[..]), "before sorting too");
        let mut stored = std::collections::BTreeMap::new();
        for (key, value) in records.iter() {
            stored.insert(key.to_vec(), value.to_vec());
        }
        let sorted = records.sorted();
        let read: Vec<(Vec<u8>, Vec<u8>)> = sorted
            .iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect();
        assert_eq!(read, stored.into_iter().collect::<Vec<_>>());
        assert_eq!(sorted.get(b"a"), Some(&b"5"[..]));
        assert_eq!(sorted.get(b"b"), Some(&b"4"[..]));
        assert_eq!(sorted.get(b"d"), None);
    }
}
