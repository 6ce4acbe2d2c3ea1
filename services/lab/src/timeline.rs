//! The timeline recorder (`/__admin/timeline`): a ring of the last `--journal-size` exchanges between the
//! lab's parts, shared by every service of the process, each with its flow, sender and receiver, and never
//! a body or a query string (`protocol::timeline`).
//!
//! Every request a listener serves outside the control plane takes a tick when it arrives ([`Timeline::open`])
//! and another when its answer is recorded, so the timeline knows the order requests were made and
//! answered in, and draws calls made while serving another inside it.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::http::Method;

use protocol::time::UnixTime;
use protocol::timeline::{TimelineEntry, TimelinePage, flows};
use serde::Deserialize;

/// The process's timeline.
pub struct Timeline {
    capacity: usize,
    ticks: AtomicU64,
    ring: Mutex<Ring>,
}

#[derive(Default)]
struct Ring {
    entries: VecDeque<Kept>,
    dropped: u64,
}

/// An exchange as the ring keeps it: what the request already held is shared, not copied, so recording
/// one costs no allocation of its own; it becomes a [`TimelineEntry`] when asked for.
struct Kept {
    seq: u64,
    answered: Answered,
}

/// Who sent a request.
#[derive(Clone)]
pub enum Sender {
    /// The name its `x-fortimock-from` header gave.
    Named(Arc<str>),
    /// Its address.
    Address(IpAddr),
    /// Neither was known.
    Client,
}

impl Sender {
    fn name(&self) -> String {
        match self {
            Sender::Named(name) => name.to_string(),
            Sender::Address(ip) => ip.to_string(),
            Sender::Client => "client".to_owned(),
        }
    }
}

/// `GET /__admin/timeline?flow=&since=&until=&flows=&format=&limit=`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TimelineQuery {
    /// Only the exchanges of this flow (the `x-fortimock-flow` an answer echoed).
    pub flow: Option<String>,
    /// Only exchanges answered at or after this time: RFC 3339 (`2026-12-01T02:00:00Z`) or Unix
    /// milliseconds, on the lab clock.
    pub since: Option<String>,
    /// Only exchanges answered at or before this time (same forms as `since`).
    pub until: Option<String>,
    /// With `true`, the JSON answer also lists the flows among the exchanges (`flows`).
    #[serde(default)]
    pub flows: bool,
    /// `json` (the default) or `mermaid` (a Mermaid `sequenceDiagram`, `text/vnd.mermaid`).
    pub format: Option<String>,
    /// At most this many exchanges, the newest.
    pub limit: Option<usize>,
}

/// What a timeline query selects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub flow: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub limit: Option<usize>,
}

impl TimelineQuery {
    /// The selection, or a sentence saying what is wrong with the query.
    pub fn selection(&self) -> Result<Selection, String> {
        let since_ms = self
            .since
            .as_deref()
            .map(|t| time_ms("since", t))
            .transpose()?;
        let until_ms = self
            .until
            .as_deref()
            .map(|t| time_ms("until", t))
            .transpose()?;
        if let (Some(since), Some(until)) = (since_ms, until_ms)
            && since > until
        {
            return Err(format!(
                "since ({}) is after until ({}): nothing can be in that range",
                self.since.as_deref().unwrap_or_default(),
                self.until.as_deref().unwrap_or_default()
            ));
        }
        if let Some(flow) = &self.flow
            && crate::flow::accepted(flow).is_none_or(|f| f.contains(' '))
        {
            return Err(format!(
                "flow `{}` cannot be a flow id: ids are printable ASCII without spaces, at most {} bytes",
                flow.escape_debug(),
                protocol::modeled::FLOW_HEADER_MAX_LEN
            ));
        }
        Ok(Selection {
            flow: self.flow.clone(),
            since_ms,
            until_ms,
            limit: self.limit,
        })
    }
}

/// A query time: Unix milliseconds, or an RFC 3339 time.
fn time_ms(name: &str, text: &str) -> Result<i64, String> {
    if let Ok(ms) = text.trim().parse::<i64>() {
        return Ok(ms);
    }
    UnixTime::parse(text.trim())
        .map(|t| t.secs().saturating_mul(1000))
        .map_err(|e| {
            format!("{name} `{text}` is not a time: give RFC 3339 (2026-12-01T02:00:00Z) or Unix milliseconds ({e})")
        })
}

/// One exchange to record.
pub struct Answered {
    pub opened: u64,
    pub time_ms: i64,
    pub flow: Arc<str>,
    pub from: Sender,
    pub to: Arc<str>,
    pub method: Method,
    pub path: Arc<str>,
    pub message_type: Option<Arc<str>>,
    pub status: u16,
    pub error: Option<&'static str>,
}

impl Kept {
    fn entry(&self) -> TimelineEntry {
        let answered = &self.answered;
        TimelineEntry {
            seq: self.seq,
            opened: answered.opened,
            time_ms: answered.time_ms,
            flow: answered.flow.to_string(),
            from: answered.from.name(),
            to: answered.to.to_string(),
            method: answered.method.as_str().to_owned(),
            path: answered.path.to_string(),
            message_type: answered.message_type.as_deref().map(str::to_owned),
            status: answered.status,
            error: answered.error.map(str::to_owned),
        }
    }
}

impl Timeline {
    pub fn new(capacity: usize) -> Timeline {
        Timeline {
            capacity,
            ticks: AtomicU64::new(0),
            ring: Mutex::new(Ring::default()),
        }
    }

    fn ring(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many exchanges it keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether exchanges are kept at all (`--journal-size 0` keeps none).
    pub fn keeps(&self) -> bool {
        self.capacity > 0
    }

    /// A request arrived: its tick.
    pub fn open(&self) -> u64 {
        self.ticks.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Records an answered exchange, dropping the oldest when full.
    pub fn record(&self, answered: Answered) {
        if self.capacity == 0 {
            return;
        }
        let entry = Kept {
            seq: self.open(),
            answered,
        };
        let mut ring = self.ring();
        if ring.entries.len() >= self.capacity {
            ring.entries.pop_front();
            ring.dropped += 1;
        }
        ring.entries.push_back(entry);
    }

    /// The exchanges `selection` picks, in the order they were answered.
    pub fn select(&self, selection: &Selection) -> Vec<TimelineEntry> {
        let ring = self.ring();
        let picked: Vec<&Kept> = ring
            .entries
            .iter()
            .filter(|e| {
                selection
                    .flow
                    .as_deref()
                    .is_none_or(|f| *e.answered.flow == *f)
            })
            .filter(|e| {
                selection
                    .since_ms
                    .is_none_or(|since| e.answered.time_ms >= since)
            })
            .filter(|e| {
                selection
                    .until_ms
                    .is_none_or(|until| e.answered.time_ms <= until)
            })
            .collect();
        let skip = selection
            .limit
            .map_or(0, |limit| picked.len().saturating_sub(limit));
        picked[skip..].iter().map(|e| e.entry()).collect()
    }

    /// Whether any kept exchange belongs to `flow`.
    pub fn knows_flow(&self, flow: &str) -> bool {
        self.ring()
            .entries
            .iter()
            .any(|e| *e.answered.flow == *flow)
    }

    /// The page a query answers.
    pub fn page(&self, selection: &Selection, with_flows: bool) -> TimelinePage {
        let entries = self.select(selection);
        let ring = self.ring();
        TimelinePage {
            flows: with_flows.then(|| flows(&entries)),
            entries,
            capacity: self.capacity,
            dropped: ring.dropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(timeline: &Timeline, flow: &str, time_ms: i64) {
        let opened = timeline.open();
        timeline.record(Answered {
            opened,
            time_ms,
            flow: flow.into(),
            from: Sender::Address([127, 0, 0, 1].into()),
            to: "ftm".into(),
            method: Method::POST,
            path: "/SoftToken/Provisioning.asmx/Process".into(),
            message_type: Some("SoftToken.PollingRequest".into()),
            status: 200,
            error: None,
        });
    }

    #[test]
    fn the_ring_keeps_the_newest_and_selects_by_flow_and_time() {
        let timeline = Timeline::new(3);
        for (at, flow) in ["a", "b", "a", "c"].iter().enumerate() {
            answer(&timeline, flow, 1000 * at as i64);
        }
        let all = timeline.page(&Selection::default(), true);
        assert_eq!(all.entries.len(), 3);
        assert_eq!(all.dropped, 1);
        assert_eq!(all.flows.unwrap().len(), 3);
        let a = timeline.select(&Selection {
            flow: Some("a".into()),
            ..Selection::default()
        });
        assert_eq!(a.len(), 1);
        assert!(a[0].opened < a[0].seq);
        let range = timeline.select(&Selection {
            since_ms: Some(1500),
            until_ms: Some(2500),
            ..Selection::default()
        });
        assert_eq!(range.len(), 1);
        assert!(timeline.knows_flow("b") && !timeline.knows_flow("z"));
    }

    #[test]
    fn queries_are_checked() {
        let bad = |q: TimelineQuery| q.selection().unwrap_err();
        assert!(
            bad(TimelineQuery {
                since: Some("yesterday".into()),
                ..TimelineQuery::default()
            })
            .contains("not a time")
        );
        assert!(
            bad(TimelineQuery {
                since: Some("2000".into()),
                until: Some("1000".into()),
                ..TimelineQuery::default()
            })
            .contains("after until")
        );
        assert!(
            bad(TimelineQuery {
                flow: Some("a b".into()),
                ..TimelineQuery::default()
            })
            .contains("cannot be a flow id")
        );
        let ok = TimelineQuery {
            since: Some("2026-12-01T00:00:00Z".into()),
            ..TimelineQuery::default()
        }
        .selection()
        .unwrap();
        assert_eq!(ok.since_ms, Some(1_796_083_200_000));
    }
}
