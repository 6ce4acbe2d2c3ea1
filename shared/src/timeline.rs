//! The timeline (`/__admin/timeline`): every exchange between the parts of a lab, in order, each tagged with
//! the flow it belongs to, so one operation (an import, an activation, a push login) reads as one sequence
//! across forticare, ftm, the relay, the phones and the appliances. fortimock's own API: fields may be added,
//! never renamed.
//!
//! An entry holds who sent what to whom and how it was answered, never a body, a query string or a header
//! value other than the flow id: no secret can reach it. [`mermaid`] draws entries as a Mermaid
//! `sequenceDiagram`.

use serde::{Deserialize, Serialize};

/// One exchange on the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimelineEntry {
    /// When it was answered, as a tick of the process's timeline (each request's arrival and each answer
    /// take the next tick): the order exchanges were answered in.
    pub seq: u64,
    /// When its request arrived, as a tick of the same count: the order requests were made in.
    pub opened: u64,
    /// When it was answered, on the lab clock, in milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// The flow it belongs to (`x-fortimock-flow`).
    pub flow: String,
    /// Who sent it: a virtual device (`FGVM01TM00000042`, `phone p1`) or service, as its
    /// `x-fortimock-from` header says; else the sender's address.
    pub from: String,
    /// Who answered it: the service, or the virtual appliance or phone the path names.
    pub to: String,
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The SoftToken `__type`, or the operation the handler named.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message_type: Option<String>,
    pub status: u16,
    /// The catalogue id of the error the answer carries, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

/// One flow, summarised: `GET /__admin/timeline?flows=true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FlowSummary {
    pub flow: String,
    /// The first request's time (ms) and its sender, receiver, method and path: what started the flow.
    pub first_ms: i64,
    pub last_ms: i64,
    pub from: String,
    pub to: String,
    pub method: String,
    pub path: String,
    pub exchanges: u64,
    /// Exchanges answered with a catalogue error.
    pub errors: u64,
}

/// `GET /__admin/timeline` as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimelinePage {
    /// The exchanges the query selects, in the order they were answered.
    pub entries: Vec<TimelineEntry>,
    /// With `?flows=true`: the flows among them, newest first.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub flows: Option<Vec<FlowSummary>>,
    /// How many exchanges the timeline keeps (`--journal-size`).
    pub capacity: usize,
    /// Exchanges dropped since the start because the timeline was full.
    pub dropped: u64,
}

/// The flows among `entries`, the most recently started first.
pub fn flows(entries: &[TimelineEntry]) -> Vec<FlowSummary> {
    let mut flows: Vec<(u64, FlowSummary)> = Vec::new();
    let mut index = std::collections::HashMap::<&str, usize>::new();
    for entry in entries {
        let at = *index.entry(entry.flow.as_str()).or_insert_with(|| {
            flows.push((
                u64::MAX,
                FlowSummary {
                    flow: entry.flow.clone(),
                    first_ms: entry.time_ms,
                    last_ms: entry.time_ms,
                    from: String::new(),
                    to: String::new(),
                    method: String::new(),
                    path: String::new(),
                    exchanges: 0,
                    errors: 0,
                },
            ));
            flows.len() - 1
        });
        let (opened, flow) = &mut flows[at];
        flow.first_ms = flow.first_ms.min(entry.time_ms);
        flow.last_ms = flow.last_ms.max(entry.time_ms);
        flow.exchanges += 1;
        flow.errors += u64::from(entry.error.is_some());
        // What started the flow: its first request.
        if entry.opened < *opened {
            *opened = entry.opened;
            flow.from.clone_from(&entry.from);
            flow.to.clone_from(&entry.to);
            flow.method.clone_from(&entry.method);
            flow.path.clone_from(&entry.path);
        }
    }
    flows.sort_by_key(|(opened, _)| std::cmp::Reverse(*opened));
    flows.into_iter().map(|(_, flow)| flow).collect()
}

/// A participant name or note as Mermaid takes it: no line breaks, no `;`, `#`, `:` or quotes.
fn label(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ';' | '#' | ':' | '\n' | '\r' | '"' => '_',
            c => c,
        })
        .collect()
}

/// Whether a diagram step is a request or its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    Request,
    Answer,
}

/// One arrow of a sequence diagram.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    pub kind: StepKind,
    pub entry: &'a TimelineEntry,
    /// How many requests were open when it was made (0: a flow's first request).
    pub depth: usize,
}

/// The arrows of `entries` as they happened: each request when it arrived, each answer when it was sent
/// (so a call made while serving another sits inside it).
pub fn steps(entries: &[TimelineEntry]) -> Vec<Step<'_>> {
    let mut events: Vec<(u64, StepKind, &TimelineEntry)> = Vec::with_capacity(entries.len() * 2);
    for entry in entries {
        events.push((entry.opened, StepKind::Request, entry));
        events.push((entry.seq, StepKind::Answer, entry));
    }
    events.sort_by_key(|(tick, _, _)| *tick);
    let mut open = 0usize;
    events
        .into_iter()
        .map(|(_, kind, entry)| {
            let depth = match kind {
                StepKind::Request => {
                    open += 1;
                    open - 1
                }
                StepKind::Answer => {
                    open = open.saturating_sub(1);
                    open
                }
            };
            Step { kind, entry, depth }
        })
        .collect()
}

/// The participants of `entries` in the order they first appear in [`steps`].
pub fn participants(entries: &[TimelineEntry]) -> Vec<&str> {
    let mut participants: Vec<&str> = Vec::new();
    for step in steps(entries) {
        if step.kind == StepKind::Request {
            for name in [step.entry.from.as_str(), step.entry.to.as_str()] {
                if !participants.contains(&name) {
                    participants.push(name);
                }
            }
        }
    }
    participants
}

/// `entries` as a Mermaid `sequenceDiagram`: one participant per sender and receiver in the order they
/// first appear, and for each exchange a request arrow and its answer (dashed: the status, the message
/// type, the catalogue error), placed as they happened.
pub fn mermaid(entries: &[TimelineEntry]) -> String {
    let participants = participants(entries);
    let id = |name: &str| participants.iter().position(|p| *p == name).unwrap_or(0);
    let mut text = String::from("sequenceDiagram\n");
    for (at, name) in participants.iter().enumerate() {
        text.push_str(&format!("    participant p{at} as {}\n", label(name)));
    }
    for step in steps(entries) {
        let entry = step.entry;
        let (from, to) = (id(&entry.from), id(&entry.to));
        match step.kind {
            StepKind::Request => text.push_str(&format!(
                "    p{from}->>+p{to}: {} {}\n",
                label(&entry.method),
                label(&entry.path)
            )),
            StepKind::Answer => {
                text.push_str(&format!("    p{to}-->>-p{from}: {}\n", answer_note(entry)))
            }
        }
    }
    text
}

/// What an answer arrow says: the status, the message type, the catalogue error.
pub fn answer_note(entry: &TimelineEntry) -> String {
    let mut note = entry.status.to_string();
    if let Some(message_type) = &entry.message_type {
        note.push(' ');
        note.push_str(&label(message_type));
    }
    if let Some(error) = &entry.error {
        note.push_str(&format!(" error {}", label(error)));
    }
    note
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(opened: u64, seq: u64, from: &str, to: &str, path: &str) -> TimelineEntry {
        TimelineEntry {
            seq,
            opened,
            time_ms: 1_700_000_000_000 + seq as i64,
            flow: "f1".into(),
            from: from.into(),
            to: to.into(),
            method: "POST".into(),
            path: path.into(),
            message_type: None,
            status: 200,
            error: None,
        }
    }

    #[test]
    fn nested_calls_are_drawn_inside_the_call_that_made_them() {
        // Recorded as answered: forticare's answer first, then ftm's, then the appliance's.
        let mut inner = entry(3, 4, "ftm", "forticare", "/Process");
        inner.error = Some("forticare.import.code-invalid".into());
        inner.message_type = Some("SoftToken.ActivationLicenseRequest".into());
        let entries = vec![
            inner,
            entry(2, 5, "FGVM01", "ftm", "/Process"),
            entry(1, 6, "127.0.0.1", "FGVM01", "/appliances/FGVM01/import"),
        ];
        assert_eq!(
            mermaid(&entries),
            "sequenceDiagram\n    participant p0 as 127.0.0.1\n    participant p1 as FGVM01\n    \
             participant p2 as ftm\n    participant p3 as forticare\n    \
             p0->>+p1: POST /appliances/FGVM01/import\n    p1->>+p2: POST /Process\n    \
             p2->>+p3: POST /Process\n    \
             p3-->>-p2: 200 SoftToken.ActivationLicenseRequest error forticare.import.code-invalid\n    \
             p2-->>-p1: 200\n    p1-->>-p0: 200\n"
        );
        let depths: Vec<usize> = steps(&entries).iter().map(|s| s.depth).collect();
        assert_eq!(depths, [0, 1, 2, 2, 1, 0]);
    }

    #[test]
    fn a_flow_is_summarised_by_its_first_request() {
        let entries = vec![
            entry(2, 3, "phone p1", "ftm", "/Mobile"),
            entry(4, 5, "phone p1", "push", "/api/v1/devices/x"),
            entry(1, 6, "127.0.0.1", "phone p1", "/phones/p1/activate"),
        ];
        let flows = flows(&entries);
        assert_eq!(flows.len(), 1);
        assert_eq!(
            (
                flows[0].path.as_str(),
                flows[0].from.as_str(),
                flows[0].exchanges
            ),
            ("/phones/p1/activate", "127.0.0.1", 3)
        );
    }

    #[test]
    fn labels_cannot_break_the_diagram() {
        assert_eq!(label("a;b#c:d\ne"), "a_b_c_d_e");
    }
}
