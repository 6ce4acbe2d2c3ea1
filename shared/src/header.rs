//! The appliance header every FortiGate / FortiAuthenticator message carries, and its echo in responses
//! (dossier section 2.1, \[WIRE\]).
//!
//! Requests carry `__version`, `serial_number`, `__device_version`, `__device_build` and the HA members in
//! `__clustered_sns`; responses echo the first four verbatim and give each cluster member an `error`
//! that is `null` or a string such as `Product is not registered`. Values are echoed as received,
//! stray spaces included, as the license-import capture shows; they are trimmed only when parsed.

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

        impl<'de> serde::de::Visitor<'de> for Member {
            type Value = ClusterMember;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("struct ClusterMember")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ClusterMember, A::Error> {
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
    pub fn reply(
        &self,
        member_error: impl Fn(Option<&ApplianceSerial>) -> Option<String>,
    ) -> ResponseHeader {
        let mut clustered_sns: Vec<ClusterMemberStatus> = self
            .clustered_sns
            .iter()
            .map(|m| ClusterMemberStatus {
                sn: m.sn.clone(),
                error: member_error(m.sn.parse().ok().as_ref()),
            })
            .collect();
        clustered_sns.sort_by(|a, b| a.sn.trim().cmp(b.sn.trim()));
        ResponseHeader {
            version: self.version.clone(),
            serial_number: self.serial_number.clone(),
            device_version: self.device_version.clone(),
            device_build: self.device_build.clone(),
            clustered_sns,
        }
    }
}

fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}
