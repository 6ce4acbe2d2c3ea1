//! Activation messages as users get them: the emails the suite's SMTP listener captured and the SMS its
//! SMS sink took (`/__admin/messages` on the appliance service), how an appliance is told where to deliver
//! (`config system email-server`, the SMS gateway), and what it asks for when it sends an activation code.
//! Fields may be added, never renamed.

use serde::{Deserialize, Serialize};

use crate::time::UnixTime;

/// How an activation code reaches the user (FortiOS `send-activation` `method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryMethod {
    Email,
    Sms,
}

/// A captured message (`GET /__admin/messages/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    /// `m1`, `m2`, … in arrival order.
    pub id: String,
    pub kind: DeliveryMethod,
    /// When it arrived (lab clock).
    pub received: UnixTime,
    /// The envelope sender (email) or the sending appliance's name (SMS).
    pub from: String,
    /// The recipients: addresses (email) or one phone number (SMS).
    pub to: Vec<String>,
    /// The appliance that sent it, when the message says (the virtual appliances add `X-Fortimock-Appliance`;
    /// an SMS names it in `from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appliance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The plain-text body (the SMS text, or the email's text part).
    pub text: String,
    /// The activation code the message carries, parsed from its text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_code: Option<String>,
    /// The expiry the message states, as printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// The links in the message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// Whether the email carries an inline QR code image (`GET …/qr.png`).
    pub has_qr: bool,
    /// The raw message's size in bytes (`GET …/message.eml` for an email).
    pub size: usize,
    /// Whether the SMTP session was encrypted (STARTTLS); `false` for SMS.
    pub tls: bool,
}

/// `GET /__admin/messages`: the captured messages, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageList {
    pub messages: Vec<MessageView>,
}

/// `GET /__admin/messages?recipient=&kind=&appliance=&limit=`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageQuery {
    /// Only messages to this address or number (any letter case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    /// `email` or `sms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<DeliveryMethod>,
    /// Only messages from this appliance serial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appliance: Option<String>,
    /// Only the newest N.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// `DELETE /__admin/messages`: how many were removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagesCleared {
    pub removed: u64,
}

/// What an SMS gateway is posted (`POST /sms/v1/messages` on the appliance service, the suite's SMS sink),
/// as FortiAuthenticator's HTTP SMS gateway and FortiGate's custom SMS server post it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSubmit {
    /// The sender's name (the appliance's serial for the virtual appliances).
    pub from: String,
    /// The recipient's number, in E.164 (`+15551234567`).
    pub to: String,
    /// The text, at most 1,600 characters (ten concatenated SMS).
    pub text: String,
}

/// The SMS sink's answer: the message was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsAccepted {
    pub status: String,
    pub id: String,
}

/// The SMS sink's refusal (`400` with a sentence, or a scenario's status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsRefused {
    pub status: String,
    pub error: String,
}

/// `config system email-server` (and the SMS gateway) of a virtual appliance: where it delivers activation
/// messages. Defaults: the suite's SMTP listener (STARTTLS, verified against the lab CA) and SMS sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MessagingSettings {
    /// `server`: the mail server's address (an IP address, or a name the lab certificate covers).
    pub smtp_server: String,
    /// `port`.
    pub smtp_port: u16,
    /// `security`: `starttls` (the default) or `none`.
    pub smtp_security: String,
    /// `reply-to` / the sender of activation emails.
    pub sender: String,
    /// The SMS gateway's URL (the suite's SMS sink).
    pub sms_gateway: String,
}

/// A partial change of `MessagingSettings` (`PATCH /appliances/{serial}/messaging`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessagingChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_security: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_gateway: Option<String>,
}

/// `POST /appliances/{serial}/send-activation`: FortiOS's monitor API `user/fortitoken/send-activation`
/// (`token`, `method`, `email`, `sms_phone`): the token's activation code sent (again) to its user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendActivation {
    pub token: String,
    pub method: DeliveryMethod,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_phone: Option<String>,
}

/// A message delivered: where it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delivered {
    pub method: DeliveryMethod,
    pub recipient: String,
    /// What the mail server or gateway answered (`250 OK`, `accepted …`).
    pub server_reply: String,
}

/// `POST /phones/{id}/scan`: the phone's camera pointed at a QR code image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// The PNG image, in Base64.
    pub png: String,
}
