//! Pushes on the phone, as pure functions: reading a push that arrives (the HMAC checked with the token's
//! seed before anything is shown, as the app does), the inbox of pushes, what the phone does with one on
//! arrival (its policy), and how an answer's delivery failure reads to the user.

use protocol::catalogue::INVALID_SERVER_CERTIFICATE;
use protocol::id::TokenSerial;
use protocol::paths::PUSH_CALLBACK;
use protocol::phone::{InboxEntry, PhoneChange, PushPolicy, PushStatus};
use protocol::push::{self, DeliveredPush, PushMessage, PushPayload};
use protocol::time::UnixTime;

use crate::app_data::AppData;
use crate::device::Identity;

/// How many pushes a phone keeps; the oldest go first.
pub const INBOX_SIZE: usize = 200;

/// The longest `push_delay_ms` a phone accepts (FortiOS waits at most 300 s for an answer).
pub const MAX_DELAY_MS: u64 = 300_000;

/// What a phone does with pushes as they arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushSettings {
    pub policy: PushPolicy,
    pub delay_ms: u64,
}

impl Default for PushSettings {
    fn default() -> PushSettings {
        PushSettings {
            policy: PushPolicy::Manual,
            delay_ms: 0,
        }
    }
}

impl PushSettings {
    /// Applies the push part of a `PATCH /phones/{id}`.
    pub fn apply(&mut self, change: &PhoneChange) -> Result<(), String> {
        if let Some(delay) = change.push_delay_ms {
            if delay > MAX_DELAY_MS {
                return Err(format!("push_delay_ms {delay} is more than {MAX_DELAY_MS}"));
            }
            self.delay_ms = delay;
        }
        if let Some(policy) = change.push_policy {
            self.policy = policy;
        }
        Ok(())
    }
}

/// One push a phone received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxItem {
    pub id: u64,
    pub message_id: String,
    pub received: UnixTime,
    pub sender: String,
    /// `sn`: the token the push names.
    pub token: String,
    pub status: PushStatus,
    pub detail: Option<String>,
    /// What the push says, once its HMAC checked out.
    pub payload: Option<PushPayload>,
}

impl InboxItem {
    pub fn entry(&self) -> InboxEntry {
        let payload = self.payload.as_ref();
        InboxEntry {
            id: self.id,
            message_id: self.message_id.clone(),
            received: self.received,
            sender: self.sender.clone(),
            token: self.token.clone(),
            status: self.status,
            detail: self.detail.clone(),
            session_id: payload.map(|p| p.session_id.clone()),
            user: payload.map(|p| p.user.clone()),
            appliance: payload.map(|p| p.serial.to_string()),
            client_ip: payload.map(|p| p.client_ip.clone()),
            client_application: payload.map(|p| p.client_application.clone()),
            callback: payload.map(|p| format!("{}:{}", p.callback_host, p.callback_port)),
        }
    }
}

/// A phone's pushes, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushInbox {
    pub next_id: u64,
    pub items: Vec<InboxItem>,
}

impl PushInbox {
    /// Adds a push, numbering it; returns its id.
    pub fn add(&mut self, mut item: InboxItem) -> u64 {
        self.next_id += 1;
        item.id = self.next_id;
        self.items.push(item);
        if self.items.len() > INBOX_SIZE {
            let excess = self.items.len() - INBOX_SIZE;
            self.items.drain(..excess);
        }
        self.next_id
    }

    /// The push `wanted` names: its id, or `latest` for the newest one still pending.
    pub fn find(&self, wanted: &str) -> Option<&InboxItem> {
        if wanted == "latest" {
            return self
                .items
                .iter()
                .rev()
                .find(|i| i.status == PushStatus::Pending);
        }
        let id: u64 = wanted.parse().ok()?;
        self.items.iter().find(|i| i.id == id)
    }

    pub fn item_mut(&mut self, id: u64) -> Option<&mut InboxItem> {
        self.items.iter_mut().find(|i| i.id == id)
    }
}

/// Reads a push that arrived: the token it names must be on the phone, and its HMAC must be the one the
/// token's seed gives; otherwise it is kept as `rejected`, and never shown.
pub fn read(app: &AppData, identity: &Identity, delivered: &DeliveredPush) -> InboxItem {
    let mut item = InboxItem {
        id: 0,
        message_id: delivered.message_id.clone(),
        received: delivered.received,
        sender: delivered.sender.clone(),
        token: String::new(),
        status: PushStatus::Rejected,
        detail: None,
        payload: None,
    };
    let message = match PushMessage::from_wire(&delivered.message) {
        Ok(message) => message,
        Err(e) => {
            item.detail = Some(e.to_string());
            return item;
        }
    };
    item.token = message.sn.clone();
    let account = message
        .sn
        .parse::<TokenSerial>()
        .ok()
        .and_then(|serial| app.pick(Some(&serial)).ok());
    let Some(account) = account else {
        item.detail = Some(format!("no token {} on this phone", message.sn));
        return item;
    };
    let seed = match app.seed_of(&identity.mobile_id, account) {
        Ok(seed) => seed,
        Err(e) => {
            item.detail = Some(format!("the token's seed cannot be read: {e}"));
            return item;
        }
    };
    match push::open_payload(seed.as_bytes(), &message) {
        Ok(payload) if payload.token == account.serial => {
            item.status = PushStatus::Pending;
            item.payload = Some(payload);
        }
        Ok(_) => item.detail = Some("the payload names another token than `sn`".into()),
        Err(e) => item.detail = Some(e.to_string()),
    }
    item
}

/// Where the answer to `payload` goes.
pub fn callback_url(payload: &PushPayload, secure: bool) -> String {
    let scheme = if secure { "https" } else { "http" };
    let host = if payload.callback_host.contains(':') {
        format!("[{}]", payload.callback_host)
    } else {
        payload.callback_host.clone()
    };
    format!("{scheme}://{host}:{}{PUSH_CALLBACK}", payload.callback_port)
}

/// What the user sees when the answer cannot be delivered: the app's certificate error when TLS to the
/// appliance fails on its certificate, otherwise the connection failure.
pub fn delivery_failure(error: &(dyn std::error::Error + 'static), address: &str) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    if chain.to_ascii_lowercase().contains("certificate") {
        INVALID_SERVER_CERTIFICATE.text.to_owned()
    } else {
        format!("cannot connect to {address}: {chain}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(status: PushStatus) -> InboxItem {
        InboxItem {
            id: 0,
            message_id: "m".into(),
            received: UnixTime::from_secs(0),
            sender: "FGT-FGVM01TM00000001-root".into(),
            token: "FTKMOB0000000001".into(),
            status,
            detail: None,
            payload: None,
        }
    }

    #[test]
    fn the_inbox_numbers_finds_and_caps() {
        let mut inbox = PushInbox::default();
        assert_eq!(inbox.add(item(PushStatus::Pending)), 1);
        assert_eq!(inbox.add(item(PushStatus::Denied)), 2);
        assert_eq!(inbox.find("latest").unwrap().id, 1);
        assert_eq!(inbox.find("2").unwrap().status, PushStatus::Denied);
        assert!(inbox.find("9").is_none() && inbox.find("x").is_none());
        for _ in 0..INBOX_SIZE {
            inbox.add(item(PushStatus::Ignored));
        }
        assert_eq!(inbox.items.len(), INBOX_SIZE);
        assert!(inbox.find("latest").is_none());
    }

    #[test]
    fn settings_change_is_checked() {
        let mut settings = PushSettings::default();
        let change = PhoneChange {
            push_policy: Some(PushPolicy::ApproveAfterDelay),
            push_delay_ms: Some(250),
            ..PhoneChange::default()
        };
        settings.apply(&change).unwrap();
        assert_eq!(
            (settings.policy, settings.delay_ms),
            (PushPolicy::ApproveAfterDelay, 250)
        );
        let too_long = PhoneChange {
            push_delay_ms: Some(MAX_DELAY_MS + 1),
            ..PhoneChange::default()
        };
        assert!(settings.apply(&too_long).is_err());
    }
}
