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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MessageList {
    pub messages: Vec<MessageView>,
}

/// `GET /__admin/messages?recipient=&kind=&appliance=&limit=`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MessageQuery {
    /// Only messages to this address or number (any letter case; not blank, at most 254 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    /// `email` or `sms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<DeliveryMethod>,
    /// Only messages from this appliance serial (not blank, at most 128 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appliance: Option<String>,
    /// Only the newest N (1 to 10000, the most the suite keeps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// The most messages a listing returns, and the most the suite keeps.
pub const MAX_MESSAGES: usize = 10_000;

/// The longest recipient a filter names (an email address is at most 254 characters).
pub const MAX_RECIPIENT: usize = 254;

/// The first `max` characters of `text`, for an error that quotes what it was given.
fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

impl MessageQuery {
    /// The query a query string's `(name, value)` pairs make, or a sentence naming the parameter that is
    /// wrong (unknown, given twice, a kind other than email or sms, a limit that is not a number) or the
    /// value [`MessageQuery::check`] refuses.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<MessageQuery, String> {
        fn once<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), String> {
            match slot.replace(value) {
                Some(_) => Err(format!("`{name}` is given twice")),
                None => Ok(()),
            }
        }
        let mut query = MessageQuery::default();
        for (name, value) in pairs {
            match name.as_str() {
                "recipient" => once(&mut query.recipient, name, value.clone())?,
                "appliance" => once(&mut query.appliance, name, value.clone())?,
                "kind" => {
                    let kind = match value.trim().to_ascii_lowercase().as_str() {
                        "email" => DeliveryMethod::Email,
                        "sms" => DeliveryMethod::Sms,
                        _ => {
                            return Err(format!(
                                "kind `{}` is neither email nor sms",
                                clip(value, 32)
                            ));
                        }
                    };
                    once(&mut query.kind, name, kind)?;
                }
                "limit" => {
                    let limit = value.trim().parse::<usize>().map_err(|_| {
                        format!(
                            "limit `{}` is not a number from 1 to {MAX_MESSAGES}",
                            clip(value, 32)
                        )
                    })?;
                    once(&mut query.limit, name, limit)?;
                }
                other => {
                    return Err(format!(
                        "unknown parameter `{}`: expected recipient, kind, appliance or limit",
                        clip(other, 32)
                    ));
                }
            }
        }
        query.check()?;
        Ok(query)
    }

    /// Why this query cannot select anything meaningful (a blank or overlong filter, a limit of 0 or over
    /// the most kept), as a sentence naming the parameter; `Ok` when it is a query to run.
    pub fn check(&self) -> Result<(), String> {
        if let Some(recipient) = &self.recipient {
            let trimmed = recipient.trim();
            if trimmed.is_empty() || trimmed.chars().count() > MAX_RECIPIENT {
                return Err(format!(
                    "recipient must be an address or number of 1 to {MAX_RECIPIENT} characters"
                ));
            }
            if trimmed.chars().any(char::is_control) {
                return Err("recipient must not contain control characters".to_owned());
            }
        }
        if let Some(appliance) = &self.appliance {
            let trimmed = appliance.trim();
            if trimmed.is_empty() || trimmed.len() > 128 || trimmed.chars().any(char::is_control) {
                return Err(
                    "appliance must be an appliance serial (1 to 128 characters)".to_owned(),
                );
            }
        }
        if let Some(limit) = self.limit
            && !(1..=MAX_MESSAGES).contains(&limit)
        {
            return Err(format!("limit must be 1 to {MAX_MESSAGES}, not {limit}"));
        }
        Ok(())
    }
}

/// `DELETE /__admin/messages` takes no parameters: it removes every message (a filter is refused rather
/// than ignored, so a selective delete never empties the mailbox).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClearQuery {}

/// `DELETE /__admin/messages`: how many were removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MessagesCleared {
    pub removed: u64,
}

/// What an SMS gateway is posted (`POST /sms/v1/messages` on the appliance service, the suite's SMS sink),
/// as FortiAuthenticator's HTTP SMS gateway and FortiGate's custom SMS server post it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SmsAccepted {
    pub status: String,
    pub id: String,
}

/// The SMS sink's refusal (`400` with a sentence, or a scenario's status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &str) -> Vec<(String, String)> {
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }

    #[test]
    fn a_message_query_names_what_is_wrong_with_it() {
        assert_eq!(
            MessageQuery::from_pairs(&pairs("recipient=a@b.c&kind=SMS&limit=3")),
            Ok(MessageQuery {
                recipient: Some("a@b.c".to_owned()),
                kind: Some(DeliveryMethod::Sms),
                appliance: None,
                limit: Some(3),
            })
        );
        for (query, names) in [
            ("kind=pigeon", "kind `pigeon`"),
            ("limit=abc", "limit `abc`"),
            ("limit=0", "limit must be 1 to 10000"),
            ("limit=10001", "limit must be 1 to 10000"),
            ("recipient=", "recipient"),
            ("appliance=", "appliance"),
            ("kind=sms&kind=email", "`kind` is given twice"),
            ("surprise=1", "unknown parameter `surprise`"),
        ] {
            let error = MessageQuery::from_pairs(&pairs(query)).unwrap_err();
            assert!(error.contains(names), "{query}: {error}");
        }
    }
}
