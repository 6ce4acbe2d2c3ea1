//! The dashboard's HTML, rendered on the server with maud (every interpolated value escaped). The page is
//! complete without its script; the script only adds the actions, the live journal and the refresh.

use maud::{DOCTYPE, Markup, html};
use protocol::paths;
use protocol::scenario::ARMABLE;
use serde_json::Value;

use super::lab_view::{LabView, Listed, PhoneShown};

/// The whole page: `<head>` with the page's own style and script, then the lab.
pub(super) fn dashboard(view: &LabView) -> Markup {
    document(
        "fortimock dashboard",
        html! {
            (top_bar(&view.clock))
            main id="lab" {
                (licenses(view))
                (appliances(view))
                (escrow(view))
                (phones(&view.phones))
                (pushes(view))
                (scenarios(view))
            }
            (arm_form())
            (journal(&view.journal))
            div id="status" role="status" {}
        },
    )
}

/// The timeline view: the top bar, then the flows and the chosen one drawn.
pub(super) fn timeline(
    clock: &Value,
    page: &Result<protocol::timeline::TimelinePage, String>,
    flow: Option<&str>,
) -> Markup {
    document(
        "fortimock dashboard: timeline",
        html! {
            (top_bar(clock))
            (super::sequence::view(page, flow))
            div id="status" role="status" {}
        },
    )
}

/// The login form: the admin token `fortimock up` printed (or keeps in `<data-dir>/admin-token`).
pub(super) fn login(refused: Option<&str>) -> Markup {
    document(
        "fortimock dashboard: admin token",
        html! {
            main class="login" {
                h1 { "fortimock dashboard" }
                p { "This lab's admin APIs need its admin token: " code { "fortimock up" } " printed where it is (by default " code { "<data-dir>/admin-token" } ")." }
                @if let Some(reason) = refused {
                    p class="error" { (reason) }
                }
                form method="post" action=(paths::UI_LOGIN) {
                    label { "Admin token " input type="password" name="token" autocomplete="off" required; }
                    button type="submit" { "Open the dashboard" }
                }
            }
        },
    )
}

/// A page the dashboard could not render, with the reason.
pub(super) fn failure(reason: &str) -> Markup {
    document(
        "fortimock dashboard: unavailable",
        html! {
            main class="login" {
                h1 { "fortimock dashboard" }
                p class="error" { (reason) }
            }
        },
    )
}

fn document(title: &str, body: Markup) -> Markup {
    document_with_script(title, paths::UI_SCRIPT, body)
}

/// A dashboard page: the document every page shares, with its own script.
pub(super) fn document_with_script(title: &str, script: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href=(paths::UI_STYLE);
                script src=(script) defer {}
            }
            body { (body) }
        }
    }
}

fn top_bar(clock: &Value) -> Markup {
    let frozen = clock
        .get("frozen")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    html! {
        header {
            h1 { "fortimock" }
            div class="clock" {
                "Lab clock " strong id="clock" { (text(clock.get("now_rfc3339"))) }
                @if frozen { " " span class="badge" { "frozen" } }
                form data-action="clock-advance" {
                    input type="number" name="secs" value="60" aria-label="seconds to advance";
                    button type="submit" { "Advance (s)" }
                }
                button data-action="clock-freeze" data-freeze=(if frozen { "false" } else { "true" }) {
                    @if frozen { "Unfreeze" } @else { "Freeze" }
                }
            }
            nav {
                a class="button" href=(paths::UI_HOME) { "Lab" }
                " "
                a class="button" href=(paths::UI_TIMELINE) { "Timeline" }
            }
            div class="lab-actions" {
                button data-action="reset" data-confirm="Reset every service (licenses back to the fixtures)?" { "Reset lab" }
                a class="button" href=(paths::UI_REPLAY) { "Replay a debug log" }
                a class="button" href=(paths::UI_STATE_EXPORT) download="fortimock-state.json" { "Export state" }
                form data-action="import" {
                    input type="file" name="bundle" accept="application/json,.json" aria-label="state bundle";
                    button type="submit" { "Import state" }
                }
                form method="post" action=(paths::UI_LOGOUT) { button type="submit" { "Log out" } }
            }
        }
    }
}

fn licenses(view: &LabView) -> Markup {
    html! {
        section id="licenses" class="live" {
            h2 { "Licenses and owners" }
            (table(&view.licenses, &["id", "kind", "sku", "code", "seats", "owner", "valid_until", "transfers", "note"], None))
            h3 { "Transfer tickets" }
            (table(&view.transfers, &["ticket", "license", "from", "to", "activation_code", "grace_until", "rma", "status", "certificate"], None))
        }
    }
}

fn appliances(view: &LabView) -> Markup {
    html! {
        section id="appliances" class="live" {
            h2 { "Appliances and their tokens" }
            @match &view.appliances {
                Err(reason) => p class="error" { (reason) },
                Ok(list) if list.is_empty() => p class="empty" { "No virtual appliance yet." },
                Ok(list) => @for appliance in list {
                    article class="appliance" data-serial=(text(appliance.get("serial"))) {
                        h3 { (text(appliance.get("serial"))) " " span class="muted" { (text(appliance.get("mode"))) " " (text(appliance.get("version"))) } }
                        @let peers = text(appliance.get("peers"));
                        @if !peers.is_empty() { p { "HA peers: " (peers) } }
                        (rows(appliance.get("tokens"), &["serial", "status", "license", "user", "activation_code", "activation_expire", "reg_id", "os_ver", "drift_steps"], Some("serial")))
                        (rows(appliance.get("users"), &["name", "token", "failures", "locked", "locked_until"], None))
                    }
                },
            }
        }
    }
}

fn escrow(view: &LabView) -> Markup {
    html! {
        section id="escrow" class="live" {
            h2 { "FTM escrow (activation codes; seeds are never shown)" }
            (table(&view.escrow, &["activation_code", "token", "license", "appliance", "provisioned", "expires", "redeemable"], None))
            h3 { "Seed downloads (activations)" }
            (table(&view.activations, &["token", "license", "appliance", "reg_id", "os_ver", "activated"], None))
        }
    }
}

fn phones(phones: &Result<Vec<PhoneShown>, String>) -> Markup {
    html! {
        section id="phones" class="live" {
            h2 { "Phones, their accounts and live codes" }
            @match phones {
                Err(reason) => p class="error" { (reason) },
                Ok(list) if list.is_empty() => p class="empty" { "No virtual phone yet." },
                Ok(list) => @for shown in list {
                    article class="phone" data-phone=(text(shown.phone.get("id"))) {
                        h3 { (text(shown.phone.get("id"))) " " span class="muted" { (text(shown.phone.get("platform"))) " " (text(shown.phone.get("app_version"))) } }
                        p class="muted" { "registration id " code { (text(shown.phone.get("registration_id"))) } }
                        @if shown.codes.is_empty() { p class="empty" { "No account yet." } }
                        @else {
                            table {
                                thead { tr { th { "token" } th { "code" } th { "kind" } th { "valid for (s)" } } }
                                tbody {
                                    @for (serial, code) in &shown.codes {
                                        tr data-token=(serial) {
                                            td { (serial) }
                                            @match code {
                                                Ok(code) => {
                                                    td class="otp" { (text(code.get("otp"))) }
                                                    td { (text(code.get("kind"))) }
                                                    td { (text(code.get("valid_for_secs"))) }
                                                },
                                                Err(reason) => td colspan="3" class="error" { (reason) },
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        h4 { "Pushes received" }
                        (table(&shown.inbox, &["id", "received", "sender", "token", "user", "status", "detail"], None))
                    }
                },
            }
        }
    }
}

fn pushes(view: &LabView) -> Markup {
    html! {
        section id="pushes" class="live" {
            h2 { "Push relay" }
            (table(&view.pushes, &["seq", "received", "sender", "registration_id", "status", "detail", "delivered"], None))
            h3 { "Registered devices" }
            (table(&view.devices, &["registration_id", "platform", "webhook", "registered", "queued"], None))
        }
    }
}

fn scenarios(view: &LabView) -> Markup {
    html! {
        section id="scenarios" class="live" {
            h2 { "Scenarios" }
            @for (service, listed) in &view.scenarios {
                h3 { (service) }
                @match listed {
                    Err(reason) => p class="error" { (reason) },
                    Ok(list) if list.is_empty() => p class="empty" { "Nothing armed." },
                    Ok(list) => table {
                        thead { tr { th { "id" } th { "error" } th { "status" } th { "match" } th { "state" } th { "fired" } th { "remaining" } th {} } }
                        tbody {
                            @for scenario in list {
                                tr data-scenario=(text(scenario.get("id"))) {
                                    td { (text(scenario.get("id"))) }
                                    td { (text(scenario.get("error"))) }
                                    td { (text(scenario.get("status"))) }
                                    td { (text(scenario.get("match"))) }
                                    td { (text(scenario.get("state"))) }
                                    td { (text(scenario.get("fired"))) }
                                    td { (text(scenario.get("remaining"))) }
                                    td { button data-action="disarm" data-service=(service) data-id=(text(scenario.get("id"))) { "Disarm" } }
                                }
                            }
                        }
                    },
                }
            }
        }
    }
}

/// Arming a scenario: outside the parts of the page the script refreshes, so a half-filled form stays.
fn arm_form() -> Markup {
    html! {
        section id="arm" {
            h2 { "Arm a scenario" }
            form data-action="arm" {
                label { "Error "
                    select name="armable" {
                        @for armable in ARMABLE {
                            option value=(format!("{}|{}", armable.service, armable.error.id)) {
                                (armable.service) ": " (armable.error.id) " — " (armable.effect)
                            }
                        }
                    }
                }
                label { "Appliance serial (optional) " input name="serial" autocomplete="off"; }
                label { "Times (optional) " input type="number" name="times" min="1"; }
                button type="submit" { "Arm" }
            }
        }
    }
}

fn journal(entries: &[Value]) -> Markup {
    html! {
        section id="journal" {
            h2 { "Journal " span class="badge" id="live" { "live" } }
            table {
                thead { tr { th { "time" } th { "service" } th { "request" } th { "type" } th { "status" } th { "result" } } }
                tbody id="journal-rows" {
                    @for entry in entries { (journal_row(entry)) }
                }
            }
        }
    }
}

/// One journal line (the script builds the same from the live stream).
fn journal_row(entry: &Value) -> Markup {
    html! {
        tr data-seq=(text(entry.get("seq"))) {
            td { (text(entry.get("time"))) }
            td { (text(entry.get("service"))) }
            td { (text(entry.get("method"))) " " (text(entry.get("path"))) }
            td { (text(entry.get("message_type"))) }
            td { (text(entry.get("status"))) }
            td { (text(entry.get("result"))) }
        }
    }
}

/// A list as a table with `columns` (a column none of the rows has is left out); `row_key` names the field
/// each row's `data-key` carries, so tests and the script can find a row.
fn table(listed: &Listed, columns: &[&str], row_key: Option<&str>) -> Markup {
    match listed {
        Err(reason) => html! { p class="error" { (reason) } },
        Ok(items) => rows_of(items, columns, row_key),
    }
}

fn rows(value: Option<&Value>, columns: &[&str], row_key: Option<&str>) -> Markup {
    let items = value.and_then(Value::as_array).cloned().unwrap_or_default();
    rows_of(&items, columns, row_key)
}

fn rows_of(items: &[Value], columns: &[&str], row_key: Option<&str>) -> Markup {
    if items.is_empty() {
        return html! { p class="empty" { "None." } };
    }
    let shown: Vec<&str> = columns
        .iter()
        .copied()
        .filter(|column| {
            items
                .iter()
                .any(|item| item.get(column).is_some_and(|v| !v.is_null()))
        })
        .collect();
    html! {
        table {
            thead { tr { @for column in &shown { th { (column.replace('_', " ")) } } } }
            tbody {
                @for item in items {
                    tr data-key=(row_key.map(|key| text(item.get(key))).unwrap_or_default()) {
                        @for column in &shown {
                            td class=(format!("col-{column}")) { (text(item.get(column))) }
                        }
                    }
                }
            }
        }
    }
}

/// A JSON value as one line of text: strings as they are, lists joined, objects as `key value` pairs.
fn text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| text(Some(item)))
            .collect::<Vec<_>>()
            .join(", "),
        Some(Value::Object(fields)) => fields
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{k} {}", text(Some(v))))
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_are_escaped() {
        let listed: Listed = Ok(vec![json!({"note": "<script>alert(1)</script>"})]);
        let html = table(&listed, &["note"], None).into_string();
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn nested_values_read_as_one_line() {
        assert_eq!(
            text(Some(
                &json!({"appliance": "FGVM1", "cluster": ["FGVM1", "FGVM2"], "x": null})
            )),
            "appliance FGVM1, cluster FGVM1, FGVM2"
        );
    }
}
