//! Delivering an activation code the way the user gets it: a real MIME email (the code, its expiry, the
//! links, and the QR code as an inline PNG) sent over SMTP with STARTTLS to the appliance's mail server (the
//! suite's SMTP listener by default), or an SMS posted to its SMS gateway (the suite's SMS sink).
//!
//! This is the one mechanism appliance code calls to "send the activation message": `send_activation`
//! takes the appliance, the user, the channel (a [`Recipient`]: email address or phone number), the token and
//! its activation code, and answers where it went or [`ApplianceError`] with FortiOS's `Failed to send
//! activation code` (`catalogue::ACTIVATION_NOT_SENT`, 502; the token stays Pending, so a resend works). It
//! records the appliance's debug line and reads the appliance's messaging settings itself. Below it,
//! [`Outbox::send`] does the sending with explicit [`MessagingSettings`], failing with a [`DeliveryFailure`].

use lab::flow::InFlow;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use protocol::appliance::ApplianceMode;
use protocol::catalogue::ACTIVATION_NOT_SENT;
use protocol::id::ApplianceSerial;
use protocol::messages::{Delivered, DeliveryMethod, MessagingSettings, SmsSubmit};
use protocol::modeled;
use protocol::time::UnixTime;

use protocol::appliance::OperationFailure;

use crate::error::ApplianceError;
use crate::fortitoken::Appliance;
use crate::kinds;
use crate::messages::APPLIANCE_HEADER;
use crate::routes::Appliances;

/// An activation code to send to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationMessage {
    pub appliance: ApplianceSerial,
    pub kind: ApplianceMode,
    pub user: String,
    /// The token serial (`FTKMOB…`).
    pub token: String,
    /// The 16-character activation code.
    pub activation_code: String,
    pub expires: UnixTime,
}

/// Where the message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// An email address (the user's `email-to`).
    Email(String),
    /// A phone number in E.164 (the user's `sms-phone`).
    Sms(String),
}

/// Why a message was not delivered: what the appliance shows is [`ACTIVATION_NOT_SENT`]'s text; `detail` is
/// for its log and debug lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", ACTIVATION_NOT_SENT.text)]
pub struct DeliveryFailure {
    pub detail: String,
}

fn failed(detail: impl std::fmt::Display) -> DeliveryFailure {
    DeliveryFailure {
        detail: detail.to_string(),
    }
}

/// What the virtual appliances deliver with; cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    /// Trusts the lab CA (the SMS gateway is called over HTTPS).
    pub http: reqwest::Client,
    /// The lab CA, which the mail server's STARTTLS certificate must chain to; `None` without TLS.
    pub lab_ca_pem: Option<Arc<String>>,
    /// Resolves the mail server's name in pure Rust (through `--resolver` when given): lettre would ask
    /// getaddrinfo, which a static binary cannot use and which knows nothing of the lab's DNS responder.
    pub resolver: lab::client::HostResolver,
}

/// `X-Fortimock-Appliance`: the sending appliance, so captured messages can be found by appliance.
#[derive(Clone)]
struct ApplianceHeader(String);

impl Header for ApplianceHeader {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str(APPLIANCE_HEADER)
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ApplianceHeader(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// Whether `number` is a phone number in E.164 (`+` and 8 to 15 digits).
pub fn valid_phone(number: &str) -> bool {
    number
        .strip_prefix('+')
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

/// The activation email: multipart/related (the text and HTML alternatives, the QR code inline).
pub fn activation_email(
    settings: &MessagingSettings,
    message: &ActivationMessage,
    to: &str,
    sent: UnixTime,
) -> Result<Message, DeliveryFailure> {
    let product = kinds::product(message.kind);
    let expires = modeled::activation_expiry_text(message.expires);
    let text =
        modeled::activation_email_text(product, &message.user, &message.activation_code, &expires);
    let link = modeled::qr_payload(&message.activation_code);
    let html = format!(
        "<html><body><pre>{}</pre><p><a href=\"{link}\">Activate FortiToken Mobile</a></p>\
         <p><img src=\"cid:qr-code\" alt=\"FortiToken Mobile activation QR code\"></p></body></html>",
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    );
    let png = crate::qr_image::png(&link).map_err(failed)?;
    let from: Mailbox = settings
        .sender
        .parse()
        .map_err(|e| failed(format!("sender `{}`: {e}", settings.sender)))?;
    let to: Mailbox = to.parse().map_err(|e| {
        failed(format!(
            "`{}` is not an email address: {e}",
            to.chars().take(80).collect::<String>()
        ))
    })?;
    let image_type = ContentType::parse("image/png").map_err(failed)?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(modeled::activation_email_subject(product))
        .date(UNIX_EPOCH + Duration::from_secs(u64::try_from(sent.secs().max(0)).unwrap_or(0)))
        .header(ApplianceHeader(message.appliance.to_string()))
        .multipart(
            MultiPart::related()
                .multipart(
                    MultiPart::alternative()
                        .singlepart(SinglePart::plain(text))
                        .singlepart(SinglePart::html(html)),
                )
                .singlepart(Attachment::new_inline("qr-code".to_owned()).body(png, image_type)),
        )
        .map_err(failed)
}

/// Sends `appliance`'s activation code for `token` (assigned to `user`, valid until `expires`) to `channel`,
/// the way the appliance's messaging settings say: where it went, or `Failed to send activation code`
/// (`ApplianceError::Cloud`, 502, with the debug line), which leaves every token as it was.
pub(crate) async fn send_activation(
    state: &Appliances,
    appliance: &Appliance,
    user: &str,
    channel: &Recipient,
    token: &str,
    activation_code: &str,
    expires: UnixTime,
) -> Result<Delivered, ApplianceError> {
    let profile = state.profile_of(appliance)?;
    let message = ActivationMessage {
        appliance: appliance.serial.clone(),
        kind: appliance.mode,
        user: user.to_owned(),
        token: token.to_owned(),
        activation_code: activation_code.to_owned(),
        expires,
    };
    match state
        .outbox
        .send(
            state.messaging_of(&profile),
            &message,
            channel,
            state.clock.now(),
        )
        .await
    {
        Ok(delivered) => {
            let line = format!(
                "alertmail:Token activation code sent: {token} to {}",
                delivered.recipient
            );
            state.record_debug(&appliance.serial, &[line]);
            tracing::info!(appliance = %appliance.serial, token, method = ?delivered.method, "activation code sent");
            Ok(delivered)
        }
        Err(failure) => {
            let line = format!("alertmail:{failure}");
            state.record_debug(&appliance.serial, std::slice::from_ref(&line));
            tracing::warn!(appliance = %appliance.serial, token, detail = %failure.detail, "activation code not sent");
            Err(ApplianceError::Cloud {
                status: 502,
                failure: OperationFailure {
                    error_id: ACTIVATION_NOT_SENT.id.to_owned(),
                    message: ACTIVATION_NOT_SENT.text.to_owned(),
                    error_code: None,
                    debug: vec![line],
                },
            })
        }
    }
}

impl Outbox {
    /// Sends `message` to `to` as `settings` say; where it went, or why it did not.
    pub async fn send(
        &self,
        settings: &MessagingSettings,
        message: &ActivationMessage,
        to: &Recipient,
        now: UnixTime,
    ) -> Result<Delivered, DeliveryFailure> {
        match to {
            Recipient::Email(address) => self.email(settings, message, address, now).await,
            Recipient::Sms(number) => self.sms(settings, message, number).await,
        }
    }

    async fn email(
        &self,
        settings: &MessagingSettings,
        message: &ActivationMessage,
        address: &str,
        now: UnixTime,
    ) -> Result<Delivered, DeliveryFailure> {
        let email = activation_email(settings, message, address, now)?;
        let tls = match (settings.smtp_security.as_str(), &self.lab_ca_pem) {
            ("none", _) | (_, None) => Tls::None,
            (_, Some(ca)) => {
                let certificate = Certificate::from_pem(ca.as_bytes()).map_err(failed)?;
                Tls::Required(
                    TlsParameters::builder(settings.smtp_server.clone())
                        .add_root_certificate(certificate)
                        .build_rustls()
                        .map_err(failed)?,
                )
            }
        };
        // The connection goes to the address the name resolves to; the name stays the TLS server name.
        let server = self
            .resolver
            .lookup(&settings.smtp_server)
            .await
            .map_err(|e| {
                failed(format!(
                    "SMTP {}:{}: {e:#}",
                    settings.smtp_server, settings.smtp_port
                ))
            })?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.to_string())
            .port(settings.smtp_port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(10)))
            .build();
        let response = transport.send(email).await.map_err(|e| {
            let mut detail = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                detail.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            failed(format!(
                "SMTP {}:{}: {detail}",
                settings.smtp_server, settings.smtp_port
            ))
        })?;
        Ok(Delivered {
            method: DeliveryMethod::Email,
            recipient: address.to_owned(),
            server_reply: format!(
                "{} {}",
                response.code(),
                response.message().collect::<Vec<_>>().join(" ")
            ),
        })
    }

    async fn sms(
        &self,
        settings: &MessagingSettings,
        message: &ActivationMessage,
        number: &str,
    ) -> Result<Delivered, DeliveryFailure> {
        if !valid_phone(number) {
            return Err(failed(format!(
                "`{}` is not a phone number in E.164 (+ and 8 to 15 digits)",
                number.chars().take(40).collect::<String>()
            )));
        }
        let product = kinds::product(message.kind);
        let expires = modeled::activation_expiry_text(message.expires);
        let submit = SmsSubmit {
            from: message.appliance.to_string(),
            to: number.to_owned(),
            text: modeled::activation_sms_text(product, &message.activation_code, &expires),
        };
        let answer = self
            .http
            .post(&settings.sms_gateway)
            .in_flow()
            .json(&submit)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| failed(format!("SMS gateway {}: {e}", settings.sms_gateway)))?;
        let status = answer.status();
        let body = answer.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(failed(format!(
                "SMS gateway answered {status}: {}",
                body.chars().take(200).collect::<String>()
            )));
        }
        Ok(Delivered {
            method: DeliveryMethod::Sms,
            recipient: number.to_owned(),
            server_reply: format!("{status} {}", body.chars().take(200).collect::<String>()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_email_carries_the_code_the_expiry_and_the_qr_code() {
        let settings = MessagingSettings {
            smtp_server: "127.0.0.1".into(),
            smtp_port: 8025,
            smtp_security: "starttls".into(),
            sender: modeled::ACTIVATION_SENDER.into(),
            sms_gateway: "https://127.0.0.1:8446/sms/v1/messages".into(),
        };
        let message = ActivationMessage {
            appliance: "FGVM02TM00000001".parse().unwrap(),
            kind: ApplianceMode::Fortigate,
            user: "alice".into(),
            token: "FTKMOB0000000001".into(),
            activation_code: "EEIOHIDHBXN5QLXV".into(),
            expires: UnixTime::from_secs(1_721_074_219),
        };
        let email =
            activation_email(&settings, &message, "alice@example.com", message.expires).unwrap();
        let raw = email.formatted();
        let view = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(
            view.subject(),
            Some("FortiGate FortiToken Mobile activation")
        );
        let text = view.body_text(0).unwrap();
        assert!(
            text.contains("EEIOHIDHBXN5QLXV") && text.contains("Mon Jul 15 20:10:19 2024"),
            "{text}"
        );
        assert!(crate::messages::qr_image(&raw).is_some());
        assert!(activation_email(&settings, &message, "not an address", message.expires).is_err());
        assert!(valid_phone("+15551234567") && !valid_phone("5551234567") && !valid_phone("+1555"));
    }
}
