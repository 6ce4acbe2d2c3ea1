//! FortiOS debug output as a customer pastes it: every request and response to Fortinet's cloud found in
//! it, in order, decoded into the protocol's own types, for `fortimock replay` and the dashboard's replay
//! page. Pure: text in, [`DebugLog`] out; nothing here reads a file or a clock, and no input panics.
//!
//! What the format is, from the seeds (\[WIRE\]):
//!
//! - `diag debug app forticldd -1` with `diag fortitoken debug enable` (seeds/ftm-license-transfer-between-
//!   fortigates.txt, FortiOS 7.0 b0523): debug lines `ftm_<function>[<line>]:<text>` (two may run together
//!   on one line: `ftm TCPS connected.ftm_fc_comm_send_request[117]:send`), the HTTP request line
//!   `POST /SoftToken/Provisioning.asmx/Process HTTP/1.1` and its headers, then the request body; then
//!   `ftm_fc_comm_recv_response[266]:receive packet success.` and the response body. Bodies are JSON as
//!   FortiOS writes it (json-c, spaced) and as the service answers it (compact), wrapped over several lines
//!   between tokens; the article's copy also doubles every line break (blank lines between lines).
//! - `diagnose debug application ftm-push -1` (seeds/ftm-push-troubleshooting.txt): the relay request's
//!   headers and its JSON body on one line, no request line; the relay's answer is not shown.
//! - Other daemons' lines (`[5784:root:d9]sslvpn_…`), the commands typed, TLS state dumps and prose lie
//!   around them. Serials may be sanitized by whoever pasted the log (`FGXXXXXXX`, once `FGXXXXXX`).
//!
//! What is modeled (no seed shows it; see [`crate::modeled`], "Debug-log replay"): line prefixes other than
//! the bracketed `[pid:vdom:id]` one ([`crate::modeled::debug_line_prefix_len`]: timestamps, prompts), a
//! line break inside a JSON string (a terminal's hard wrap, joined with nothing), how a sanitized value is
//! recognised ([`crate::modeled::looks_sanitized`]), and the relay's answers (`push::PushAccepted`,
//! `push::PushRefused`), recognised when a log holds them.
//!
//! Lines are numbered from 1. A line break is `\n` or `\r\n` (a lone `\r` too).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalogue::WireError;
use crate::envelope::{Inbound, Message};
use crate::license::{ActivationLicenseRequest, ActivationLicenseResponse};
use crate::mobile::{MobileProvisionRequest, MobileProvisionResponse};
use crate::modeled;
use crate::provision::{PollingRequest, PollingResponse, ProvisionRequest, ProvisionResponse};
use crate::push::{PushAccepted, PushRefused, PushRequest};
use crate::scenario::PUSH_MESSAGE;

/// The largest JSON body the parser assembles (bigger ones are reported, not read): 1 MiB, the SoftToken
/// endpoints' own limit.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The most lines one JSON body may span.
pub const MAX_BODY_LINES: usize = 5000;

/// The most line numbers and problems a [`DebugLog`] lists (it counts them all).
pub const MAX_LISTED: usize = 200;

/// Everything found in a pasted debug log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DebugLog {
    /// How many lines the text has.
    pub lines: usize,
    /// The exchanges, in the order their first message appears.
    pub exchanges: Vec<Exchange>,
    /// Lines recognised as FortiOS's own (debug function lines, commands, HTTP request lines and headers):
    /// read, but they carry no message.
    pub context_lines: usize,
    /// Lines the parser cannot use: neither a message nor a line FortiOS is known to print.
    pub unused: LineList,
    /// JSON that could not be read as a message (truncated, malformed, too large, of no known kind).
    pub problems: Vec<Problem>,
    /// How many problems there were (only the first [`MAX_LISTED`] are in `problems`).
    pub problem_count: usize,
}

/// Some line numbers: how many, and the first [`MAX_LISTED`] of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineList {
    pub count: usize,
    pub lines: Vec<usize>,
}

/// A body the parser found but could not use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The line it starts on.
    pub line: usize,
    /// The line it ends on (the last line read).
    pub end_line: usize,
    /// Why, for people.
    pub reason: String,
}

/// One request and its response, as far as the log shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// What the exchange is.
    pub kind: ExchangeKind,
    /// The request, unless the log starts after it.
    pub request: Option<Captured>,
    /// The response, unless the log does not show it (the relay's never is).
    pub response: Option<Captured>,
}

/// The exchanges fortimock knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExchangeKind {
    /// `execute fortitoken-mobile import`: `SoftToken.ActivationLicenseRequest` / `Response`.
    LicenseImport,
    /// Provisioning a token: `SoftToken.ProvisionRequest` / `Response`.
    Provision,
    /// Polling tokens: `SoftToken.PollingRequest` / `Response`.
    Polling,
    /// A phone downloading its seed: `SoftToken.MobileProvisionRequest` / `Response`.
    MobileProvision,
    /// A push sent to the relay (push.fortinet.com).
    Push,
    /// Another `SoftToken.*` message (sent to `/Process`, where appliances post).
    OtherSoftToken,
}

impl ExchangeKind {
    /// A name for people.
    pub fn describe(self) -> &'static str {
        match self {
            ExchangeKind::LicenseImport => "license import",
            ExchangeKind::Provision => "token provisioning",
            ExchangeKind::Polling => "token polling",
            ExchangeKind::MobileProvision => "phone activation (seed download)",
            ExchangeKind::Push => "push to the relay",
            ExchangeKind::OtherSoftToken => "SoftToken message",
        }
    }
}

/// Whether a message is a request or a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Request,
    Response,
}

/// One message found in the log. Its `Debug` shows the body redacted and never `text`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Captured {
    /// The line its JSON starts on.
    pub line: usize,
    /// The line its JSON ends on.
    pub end_line: usize,
    pub direction: Direction,
    /// `__type` (`SoftToken.ActivationLicenseRequest`, …), or `push` for the relay's (its scenario type).
    pub message_type: String,
    /// The appliance serial it names (`serial_number`, or the serial in a push's `sender`), trimmed.
    pub serial: Option<String>,
    /// For a response: its top-level `error`, when it has one.
    pub error: Option<WireError>,
    /// The HTTP request line printed before it, if any (`POST /SoftToken/Provisioning.asmx/Process HTTP/1.1`).
    pub request_line: Option<String>,
    /// The body as the log shows it, its wrapped lines joined. Holds whatever secrets the log holds (a
    /// provisioning request's seeds): redact before showing (`journal::redact` on [`Captured::body`]).
    #[serde(skip)]
    pub text: String,
    /// The body, parsed (secrets included, as in `text`).
    #[serde(skip)]
    pub body: Value,
    /// Why the body is not the protocol type its `__type` names, when it is not (the message is still
    /// replayed: the service says what it makes of it).
    pub decode_error: Option<String>,
}

impl std::fmt::Debug for Captured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Captured")
            .field("line", &self.line)
            .field("end_line", &self.end_line)
            .field("direction", &self.direction)
            .field("message_type", &self.message_type)
            .field("serial", &self.serial)
            .field("error", &self.error)
            .field("request_line", &self.request_line)
            .field("body", &self.shown_body())
            .field("decode_error", &self.decode_error)
            .finish_non_exhaustive()
    }
}

impl Captured {
    /// The body with every secret field redacted, for output.
    pub fn shown_body(&self) -> Value {
        let mut body = self.body.clone();
        crate::journal::redact(&mut body);
        body
    }

    /// The body as the protocol type its `__type` names.
    pub fn decoded(&self) -> Option<Decoded> {
        decode(&self.message_type, &self.body).ok()
    }
}

/// A captured body in the protocol's own types.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    ActivationLicenseRequest(ActivationLicenseRequest),
    ActivationLicenseResponse(ActivationLicenseResponse),
    ProvisionRequest(ProvisionRequest),
    ProvisionResponse(ProvisionResponse),
    PollingRequest(PollingRequest),
    PollingResponse(PollingResponse),
    MobileProvisionRequest(MobileProvisionRequest),
    MobileProvisionResponse(MobileProvisionResponse),
    Push(PushRequest),
    PushAccepted(PushAccepted),
    PushRefused(PushRefused),
}

fn decode(message_type: &str, body: &Value) -> Result<Decoded, String> {
    fn soft<T: Message>(body: &Value) -> Result<T, String> {
        let bytes = serde_json::to_vec(body).map_err(|e| e.to_string())?;
        Inbound::parse(&bytes)
            .and_then(Inbound::decode::<T>)
            .map_err(|e| e.to_string())
    }
    fn plain<T: serde::de::DeserializeOwned>(body: &Value) -> Result<T, String> {
        T::deserialize(body).map_err(|e| e.to_string())
    }
    Ok(match message_type {
        ActivationLicenseRequest::TYPE => Decoded::ActivationLicenseRequest(soft(body)?),
        ActivationLicenseResponse::TYPE => Decoded::ActivationLicenseResponse(soft(body)?),
        ProvisionRequest::TYPE => Decoded::ProvisionRequest(soft(body)?),
        ProvisionResponse::TYPE => Decoded::ProvisionResponse(soft(body)?),
        PollingRequest::TYPE => Decoded::PollingRequest(soft(body)?),
        PollingResponse::TYPE => Decoded::PollingResponse(soft(body)?),
        MobileProvisionRequest::TYPE => Decoded::MobileProvisionRequest(soft(body)?),
        MobileProvisionResponse::TYPE => Decoded::MobileProvisionResponse(soft(body)?),
        PUSH_MESSAGE if body.get("registration_id").is_some() => Decoded::Push(plain(body)?),
        PUSH_MESSAGE if body.get("message_id").is_some() => Decoded::PushAccepted(plain(body)?),
        PUSH_MESSAGE => Decoded::PushRefused(plain(body)?),
        other => return Err(format!("fortimock has no type for `{other}`")),
    })
}

/// The exchange a SoftToken `__type` belongs to, and its direction.
fn soft_token_kind(type_name: &str) -> Option<(ExchangeKind, Direction)> {
    let (stem, direction) = if let Some(stem) = type_name.strip_suffix("Request") {
        (stem, Direction::Request)
    } else if let Some(stem) = type_name.strip_suffix("Response") {
        (stem, Direction::Response)
    } else {
        return None;
    };
    let kind = match stem {
        "SoftToken.ActivationLicense" => ExchangeKind::LicenseImport,
        "SoftToken.Provision" => ExchangeKind::Provision,
        "SoftToken.Polling" => ExchangeKind::Polling,
        "SoftToken.MobileProvision" => ExchangeKind::MobileProvision,
        _ if stem.starts_with("SoftToken.") => ExchangeKind::OtherSoftToken,
        _ => return None,
    };
    Some((kind, direction))
}

/// The response type that answers a request type (`…Request` → `…Response`).
fn answer_type(request_type: &str) -> String {
    match request_type.strip_suffix("Request") {
        Some(stem) => format!("{stem}Response"),
        None => request_type.to_owned(),
    }
}

/// Reads a pasted debug log. Never fails: what it cannot use is counted in the result.
pub fn parse(text: &str) -> DebugLog {
    let lines = split_lines(text);
    let mut log = DebugLog {
        lines: lines.len(),
        exchanges: Vec::new(),
        context_lines: 0,
        unused: LineList::default(),
        problems: Vec::new(),
        problem_count: 0,
    };
    let mut request_line: Option<String> = None;
    let mut at = 0;
    while at < lines.len() {
        let line = lines[at];
        let prefix = modeled::debug_line_prefix_len(line);
        let content = &line[prefix..];
        let Some(open) = json_start(&lines, at, content) else {
            let trimmed = content.trim();
            if trimmed.is_empty() {
            } else if is_http_request_line(trimmed) {
                request_line = Some(trimmed.to_owned());
                log.context_lines += 1;
            } else if line[..prefix].contains('[') || is_context_line(trimmed) {
                // A bracketed tag (`[5784:root:d9]`) marks a FortiOS daemon's debug line.
                log.context_lines += 1;
            } else {
                log.unused.count += 1;
                if log.unused.lines.len() < MAX_LISTED {
                    log.unused.lines.push(at + 1);
                }
            }
            at += 1;
            continue;
        };
        let body = assemble(&lines, at, &content[open..]);
        let (start, end) = (at + 1, body.end + 1);
        at = body.end + 1;
        let problem = |log: &mut DebugLog, reason: String| {
            log.problem_count += 1;
            if log.problems.len() < MAX_LISTED {
                log.problems.push(Problem {
                    line: start,
                    end_line: end,
                    reason,
                });
            }
        };
        let text = match body.outcome {
            Assembled::Complete(text) => text,
            Assembled::Truncated => {
                problem(
                    &mut log,
                    "JSON that never closes: the log ends (or was cut) inside it".to_owned(),
                );
                continue;
            }
            Assembled::TooLarge => {
                problem(
                    &mut log,
                    format!(
                        "JSON that does not close within {MAX_BODY_BYTES} bytes or {MAX_BODY_LINES} lines"
                    ),
                );
                continue;
            }
        };
        let value: Value = match serde_json::from_str(&text) {
            Ok(value) => value,
            Err(e) => {
                problem(&mut log, format!("JSON that does not parse: {e}"));
                continue;
            }
        };
        match classify(&value) {
            Some((kind, direction, message_type)) => {
                let captured = captured(
                    start,
                    end,
                    direction,
                    message_type,
                    request_line.take(),
                    text,
                    value,
                );
                place(&mut log.exchanges, kind, captured);
            }
            None => problem(
                &mut log,
                "JSON that is neither a SoftToken message (`{\"d\": {\"__type\": …}}`) nor a push to the relay"
                    .to_owned(),
            ),
        }
    }
    log
}

/// The lines of `text`, without their line breaks.
fn split_lines(text: &str) -> Vec<&str> {
    if text.is_empty() {
        return Vec::new();
    }
    let mut lines: Vec<&str> = text
        .split('\n')
        .flat_map(|line| {
            let line = line.strip_suffix('\r').unwrap_or(line);
            line.split('\r')
        })
        .collect();
    if text.ends_with('\n') {
        lines.pop();
    }
    lines
}

/// Where a body starts on line `at` (whose text after its prefix is `content`): the first `{` that opens a
/// JSON object, that is, whose next character other than whitespace (on this line, or the next line with
/// any) is `"` or `}`. A debug prefix may stand before it on the same line; a `{` in other text (`ctx = {`)
/// starts nothing.
fn json_start(lines: &[&str], at: usize, content: &str) -> Option<usize> {
    content.match_indices('{').map(|(i, _)| i).find(|&i| {
        let after = content[i + 1..].trim_start();
        let next = match after.chars().next() {
            Some(c) => Some(c),
            None => lines
                .iter()
                .skip(at + 1)
                .take(MAX_BODY_LINES)
                .map(|line| line[modeled::debug_line_prefix_len(line)..].trim_start())
                .find(|line| !line.is_empty())
                .and_then(|line| line.chars().next()),
        };
        matches!(next, Some('"' | '}'))
    })
}

/// `POST /path HTTP/1.1`.
fn is_http_request_line(line: &str) -> bool {
    let mut parts = line.split(' ');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("GET" | "POST" | "PUT" | "DELETE" | "PATCH"), Some(path), Some(version), None)
            if path.starts_with('/') && version.starts_with("HTTP/")
    )
}

/// A line FortiOS prints around the messages: `ftm_fc_comm_connect[55]:…` debug lines, HTTP headers, the
/// `diag`/`diagnose`/`execute` commands (after a prompt or not), and the import's result.
fn is_context_line(line: &str) -> bool {
    let command = line.rsplit_once("# ").map_or(line, |(_, command)| command);
    let first = command.split_whitespace().next().unwrap_or_default();
    if matches!(
        first,
        "diag" | "diagnose" | "execute" | "exec" | "config" | "set" | "end"
    ) {
        return true;
    }
    if line.starts_with("import fortitoken license error:") {
        return true;
    }
    // `name[123]:text`, FortiOS's debug function lines.
    if let Some((head, _)) = line.split_once("]:")
        && let Some((name, number)) = head.split_once('[')
        && !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
    {
        return true;
    }
    // `Header-Name: value`.
    if let Some((name, _)) = line.split_once(": ")
        && !name.is_empty()
        && name.len() <= 40
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return true;
    }
    false
}

/// A body read across lines.
struct Body {
    /// The index of the last line read.
    end: usize,
    outcome: Assembled,
}

enum Assembled {
    /// The text from the opening to the matching closing brace.
    Complete(String),
    /// The lines ran out first.
    Truncated,
    /// Over [`MAX_BODY_BYTES`] or [`MAX_BODY_LINES`].
    TooLarge,
}

/// Reads a JSON object that starts at `first` (the rest of line `at`) and may go on over the next lines:
/// braces are counted outside strings. A line break between tokens is kept as whitespace, and the next
/// line's debug prefix dropped; a line break inside a string (a hard wrap) is joined with nothing.
fn assemble(lines: &[&str], at: usize, first: &str) -> Body {
    let mut scan = Scan::default();
    let mut text = String::new();
    let mut index = at;
    let mut piece = first;
    loop {
        if let Some(end) = scan.feed(piece) {
            text.push_str(&piece[..end]);
            return Body {
                end: index,
                outcome: Assembled::Complete(text),
            };
        }
        text.push_str(piece);
        if text.len() > MAX_BODY_BYTES || index - at + 1 >= MAX_BODY_LINES {
            return Body {
                end: index,
                outcome: Assembled::TooLarge,
            };
        }
        index += 1;
        let Some(next) = lines.get(index) else {
            return Body {
                end: index - 1,
                outcome: Assembled::Truncated,
            };
        };
        if scan.in_string {
            piece = next;
        } else {
            text.push('\n');
            piece = &next[modeled::debug_line_prefix_len(next)..];
        }
    }
}

/// Where a JSON object's braces stand.
#[derive(Default)]
struct Scan {
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl Scan {
    /// Reads `piece`; returns the byte index just after the brace that closes the object, if it is here.
    fn feed(&mut self, piece: &str) -> Option<usize> {
        for (i, byte) in piece.bytes().enumerate() {
            if self.in_string {
                match byte {
                    _ if self.escaped => self.escaped = false,
                    b'\\' => self.escaped = true,
                    b'"' => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match byte {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
        }
        None
    }
}

/// What a parsed body is: its exchange, direction and message type.
fn classify(value: &Value) -> Option<(ExchangeKind, Direction, String)> {
    let object = value.as_object()?;
    if let Some(type_name) = object
        .get("d")
        .and_then(|d| d.get("__type"))
        .and_then(Value::as_str)
    {
        let (kind, direction) = soft_token_kind(type_name)?;
        return Some((kind, direction, type_name.to_owned()));
    }
    let has = |key: &str| object.contains_key(key);
    if has("registration_id") && has("message") && (has("sender") || has("app")) {
        return Some((
            ExchangeKind::Push,
            Direction::Request,
            PUSH_MESSAGE.to_owned(),
        ));
    }
    if has("status") && (has("message_id") || has("reason")) {
        return Some((
            ExchangeKind::Push,
            Direction::Response,
            PUSH_MESSAGE.to_owned(),
        ));
    }
    None
}

fn captured(
    line: usize,
    end_line: usize,
    direction: Direction,
    message_type: String,
    request_line: Option<String>,
    text: String,
    body: Value,
) -> Captured {
    let serial = match message_type.as_str() {
        PUSH_MESSAGE => body
            .get("sender")
            .and_then(Value::as_str)
            .and_then(|sender| crate::push::parse_sender(sender).ok())
            .map(|(serial, _)| serial.to_string()),
        _ => body
            .get("d")
            .and_then(|d| d.get("serial_number"))
            .and_then(Value::as_str)
            .map(|serial| serial.trim().to_owned())
            .filter(|serial| !serial.is_empty()),
    };
    let error = body
        .get("d")
        .and_then(|d| d.get("error"))
        .and_then(|error| WireError::deserialize(error).ok());
    let decode_error = decode(&message_type, &body).err();
    Captured {
        line,
        end_line,
        direction,
        message_type,
        serial,
        error,
        request_line: match direction {
            Direction::Request => request_line,
            Direction::Response => None,
        },
        text,
        body,
        decode_error,
    }
}

/// Files a message: a request opens an exchange; a response answers the latest request of its exchange
/// that has no answer yet, or stands alone (the log started after its request).
fn place(exchanges: &mut Vec<Exchange>, kind: ExchangeKind, message: Captured) {
    match message.direction {
        Direction::Request => exchanges.push(Exchange {
            kind,
            request: Some(message),
            response: None,
        }),
        Direction::Response => {
            let open = exchanges.iter_mut().rev().find(|exchange| {
                exchange.response.is_none()
                    && exchange.request.as_ref().is_some_and(|request| {
                        answer_type(&request.message_type) == message.message_type
                    })
            });
            match open {
                Some(exchange) => exchange.response = Some(message),
                None => exchanges.push(Exchange {
                    kind,
                    request: None,
                    response: Some(message),
                }),
            }
        }
    }
}

/// One field where two answers differ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    /// Where: `d.serial_number`, `d.__clustered_sns[1].sn`, `d.error.error_code`.
    pub path: String,
    /// The captured value (absent: the captured answer has no such field).
    pub captured: Option<Value>,
    /// fortimock's value (absent: fortimock's answer has no such field).
    pub fortimock: Option<Value>,
    /// Whether the captured value looks sanitized by whoever pasted the log
    /// ([`crate::modeled::looks_sanitized`]), so the difference says nothing about the service.
    pub sanitized: bool,
}

/// Every field where `captured` and `fortimock` differ, the captured answer's fields in its order first.
/// Secret fields are compared but never shown: both values read as redacted.
pub fn differences(captured: &Value, fortimock: &Value) -> Vec<Difference> {
    let mut found = Vec::new();
    walk("", Some(captured), Some(fortimock), &mut found);
    found
}

fn walk(
    path: &str,
    captured: Option<&Value>,
    fortimock: Option<&Value>,
    found: &mut Vec<Difference>,
) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match (captured, fortimock) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            for (key, value) in a {
                walk(&join(key), Some(value), b.get(key), found);
            }
            for (key, value) in b {
                if !a.contains_key(key) {
                    walk(&join(key), None, Some(value), found);
                }
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            for i in 0..a.len().max(b.len()) {
                walk(&format!("{path}[{i}]"), a.get(i), b.get(i), found);
            }
        }
        (a, b) if a == b => {}
        (a, b) => {
            let secret = path
                .rsplit(['.', '['])
                .next()
                .is_some_and(crate::journal::is_secret_field);
            let shown = |value: Option<&Value>| {
                value.map(|value| {
                    if secret {
                        Value::String(crate::journal::REDACTED.to_owned())
                    } else {
                        value.clone()
                    }
                })
            };
            found.push(Difference {
                path: path.to_owned(),
                captured: shown(a),
                fortimock: shown(b),
                sanitized: a
                    .and_then(Value::as_str)
                    .is_some_and(modeled::looks_sanitized),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LICENSE_SEED: &str = include_str!("../../fixtures/debug-logs/license-import-error16.txt");
    const PUSH_SEED: &str = include_str!("../../fixtures/debug-logs/ftm-push-send.txt");
    const REQUEST_CAPTURE: &str =
        include_str!("../../fixtures/wire/license-import-error16.request.json");
    const RESPONSE_CAPTURE: &str =
        include_str!("../../fixtures/wire/license-import-error16.response.json");
    const PUSH_CAPTURE: &str = include_str!("../../fixtures/wire/push-send.request.json");

    fn json(text: &str) -> Value {
        serde_json::from_str(text).expect("a capture parses")
    }

    fn license_import_is_found(log: &DebugLog) {
        assert_eq!(log.exchanges.len(), 1, "{log:#?}");
        let exchange = &log.exchanges[0];
        assert_eq!(exchange.kind, ExchangeKind::LicenseImport);
        let request = exchange.request.as_ref().expect("the request");
        let response = exchange.response.as_ref().expect("the response");
        assert_eq!(request.body, json(REQUEST_CAPTURE));
        assert_eq!(response.body, json(RESPONSE_CAPTURE));
        assert_eq!(request.serial.as_deref(), Some("FGXXXXXXX"));
        assert_eq!(response.serial.as_deref(), Some("FGXXXXXXX"));
        assert_eq!(
            response.error,
            Some(crate::catalogue::LICENSE_CODE_INVALID.wire_error())
        );
        assert!(matches!(
            request.decoded(),
            Some(Decoded::ActivationLicenseRequest(r)) if r.license_activation_code == " BADLICBADLICXXX "
        ));
        assert!(matches!(
            response.decoded(),
            Some(Decoded::ActivationLicenseResponse(_))
        ));
        assert_eq!(request.decode_error, None);
        assert_eq!(log.problems, vec![]);
    }

    #[test]
    fn the_license_import_seed_gives_the_captured_request_and_answer() {
        let log = parse(LICENSE_SEED);
        license_import_is_found(&log);
        let request = log.exchanges[0].request.as_ref().unwrap();
        assert_eq!(
            request.request_line.as_deref(),
            Some("POST /SoftToken/Provisioning.asmx/Process HTTP/1.1")
        );
        // Every line of the excerpt is FortiOS's own except two wrapped tails: a debug line's
        // (`packet success.`) and the User-Agent header's (`Trident/5.0)`).
        assert_eq!(log.unused.lines, vec![15, 31]);
        assert!(log.context_lines > 10);
    }

    #[test]
    fn the_push_seed_gives_the_captured_push() {
        let log = parse(PUSH_SEED);
        assert_eq!(log.exchanges.len(), 1, "{log:#?}");
        let exchange = &log.exchanges[0];
        assert_eq!(exchange.kind, ExchangeKind::Push);
        assert!(exchange.response.is_none());
        let request = exchange.request.as_ref().unwrap();
        assert_eq!(request.body, json(PUSH_CAPTURE));
        assert_eq!(request.serial.as_deref(), Some("FGVM32TM20000015"));
        assert_eq!(request.message_type, PUSH_MESSAGE);
        assert!(matches!(request.decoded(), Some(Decoded::Push(p)) if p.app == "FTM"));
        assert_eq!(log.problems, vec![]);
    }

    #[test]
    fn crlf_prompts_noise_and_prefixes_change_nothing() {
        let noisy = format!(
            "FGT60F (root) # diag debug app forticldd -1\r\n\
             FGT60F (root) # diag debug enable\r\n\
             some unrelated line\r\n\
             [5784:root:d9]sslvpn_authenticate_user:192 authenticate user: [salon]\r\n\
             {}",
            LICENSE_SEED.replace('\n', "\r\n")
        );
        let log = parse(&noisy);
        license_import_is_found(&log);
        // The unrelated line, and the seed's two wrapped tails (lines 15 and 31 of the seed, 4 lines on);
        // the prompts and the bracketed debug line are FortiOS's.
        assert_eq!(log.unused.lines, vec![3, 19, 35]);
    }

    #[test]
    fn timestamps_and_bracket_prefixes_on_every_line_are_dropped() {
        let prefixed: String = LICENSE_SEED
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| format!("2024-05-01 10:00:01 [1234:root:0]{line}\n"))
            .collect();
        license_import_is_found(&parse(&prefixed));
    }

    #[test]
    fn a_body_on_one_line_after_a_debug_prefix_is_found() {
        let text = format!(
            "ftm_fc_comm_send_request[117]:send packet success.{}\nftm_fc_comm_recv_response[266]:receive packet success. {}\n",
            REQUEST_CAPTURE.trim(),
            RESPONSE_CAPTURE.trim()
        );
        license_import_is_found(&parse(&text));
    }

    #[test]
    fn a_body_hard_wrapped_inside_strings_is_joined() {
        let one_line = PUSH_CAPTURE.trim();
        let wrapped: String = one_line
            .as_bytes()
            .chunks(80)
            .map(|chunk| format!("{}\n", String::from_utf8_lossy(chunk)))
            .collect();
        let log = parse(&wrapped);
        assert_eq!(log.exchanges.len(), 1, "{log:#?}");
        assert_eq!(
            log.exchanges[0].request.as_ref().unwrap().body,
            json(PUSH_CAPTURE)
        );
        assert_eq!(log.exchanges[0].request.as_ref().unwrap().line, 1);
    }

    #[test]
    fn doubled_line_breaks_inside_a_body_change_nothing() {
        let doubled = format!(
            "{}\n\n{}\n",
            REQUEST_CAPTURE.trim().replace(", ", ",\n\n"),
            RESPONSE_CAPTURE.trim().replace(',', ",\n\n")
        );
        license_import_is_found(&parse(&doubled));
    }

    #[test]
    fn a_brace_in_other_text_does_not_swallow_the_body_after_it() {
        let text = format!(
            "group_desc = {{\nctx {{ peer: 1\n{{\n{}\n{}\n",
            REQUEST_CAPTURE.trim(),
            RESPONSE_CAPTURE.trim()
        );
        let log = parse(&text);
        license_import_is_found(&log);
        assert_eq!(log.unused.lines, vec![1, 2, 3]);
    }

    #[test]
    fn a_log_that_starts_after_the_request_keeps_the_answer_alone() {
        let start = LICENSE_SEED.find("ftm_fc_comm_recv_response").unwrap();
        let log = parse(&LICENSE_SEED[start..]);
        assert_eq!(log.exchanges.len(), 1);
        assert!(log.exchanges[0].request.is_none());
        assert_eq!(
            log.exchanges[0].response.as_ref().unwrap().body,
            json(RESPONSE_CAPTURE)
        );
    }

    #[test]
    fn a_log_cut_inside_a_body_reports_it() {
        let cut = &LICENSE_SEED[..LICENSE_SEED.find("\"result\":0").unwrap()];
        let log = parse(cut);
        assert_eq!(log.exchanges.len(), 1);
        assert!(log.exchanges[0].response.is_none());
        assert_eq!(log.problem_count, 1);
        assert!(
            log.problems[0].reason.contains("never closes"),
            "{:?}",
            log.problems
        );
    }

    #[test]
    fn malformed_and_unknown_json_is_reported_with_its_lines() {
        let log = parse(
            "hello\n{\"d\": {\"__type\": 1,}}\n{\"a\": 1}\n{\"d\": {\"__type\": \"Other.Thing\"}}\n",
        );
        assert!(log.exchanges.is_empty());
        assert_eq!(log.problem_count, 3, "{:?}", log.problems);
        assert_eq!(
            log.problems.iter().map(|p| p.line).collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
        assert_eq!(log.unused.lines, vec![1]);
    }

    #[test]
    fn a_request_that_is_not_its_protocol_type_is_kept_with_the_reason() {
        let log = parse(r#"{"d": {"__type": "SoftToken.PollingRequest", "tokens": 5}}"#);
        let request = log.exchanges[0].request.as_ref().unwrap();
        assert!(
            request
                .decode_error
                .as_deref()
                .unwrap()
                .contains("PollingRequest")
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut inputs: Vec<String> = vec![
            String::new(),
            "\n\n\r\r\n".into(),
            "{".into(),
            "}}}}{{{{".into(),
            "{\"d\": {\"__type\": \"SoftToken.ActivationLicenseRequest\"".into(),
            "[".repeat(100_000),
            "{".repeat(100_000),
            format!("{{\"d\":{}}}", "[".repeat(10_000)),
            "\"".repeat(1000),
            "\\".repeat(1000),
            "x".repeat(3_000_000),
            format!("{{\"a\": \"{}\"}}", "y".repeat(2 * MAX_BODY_BYTES)),
            "[[[[]]]]]]]]".into(),
            "ftm_fc[1]:{\u{0}\u{1}\u{ff}}".into(),
        ];
        // Every prefix of the seeds: a log cut anywhere.
        for seed in [LICENSE_SEED, PUSH_SEED] {
            for (cut, _) in seed.char_indices().step_by(7) {
                inputs.push(seed[..cut].to_owned());
            }
        }
        // Bytes that are not text, as the CLI reads them (lossily).
        let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        inputs.push(String::from_utf8_lossy(&binary).into_owned());
        for input in &inputs {
            let log = parse(input);
            assert!(log.problems.len() <= MAX_LISTED);
            assert!(log.unused.lines.len() <= MAX_LISTED);
        }
    }

    #[test]
    fn huge_input_is_read_in_linear_time() {
        // One unclosed brace per line: each would span to the end; one is reported and the rest consumed.
        let text = "{ \"a\": [\n".repeat(200_000);
        let log = parse(&text);
        assert!(log.problem_count >= 1);
        assert!(log.exchanges.is_empty());
    }

    #[test]
    fn differences_name_each_field_and_mark_sanitized_values() {
        let captured = json(RESPONSE_CAPTURE);
        let mut fortimock = captured.clone();
        fortimock["d"]["serial_number"] = "FG100F0000000001".into();
        fortimock["d"]["error"]["error_code"] = 18.into();
        fortimock["d"]["extra"] = true.into();
        let found = differences(&captured, &fortimock);
        let paths: Vec<&str> = found.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            vec!["d.serial_number", "d.error.error_code", "d.extra"]
        );
        assert!(found[0].sanitized);
        assert!(!found[1].sanitized);
        assert_eq!(found[2].captured, None);
        assert!(differences(&captured, &captured).is_empty());
    }

    #[test]
    fn differences_never_show_a_seed() {
        let a =
            json(r#"{"d": {"tokens": [{"seed": "A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A"}]}}"#);
        let b =
            json(r#"{"d": {"tokens": [{"seed": "B84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A"}]}}"#);
        let shown = serde_json::to_string(&differences(&a, &b)).unwrap();
        assert!(!shown.contains("84E2CAAD"), "{shown}");
    }
}
