//! The request journal of one service (`/__admin/journal`): a ring buffer of the last `--journal-size`
//! requests and answers, in memory, with secrets redacted before an entry is stored
//! (`protocol::journal::kept_body`). Only forticare, ftm and the push relay keep one, of the requests
//! devices make (not `/__admin` or `/__ledger`).
//!
//! The request body reaches the journal through the request's extensions ([`keep_request_body`], called by
//! the handlers that read bodies), so the body is read once, under the handler's size limit.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::http::Method;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpRequest};
use protocol::journal::{JournalEntry, JournalPage, kept_body_at, shown_body};
use protocol::time::UnixTime;
use serde::Deserialize;

/// The journal size when none is given.
pub const DEFAULT_CAPACITY: usize = 1000;

/// A request body a handler read, for the journal.
#[derive(Clone)]
pub struct RecordedBody(pub Bytes);

/// Makes `body` the journaled body of `request`.
pub fn keep_request_body(request: &HttpRequest, body: &Bytes) {
    request.extensions_mut().insert(RecordedBody(body.clone()));
}

/// The journal of one service.
pub struct Journal {
    capacity: usize,
    ring: Mutex<Ring>,
}

#[derive(Default)]
struct Ring {
    entries: VecDeque<Kept>,
    last_seq: u64,
    dropped: u64,
}

/// An entry as stored: bodies already redacted, shown as JSON only when read.
struct Kept {
    seq: u64,
    time: UnixTime,
    method: Method,
    path: Arc<str>,
    status: u16,
    micros: u64,
    message_type: Option<Arc<str>>,
    result: Option<Arc<str>>,
    client_cert: Option<String>,
    request: Bytes,
    response: Bytes,
}

/// One exchange to record: what the request and its answer already hold is shared, not copied.
pub struct Exchange<'a> {
    pub time: UnixTime,
    pub method: Method,
    /// The path, with the query string.
    pub path: Arc<str>,
    pub status: u16,
    pub micros: u64,
    pub message_type: Option<Arc<str>>,
    pub result: Option<Arc<str>>,
    pub client_cert: Option<String>,
    pub request: Option<&'a Bytes>,
    pub response: &'a Bytes,
}

/// `GET /__admin/journal?message_type=&path=&status=&after=&limit=`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct JournalQuery {
    /// Only entries with this `message_type`.
    pub message_type: Option<String>,
    /// Only entries whose path starts with this.
    pub path: Option<String>,
    pub status: Option<u16>,
    /// Only entries after this `seq` (to read what is new since the last look).
    pub after: Option<u64>,
    /// At most this many, the newest.
    pub limit: Option<usize>,
}

impl Journal {
    pub fn new(capacity: usize) -> Journal {
        Journal {
            capacity,
            ring: Mutex::new(Ring::default()),
        }
    }

    fn ring(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether requests to `path` are journaled: devices' requests, not the control plane or the ledger API.
    pub fn covers(path: &str) -> bool {
        !path.starts_with("/__")
    }

    /// Records one exchange (its bodies redacted first), dropping the oldest entry when full.
    pub fn record(&self, exchange: Exchange<'_>) {
        if self.capacity == 0 {
            return;
        }
        let request = exchange
            .request
            .map(|body| kept(&exchange.path, body))
            .unwrap_or_default();
        let response = kept(&exchange.path, exchange.response);
        let mut ring = self.ring();
        ring.last_seq += 1;
        let kept = Kept {
            seq: ring.last_seq,
            time: exchange.time,
            method: exchange.method,
            path: exchange.path,
            status: exchange.status,
            micros: exchange.micros,
            message_type: exchange.message_type,
            result: exchange.result,
            client_cert: exchange.client_cert,
            request,
            response,
        };
        if ring.entries.len() >= self.capacity {
            ring.entries.pop_front();
            ring.dropped += 1;
        }
        ring.entries.push_back(kept);
    }

    /// The entries `query` selects, oldest first.
    pub fn page(&self, query: &JournalQuery) -> JournalPage {
        let ring = self.ring();
        let matching: Vec<&Kept> = ring
            .entries
            .iter()
            .filter(|e| query.after.is_none_or(|after| e.seq > after))
            .filter(|e| {
                query
                    .message_type
                    .as_deref()
                    .is_none_or(|t| e.message_type.as_deref() == Some(t))
            })
            .filter(|e| query.path.as_deref().is_none_or(|p| e.path.starts_with(p)))
            .filter(|e| query.status.is_none_or(|s| e.status == s))
            .collect();
        let skip = query
            .limit
            .map_or(0, |limit| matching.len().saturating_sub(limit));
        JournalPage {
            matched: matching.len() as u64,
            entries: matching[skip..].iter().map(|e| e.shown()).collect(),
            capacity: self.capacity,
            dropped: ring.dropped,
        }
    }

    /// Empties the journal; returns how many entries it held. `seq` keeps counting.
    pub fn clear(&self) -> usize {
        let mut ring = self.ring();
        let count = ring.entries.len();
        ring.entries.clear();
        ring.dropped = 0;
        count
    }
}

/// `body` as the journal keeps it: the same bytes, shared, when redaction changes nothing.
fn kept(path: &str, body: &Bytes) -> Bytes {
    match kept_body_at(path, body) {
        Cow::Borrowed(_) => body.clone(),
        Cow::Owned(redacted) => Bytes::from(redacted),
    }
}

impl Kept {
    fn shown(&self) -> JournalEntry {
        JournalEntry {
            seq: self.seq,
            time: self.time,
            method: self.method.as_str().to_owned(),
            path: self.path.to_string(),
            status: self.status,
            micros: self.micros,
            message_type: self.message_type.as_deref().map(str::to_owned),
            result: self.result.as_deref().map(str::to_owned),
            client_cert: self.client_cert.clone(),
            request: shown_body(&self.request),
            response: shown_body(&self.response),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records a POST of `request` to `path` answered with a seed.
    fn record(journal: &Journal, path: &str, message_type: &str, request: &'static [u8]) {
        let (request, response) = (
            Bytes::from_static(request),
            Bytes::from_static(br#"{"d":{"seed":"c2VjcmV0"}}"#),
        );
        journal.record(Exchange {
            time: UnixTime::from_secs(1_700_000_000),
            method: Method::POST,
            path: path.into(),
            status: 200,
            micros: 120,
            message_type: Some(message_type.into()),
            result: Some("ok".into()),
            client_cert: None,
            request: Some(&request),
            response: &response,
        });
    }

    #[test]
    fn the_ring_keeps_the_newest_and_filters() {
        let journal = Journal::new(3);
        for i in 0..5 {
            let kind = if i % 2 == 0 { "even" } else { "odd" };
            record(
                &journal,
                "/SoftToken/Provisioning.asmx/Process",
                kind,
                b"{}",
            );
        }
        let all = journal.page(&JournalQuery::default());
        assert_eq!(
            all.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!((all.dropped, all.capacity), (2, 3));
        assert_eq!(
            all.entries[0].response["d"]["seed"],
            protocol::journal::REDACTED
        );
        let odd = journal.page(&JournalQuery {
            message_type: Some("odd".into()),
            ..JournalQuery::default()
        });
        assert_eq!(odd.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [4]);
        let newest = journal.page(&JournalQuery {
            limit: Some(1),
            ..JournalQuery::default()
        });
        assert_eq!((newest.matched, newest.entries[0].seq), (3, 5));
        let after = journal.page(&JournalQuery {
            after: Some(4),
            ..JournalQuery::default()
        });
        assert_eq!(after.entries.len(), 1);
        assert_eq!(journal.clear(), 3);
        record(&journal, "/", "push", b"");
        let page = journal.page(&JournalQuery::default());
        assert_eq!((page.entries[0].seq, page.dropped), (6, 0));
        assert_eq!(page.entries[0].request, serde_json::Value::Null);
    }

    #[test]
    fn a_zero_capacity_journal_keeps_nothing() {
        let journal = Journal::new(0);
        record(&journal, "/", "push", b"{}");
        assert!(journal.page(&JournalQuery::default()).entries.is_empty());
    }
}
