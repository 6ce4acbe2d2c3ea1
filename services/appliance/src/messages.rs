//! The captured activation messages: every email the suite's SMTP listener accepted (raw, as it arrived) and
//! every SMS its SMS sink took, in the `messages` table (`<10-digit sequence>` → `MessageRecord`), each stored
//! in one transaction before the sender is told it was accepted. Read back parsed with `mail-parser`: the
//! subject, the text, the activation code and expiry it states, its links and its inline QR code image.

use lab::store::{Order, Reader, Record, Store, StoreError, Table, Version};
use mail_parser::{MessageParser, MimeHeaders};
use protocol::messages::{DeliveryMethod, MessageQuery, MessageView};
use protocol::time::UnixTime;
use serde::{Deserialize, Serialize};

pub const MESSAGES: Table = Table::new("messages");

/// The mailbox's own facts: the last sequence number it gave (`last` → `MailboxRecord`), so an id is never
/// given twice, even after the newest message was deleted.
pub const MAILBOX: Table = Table::new("mailbox");

/// [`MAILBOX`]'s one key.
const LAST: &[u8] = b"last";

/// The most messages the table keeps; the oldest go first.
pub const MAX_MESSAGES: u64 = 10_000;

/// The header the virtual appliances put on their emails, naming the sending appliance.
pub const APPLIANCE_HEADER: &str = "X-Fortimock-Appliance";

/// A message as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    pub kind: DeliveryMethod,
    pub received: UnixTime,
    pub from: String,
    pub to: Vec<String>,
    /// The raw RFC 5322 message (email) or the text (SMS).
    pub raw: Vec<u8>,
    pub tls: bool,
}

#[derive(Serialize, Deserialize)]
struct MessageRecord {
    v: Version<1>,
    seq: u64,
    kind: DeliveryMethod,
    received: i64,
    from: String,
    to: Vec<String>,
    /// The raw message as text (emails are 7-bit or UTF-8 here; other bytes are replaced).
    raw: String,
    tls: bool,
}

impl Record for MessageRecord {
    const KIND: &'static str = "a captured message record";
}

/// The last sequence number the mailbox gave.
#[derive(Serialize, Deserialize)]
struct MailboxRecord {
    v: Version<1>,
    last: u64,
}

impl Record for MailboxRecord {
    const KIND: &'static str = "a mailbox record";
}

fn key(seq: u64) -> Vec<u8> {
    format!("{seq:010}").into_bytes()
}

/// The captured messages; cheap to clone. They share the appliance service's store.
#[derive(Clone)]
pub struct Mailbox {
    store: Store,
}

impl Mailbox {
    pub fn new(store: Store) -> Mailbox {
        Mailbox { store }
    }

    /// Stores `message`, durable before it returns; its id (`m<seq>`): one more than any id given before
    /// (a deleted message's id is not given again), or than the newest message a state import brought.
    pub async fn capture(&self, message: Captured) -> Result<String, StoreError> {
        self.store
            .write(move |tx| {
                let newest = tx
                    .scan(MESSAGES, b"", Order::Descending, Some(1))?
                    .first()
                    .map(|(_, bytes)| lab::store::decode::<MessageRecord>(bytes).map(|r| r.seq))
                    .transpose()?
                    .unwrap_or(0);
                let given = tx
                    .record::<MailboxRecord>(MAILBOX, LAST)?
                    .map_or(0, |r| r.last);
                let seq = newest.max(given) + 1;
                tx.put(
                    MAILBOX,
                    LAST,
                    &MailboxRecord {
                        v: Version,
                        last: seq,
                    },
                )?;
                let record = MessageRecord {
                    v: Version,
                    seq,
                    kind: message.kind,
                    received: message.received.secs(),
                    from: message.from,
                    to: message.to,
                    raw: String::from_utf8_lossy(&message.raw).into_owned(),
                    tls: message.tls,
                };
                tx.put(MESSAGES, &key(seq), &record)?;
                if seq > MAX_MESSAGES {
                    tx.remove(MESSAGES, &key(seq - MAX_MESSAGES))?;
                }
                Ok(format!("m{seq}"))
            })
            .await
    }

    /// The messages `query` selects, oldest first.
    pub fn list(&self, query: &MessageQuery) -> Result<Vec<MessageView>, StoreError> {
        let records: Vec<MessageRecord> = self.store.read(|r| {
            r.scan(MESSAGES, b"", Order::Ascending, None)?
                .iter()
                .map(|(_, bytes)| lab::store::decode::<MessageRecord>(bytes))
                .collect()
        })?;
        let mut views: Vec<MessageView> = records
            .iter()
            .map(view)
            .filter(|m| selects(query, m))
            .collect();
        if let Some(limit) = query.limit {
            let skip = views.len().saturating_sub(limit);
            views.drain(..skip);
        }
        Ok(views)
    }

    /// One message, parsed, with its raw bytes; `None` for an id that is not one.
    pub fn get(&self, id: &str) -> Result<Option<(MessageView, Vec<u8>)>, StoreError> {
        let Some(seq) = sequence_of(id) else {
            return Ok(None);
        };
        let record = self
            .store
            .read(|r| r.record::<MessageRecord>(MESSAGES, &key(seq)))?;
        Ok(record.map(|r| (view(&r), r.raw.into_bytes())))
    }

    /// Removes message `seq` in one transaction; what it was, or `None` when there is no such message.
    pub async fn remove(&self, seq: u64) -> Result<Option<MessageView>, StoreError> {
        self.store
            .write(move |tx| {
                let Some(record) = tx.record::<MessageRecord>(MESSAGES, &key(seq))? else {
                    return Ok(None);
                };
                tx.remove(MESSAGES, &key(seq))?;
                Ok(Some(view(&record)))
            })
            .await
    }

    /// Removes every message; how many.
    pub async fn clear(&self) -> Result<u64, StoreError> {
        self.store
            .write(|tx| {
                let keys: Vec<Vec<u8>> = tx
                    .scan(MESSAGES, b"", Order::Ascending, None)?
                    .into_iter()
                    .map(|(k, _)| k)
                    .collect();
                for k in &keys {
                    tx.remove(MESSAGES, k)?;
                }
                Ok(keys.len() as u64)
            })
            .await
    }
}

/// The sequence number of a message id as the mailbox gives them (`m` and a number without leading zeros:
/// `m1`, `m2`, …); `None` for anything else, so `m01` never names `m1`.
pub fn sequence_of(id: &str) -> Option<u64> {
    let digits = id.strip_prefix('m')?;
    if digits.is_empty()
        || digits.len() > 19
        || digits.starts_with('0')
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    digits.parse().ok()
}

fn selects(query: &MessageQuery, message: &MessageView) -> bool {
    let same = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
    query
        .recipient
        .as_deref()
        .is_none_or(|r| message.to.iter().any(|to| same(to, r)))
        && query.kind.is_none_or(|k| k == message.kind)
        && query
            .appliance
            .as_deref()
            .is_none_or(|a| message.appliance.as_deref().is_some_and(|m| same(m, a)))
}

/// The activation code a message's text states: the first 16-character base32 word that decodes as one.
pub fn activation_code_in(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .find(|word| {
            word.len() == 16
                && protocol::activation::TokenActivationCode::payload_from_input(word).is_ok()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        })
        .map(str::to_owned)
}

/// The expiry a message's text states (`expire on <date>.` / `expires on <date>.`).
fn expiry_in(text: &str) -> Option<String> {
    let at = text
        .find("expire on ")
        .map(|i| i + "expire on ".len())
        .or_else(|| text.find("expires on ").map(|i| i + "expires on ".len()))?;
    let rest = &text[at..];
    let end = rest.find(['.', '\r', '\n']).unwrap_or(rest.len());
    Some(rest[..end].trim().to_owned())
}

fn links_in(text: &str) -> Vec<String> {
    let mut links: Vec<String> = text
        .split_whitespace()
        .filter(|w| w.starts_with("https://") || w.starts_with("fortitokenmobile://"))
        .map(|w| w.trim_end_matches(['.', ',', ')']).to_owned())
        .collect();
    links.dedup();
    links
}

fn view(record: &MessageRecord) -> MessageView {
    let mut view = MessageView {
        id: format!("m{}", record.seq),
        kind: record.kind,
        received: UnixTime::from_secs(record.received),
        from: record.from.clone(),
        to: record.to.clone(),
        appliance: None,
        subject: None,
        text: String::new(),
        activation_code: None,
        expires: None,
        links: Vec::new(),
        has_qr: false,
        size: record.raw.len(),
        tls: record.tls,
    };
    match record.kind {
        DeliveryMethod::Sms => {
            view.text = record.raw.clone();
            view.appliance = Some(record.from.clone());
        }
        DeliveryMethod::Email => {
            if let Some(parsed) = MessageParser::default().parse(record.raw.as_bytes()) {
                view.subject = parsed.subject().map(str::to_owned);
                view.text = parsed
                    .body_text(0)
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                view.appliance = parsed
                    .header_raw(APPLIANCE_HEADER)
                    .map(|v| v.trim().to_owned());
                view.has_qr = qr_png(&parsed).is_some();
            }
        }
    }
    view.activation_code = activation_code_in(&view.text);
    view.expires = expiry_in(&view.text);
    view.links = links_in(&view.text);
    view
}

fn qr_png<'a>(parsed: &'a mail_parser::Message<'a>) -> Option<&'a [u8]> {
    parsed
        .attachments()
        .find(|part| {
            part.content_type()
                .is_some_and(|ct| ct.ctype() == "image" && ct.subtype() == Some("png"))
        })
        .map(|part| part.contents())
}

/// The QR code image (PNG) an email carries inline; `None` when it has none.
pub fn qr_image(raw: &[u8]) -> Option<Vec<u8>> {
    let parsed = MessageParser::default().parse(raw)?;
    qr_png(&parsed).map(<[u8]>::to_vec)
}

/// Checks one record of the mailbox's table of a state being imported.
pub fn check_mailbox_record(key: &[u8], value: &[u8]) -> anyhow::Result<()> {
    anyhow::ensure!(key == LAST, "the mailbox table holds only `last`");
    lab::store::decode::<MailboxRecord>(value)?;
    Ok(())
}

/// Checks one record of a state being imported.
pub fn check_record(key: &[u8], value: &[u8]) -> anyhow::Result<()> {
    let record: MessageRecord = lab::store::decode(value)?;
    anyhow::ensure!(
        self::key(record.seq) == key,
        "message {} is stored under another key",
        record.seq
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client that keeps an id must never find another message under it: deleting the newest message
    /// or every message does not make its id free again.
    #[tokio::test]
    async fn an_id_is_never_given_twice() {
        let mailbox = Mailbox::new(Store::open(None, &crate::store::SCHEMA).unwrap());
        let sms = |text: &str| Captured {
            kind: DeliveryMethod::Sms,
            received: UnixTime::from_secs(1_700_000_000),
            from: "FAC-VMTM00000001".to_owned(),
            to: vec!["+15550100".to_owned()],
            raw: text.as_bytes().to_vec(),
            tls: false,
        };
        assert_eq!(mailbox.capture(sms("one")).await.unwrap(), "m1");
        assert_eq!(mailbox.capture(sms("two")).await.unwrap(), "m2");
        assert!(mailbox.remove(2).await.unwrap().is_some());
        assert_eq!(mailbox.capture(sms("three")).await.unwrap(), "m3");
        assert!(mailbox.get("m2").unwrap().is_none());
        assert_eq!(mailbox.clear().await.unwrap(), 2);
        assert_eq!(mailbox.capture(sms("four")).await.unwrap(), "m4");
        let (view, raw) = mailbox.get("m4").unwrap().unwrap();
        assert_eq!(view.id, "m4");
        assert_eq!(raw, b"four");
    }

    #[test]
    fn message_ids_are_m_and_a_number_without_leading_zeros() {
        assert_eq!(sequence_of("m1"), Some(1));
        assert_eq!(sequence_of("m10000"), Some(10_000));
        for bad in [
            "",
            "m",
            "m0",
            "m01",
            "1",
            "M1",
            "m1x",
            "m-1",
            "m 1",
            "m99999999999999999999",
        ] {
            assert_eq!(sequence_of(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn codes_expiries_and_links_are_read_from_the_text() {
        let text = protocol::modeled::activation_email_text(
            "FortiGate",
            "alice",
            "EEIOHIDHBXN5QLXV",
            "Mon Jul 15 20:10:19 2024",
        );
        assert_eq!(
            activation_code_in(&text).as_deref(),
            Some("EEIOHIDHBXN5QLXV")
        );
        assert_eq!(
            expiry_in(&text).as_deref(),
            Some("Mon Jul 15 20:10:19 2024")
        );
        let links = links_in(&text);
        assert!(
            links
                .iter()
                .any(|l| l.starts_with("fortitokenmobile://activate?code=EEIOHIDHBXN5QLXV")),
            "{links:?}"
        );
        assert_eq!(activation_code_in("no code here, FortiToken Mobile"), None);
    }
}
