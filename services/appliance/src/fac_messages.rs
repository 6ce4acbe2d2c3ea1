//! How the virtual appliances send email and SMS (activation messages, token codes, transfer codes): the
//! [`MessageDelivery`] interface, and [`Outbox`], the delivery that keeps every message in memory for tests
//! and support work (`GET /appliances/{serial}/outbox`). fortimock never sends a message outside the lab.
//!
//! A real transport (an SMTP sink, an SMS gateway sink) plugs in by implementing [`MessageDelivery`] and being
//! handed to the service; the outbox keeps recording either way, so `…/outbox` always shows what was sent.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use protocol::fac_admin::{Attachment, Channel, MessageKind, OutboxMessage};
use protocol::id::ApplianceSerial;
use protocol::time::UnixTime;

/// A message about to leave an appliance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub appliance: ApplianceSerial,
    pub kind: MessageKind,
    pub channel: Channel,
    pub user: String,
    /// The email address or mobile number.
    pub to: String,
    pub subject: String,
    pub body: String,
    /// The code the message carries.
    pub code: String,
    pub attachments: Vec<Attachment>,
}

/// Why a message did not go out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the message could not be delivered: {0}")]
pub struct DeliveryError(pub String);

/// The future a delivery returns.
pub type Delivering<'a> = Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>>;

/// Sends a message by its channel (an SMTP sink for email, an SMS sink for text messages).
pub trait MessageDelivery: Send + Sync {
    fn deliver<'a>(&'a self, message: &'a Outgoing, at: UnixTime) -> Delivering<'a>;
}

/// The messages kept, newest last; the oldest go beyond this many.
const OUTBOX_CAP: usize = 1000;

/// Every message sent, in memory (cleared by a reset).
#[derive(Default)]
pub struct Outbox {
    inner: Mutex<OutboxInner>,
    /// Where messages also go, when a real transport is plugged in.
    transport: Option<Arc<dyn MessageDelivery>>,
}

#[derive(Default)]
struct OutboxInner {
    next_seq: u64,
    messages: VecDeque<OutboxMessage>,
}

impl Outbox {
    /// An outbox that also hands each message to `transport`.
    pub fn with_transport(transport: Arc<dyn MessageDelivery>) -> Outbox {
        Outbox {
            inner: Mutex::default(),
            transport: Some(transport),
        }
    }

    /// Delivers `message`: through the transport when there is one (its failure fails the delivery), then
    /// recorded.
    pub async fn send(&self, message: Outgoing, at: UnixTime) -> Result<(), DeliveryError> {
        if message.to.trim().is_empty() {
            return Err(DeliveryError(format!(
                "user {} has no {} to send to",
                message.user,
                match message.channel {
                    Channel::Email => "email address",
                    Channel::Sms => "mobile number",
                }
            )));
        }
        if let Some(transport) = &self.transport {
            transport.deliver(&message, at).await?;
        }
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.next_seq += 1;
        let seq = inner.next_seq;
        inner.messages.push_back(OutboxMessage {
            seq,
            at,
            appliance: message.appliance,
            kind: message.kind,
            channel: message.channel,
            user: message.user,
            to: message.to,
            subject: message.subject,
            body: message.body,
            code: message.code,
            attachments: message.attachments,
        });
        while inner.messages.len() > OUTBOX_CAP {
            inner.messages.pop_front();
        }
        tracing::info!(seq, "message sent to the outbox");
        Ok(())
    }

    /// The messages `appliance` sent, oldest first.
    pub fn of(&self, appliance: &ApplianceSerial) -> Vec<OutboxMessage> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .messages
            .iter()
            .filter(|m| &m.appliance == appliance)
            .cloned()
            .collect()
    }

    /// Forgets `appliance`'s messages, or every message.
    pub fn clear(&self, appliance: Option<&ApplianceSerial>) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match appliance {
            Some(serial) => inner.messages.retain(|m| &m.appliance != serial),
            None => inner.messages.clear(),
        }
    }
}
