//! The dashboard's timeline view (`/timeline`): the flows on the lab's timeline, and one flow drawn as a
//! sequence diagram in SVG, rendered here on the server (no diagram library, nothing fetched): one column
//! per participant with its lifeline, one arrow per request and per answer, in the order they happened
//! (`protocol::timeline::steps`), answers dashed, catalogue errors marked. The Mermaid text of the same flow
//! is on the page too, to paste elsewhere.

use maud::{Markup, html};
use protocol::paths;
use protocol::timeline::{
    StepKind, TimelineEntry, TimelinePage, answer_note, mermaid, participants, steps,
};

/// Column width and the first column's centre.
const COLUMN: usize = 200;
const MARGIN: usize = 110;
/// Height of the participants' boxes and of one arrow's row.
const HEAD: usize = 44;
const ROW: usize = 30;

/// The timeline page's content: the flows (each a link to itself), then `chosen` drawn.
pub(super) fn view(page: &Result<TimelinePage, String>, chosen: Option<&str>) -> Markup {
    html! {
        main id="timeline" {
            h2 { "Timeline" }
            @match page {
                Err(reason) => p class="error" { (reason) },
                Ok(page) if page.entries.is_empty() => p class="empty" {
                    "Nothing on the timeline yet: every request to the lab's services is recorded here, by flow."
                },
                Ok(page) => {
                    @let flows = page.flows.clone().unwrap_or_default();
                    @let chosen = chosen.or(flows.first().map(|f| f.flow.as_str()));
                    @if let Some(flow) = chosen {
                        @let entries: Vec<TimelineEntry> = page.entries.iter().filter(|e| e.flow == flow).cloned().collect();
                        section id="flow" data-flow=(flow) {
                            h3 { "Flow " code { (flow) } }
                            @if entries.is_empty() {
                                p class="error" { "No exchange of flow " (flow) " is on the timeline (it keeps the last " (page.capacity) ")." }
                            } @else {
                                (diagram(&entries))
                                details {
                                    summary { "Mermaid" }
                                    pre id="mermaid" { (mermaid(&entries)) }
                                }
                            }
                        }
                    }
                    section id="flows" {
                        h3 { "Flows, newest first" }
                        table {
                            thead { tr { th { "flow" } th { "started by" } th { "request" } th { "exchanges" } th { "errors" } } }
                            tbody {
                                @for flow in &flows {
                                    tr data-flow=(flow.flow) class=[(Some(flow.flow.as_str()) == chosen).then_some("chosen")] {
                                        td { a href=(format!("{}?flow={}", paths::UI_TIMELINE, flow.flow)) { code { (flow.flow) } } }
                                        td { (flow.from) " → " (flow.to) }
                                        td { (flow.method) " " (flow.path) }
                                        td { (flow.exchanges) }
                                        td class=[(flow.errors > 0).then_some("error")] { (flow.errors) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `entries` (one flow) as an SVG sequence diagram. Every element is closed explicitly (`{}`): inside SVG
/// an HTML parser takes `<line>` without a closing tag as the parent of what follows.
pub(super) fn diagram(entries: &[TimelineEntry]) -> Markup {
    let names = participants(entries);
    let steps = steps(entries);
    let x = |name: &str| MARGIN + COLUMN * names.iter().position(|n| *n == name).unwrap_or(0);
    let width = MARGIN * 2 + COLUMN * names.len().saturating_sub(1);
    let height = HEAD + ROW * (steps.len() + 1);
    html! {
        svg class="sequence" xmlns="http://www.w3.org/2000/svg" width=(width) height=(height)
            viewBox=(format!("0 0 {width} {height}")) role="img" aria-label="sequence diagram of the flow" {
            defs {
                marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse" {
                    path d="M 0 0 L 10 5 L 0 10 z" class="head" {}
                }
            }
            @for name in &names {
                g class="participant" {
                    rect x=(x(name) - COLUMN / 2 + 10) y="4" width=(COLUMN - 20) height=(HEAD - 14) rx="4" {}
                    text x=(x(name)) y=(HEAD / 2 + 4) text-anchor="middle" { (name) }
                    line class="lifeline" x1=(x(name)) y1=(HEAD - 10) x2=(x(name)) y2=(height - 4) {}
                }
            }
            @for (row, step) in steps.iter().enumerate() {
                @let y = HEAD + ROW * (row + 1);
                @let (from, to, label) = match step.kind {
                    StepKind::Request => (x(&step.entry.from), x(&step.entry.to), format!("{} {}", step.entry.method, step.entry.path)),
                    StepKind::Answer => (x(&step.entry.to), x(&step.entry.from), answer_note(step.entry)),
                };
                @let kind = match step.kind { StepKind::Request => "request", StepKind::Answer => "answer" };
                @let failed = step.kind == StepKind::Answer && (step.entry.error.is_some() || step.entry.status >= 400);
                g class=(format!("step {kind}{}", if failed { " failed" } else { "" })) data-path=(step.entry.path) {
                    line x1=(from) y1=(y) x2=(to) y2=(y) marker-end="url(#arrow)" {}
                    text x=((from + to) / 2) y=(y - 6) text-anchor="middle" { (label) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(opened: u64, seq: u64, from: &str, to: &str, error: Option<&str>) -> TimelineEntry {
        TimelineEntry {
            seq,
            opened,
            time_ms: 0,
            flow: "f".into(),
            from: from.into(),
            to: to.into(),
            method: "POST".into(),
            path: "/p".into(),
            message_type: None,
            status: 200,
            error: error.map(str::to_owned),
        }
    }

    #[test]
    fn every_request_and_answer_is_an_arrow_and_names_are_escaped() {
        let entries = [
            entry(2, 3, "FGVM01", "ftm", Some("forticare.import.code-invalid")),
            entry(1, 4, "<client>", "FGVM01", None),
        ];
        let svg = diagram(&entries).into_string();
        assert_eq!(svg.matches("class=\"step request\"").count(), 2);
        assert_eq!(svg.matches("class=\"step answer failed\"").count(), 1);
        assert!(svg.contains("&lt;client&gt;"), "{svg}");
        assert!(!svg.contains("<client>"));
    }
}
