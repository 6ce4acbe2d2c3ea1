//! The appliance header every FortiGate / FortiAuthenticator message carries, and its echo in responses
//! (dossier section 2.1, \[WIRE\]).
//!
//! Requests carry `__version`, `serial_number`, `__device_version`, `__device_build` and the HA members in
//! `__clustered_sns`; responses echo the first four verbatim and give each cluster member an `error`
//! that is `null` or a string such as `Product is not registered`. Values are echoed as received,
//! stray spaces included, as the license-import capture shows; they are trimmed only when parsed.

use serde::de::value::{BorrowedStrDeserializer, MapAccessDeserializer};
use serde::de::{DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::id::{ApplianceSerial, IdError};

/// The header of an appliance request. Wire-compatible: fields may be added, never renamed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestHeader {
    /// Protocol version as a string: `"4"` from FortiOS 6.0 and 7.0.
    #[serde(rename = "__version", default)]
    pub version: String,
    /// The sending appliance (the HA primary).
    pub serial_number: String,
    /// FortiOS major.minor, e.g. `"7.0"`.
    #[serde(rename = "__device_version", default)]
    pub device_version: String,
    /// FortiOS build as a string, e.g. `"0523"`.
    #[serde(rename = "__device_build", default)]
    pub device_build: String,
    /// Every HA member, the primary included. `null` and absence both mean a lone unit.
    #[serde(
        rename = "__clustered_sns",
        default,
        deserialize_with = "null_as_empty"
    )]
    pub clustered_sns: Vec<ClusterMember>,
}

/// One `__clustered_sns` entry of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterMember {
    pub sn: String,
}

/// Read from an object only. Messages take the header through serde's `flatten`, which buffers its fields
/// where [`crate::strict::Strict`] does not reach, and a derived struct would read `["FGT1"]` as its
/// fields in order; so the one struct inside the header refuses an array itself.
impl<'de> Deserialize<'de> for ClusterMember {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ClusterMember, D::Error> {
        struct Member;

        impl<'de> Visitor<'de> for Member {
            type Value = ClusterMember;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("struct ClusterMember")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ClusterMember, A::Error> {
                let mut sn: Option<String> = None;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "sn" {
                        if sn.is_some() {
                            return Err(serde::de::Error::duplicate_field("sn"));
                        }
                        sn = Some(map.next_value()?);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                let sn = sn.ok_or_else(|| serde::de::Error::missing_field("sn"))?;
                Ok(ClusterMember { sn })
            }
        }

        deserializer.deserialize_struct("ClusterMember", &["sn"], Member)
    }
}

/// The header of an appliance response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseHeader {
    #[serde(rename = "__version")]
    pub version: String,
    pub serial_number: String,
    #[serde(rename = "__device_version")]
    pub device_version: String,
    #[serde(rename = "__device_build")]
    pub device_build: String,
    #[serde(
        rename = "__clustered_sns",
        default,
        deserialize_with = "null_as_empty"
    )]
    pub clustered_sns: Vec<ClusterMemberStatus>,
}

/// One `__clustered_sns` entry of a response: an error *string*, not an object (dossier 2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMemberStatus {
    pub sn: String,
    pub error: Option<String>,
}

impl RequestHeader {
    /// A header for a lone appliance or an HA cluster (the primary first), as FortiOS builds it.
    pub fn new(
        serial: &ApplianceSerial,
        peers: &[ApplianceSerial],
        device_version: &str,
        device_build: &str,
    ) -> RequestHeader {
        let clustered_sns = std::iter::once(serial)
            .chain(peers)
            .map(|sn| ClusterMember { sn: sn.to_string() })
            .collect();
        RequestHeader {
            version: "4".to_owned(),
            serial_number: serial.to_string(),
            device_version: device_version.to_owned(),
            device_build: device_build.to_owned(),
            clustered_sns,
        }
    }

    /// The requesting appliance's serial.
    pub fn serial(&self) -> Result<ApplianceSerial, IdError> {
        self.serial_number.parse()
    }

    /// The requester and every parsable cluster member, without duplicates, requester first.
    pub fn cluster(&self) -> Result<Vec<ApplianceSerial>, IdError> {
        let mut members = vec![self.serial()?];
        for member in &self.clustered_sns {
            if let Ok(sn) = member.sn.parse::<ApplianceSerial>()
                && !members.contains(&sn)
            {
                members.push(sn);
            }
        }
        Ok(members)
    }

    /// The response header: the request's fields echoed, each cluster member with `error` from
    /// `member_error` (given `None` for a member whose serial does not parse).
    ///
    /// The members come back sorted by serial, not in request order: the captured ProvisionResponse
    /// (KB 308115) answers `[…494, …407]` with `[…407, …494]`.
    ///
    /// The request's strings move into the answer: a request header is answered once.
    pub fn reply(
        self,
        member_error: impl Fn(Option<&ApplianceSerial>) -> Option<String>,
    ) -> ResponseHeader {
        let mut clustered_sns: Vec<ClusterMemberStatus> = self
            .clustered_sns
            .into_iter()
            .map(|m| {
                let error = member_error(m.sn.parse().ok().as_ref());
                ClusterMemberStatus { sn: m.sn, error }
            })
            .collect();
        clustered_sns.sort_by(|a, b| a.sn.trim().cmp(b.sn.trim()));
        ResponseHeader {
            version: self.version,
            serial_number: self.serial_number,
            device_version: self.device_version,
            device_build: self.device_build,
            clustered_sns,
        }
    }
}

fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// A headed message's text (`d`, a JSON object) read in one pass: the appliance header, and `F`, the
/// message's own fields. `None` on anything but a well-formed message, for the derived decode to decide.
///
/// The derived decode takes the header through serde's `flatten`, which first copies every field it does
/// not know into serde's private buffer and then reads them again: on a one-token poll that was about an
/// eighth of ftm's instructions. Here the header's five keys are read where they stand and every other key
/// goes on to `F`'s own derive. A key written with escapes, a header field twice or of the wrong type, an
/// array where an object belongs: each declines, so what this answers is what the derived decode answers.
pub(crate) fn decode_headed<'de, F: Deserialize<'de>>(
    text: &'de str,
) -> Option<(RequestHeader, F)> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let decoded = Headed(std::marker::PhantomData)
        .deserialize(crate::strict::Strict(&mut deserializer))
        .ok()?;
    deserializer.end().ok()?;
    Some(decoded)
}

/// The own fields of a headed message whose one field after the header is `tokens` (a provision, a poll, a
/// hardware activation), for [`decode_headed`]: read as the message's derive reads that field.
#[derive(Deserialize)]
pub(crate) struct Tokens<T> {
    pub(crate) tokens: Vec<T>,
}

/// The seed [`decode_headed`] reads an object with.
struct Headed<F>(std::marker::PhantomData<F>);

impl<'de, F: Deserialize<'de>> DeserializeSeed<'de> for Headed<F> {
    type Value = (RequestHeader, F);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F: Deserialize<'de>> Visitor<'de> for Headed<F> {
    type Value = (RequestHeader, F);

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a message with the appliance header")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut header = HeaderFields::default();
        // `F`'s derive reads keys until the map ends, so the whole object passes through `Split`.
        let fields = F::deserialize(MapAccessDeserializer::new(Split {
            map: &mut map,
            header: &mut header,
        }))?;
        Ok((header.finish()?, fields))
    }
}

/// The header's fields as [`Split`] meets them.
#[derive(Default)]
struct HeaderFields {
    version: Option<String>,
    serial_number: Option<String>,
    device_version: Option<String>,
    device_build: Option<String>,
    clustered_sns: Option<Vec<ClusterMember>>,
}

impl HeaderFields {
    /// Reads `key`'s value from `map` when `key` is the header's; `false` for any other key.
    fn take<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        use crate::strict::field_once as once;
        let read = match key {
            "__version" => once(&mut self.version, "__version", map),
            "serial_number" => once(&mut self.serial_number, "serial_number", map),
            "__device_version" => once(&mut self.device_version, "__device_version", map),
            "__device_build" => once(&mut self.device_build, "__device_build", map),
            "__clustered_sns" => {
                if self.clustered_sns.is_some() {
                    return Err(serde::de::Error::duplicate_field("__clustered_sns"));
                }
                let members: Option<Vec<ClusterMember>> = map.next_value()?;
                self.clustered_sns = Some(members.unwrap_or_default());
                Ok(())
            }
            _ => return Ok(false),
        };
        read.map(|()| true)
    }

    /// The header, with the derive's defaults for what was absent.
    fn finish<E: serde::de::Error>(self) -> Result<RequestHeader, E> {
        Ok(RequestHeader {
            version: self.version.unwrap_or_default(),
            serial_number: self
                .serial_number
                .ok_or_else(|| E::missing_field("serial_number"))?,
            device_version: self.device_version.unwrap_or_default(),
            device_build: self.device_build.unwrap_or_default(),
            clustered_sns: self.clustered_sns.unwrap_or_default(),
        })
    }
}

/// An object's entries with the header's taken out as they pass: what `F`'s derive sees.
struct Split<'a, A> {
    map: &'a mut A,
    header: &'a mut HeaderFields,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Split<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        // A key written with escapes cannot be borrowed, and declines the whole read.
        while let Some(key) = self.map.next_key::<&'de str>()? {
            if !self.header.take(key, self.map)? {
                return seed
                    .deserialize(BorrowedStrDeserializer::new(key))
                    .map(Some);
            }
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}
