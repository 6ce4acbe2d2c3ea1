//! The license ledger's rules, as pure functions of a license, the requesting appliance and `now`.
//!
//! A license is redeemed by the first appliance that imports its code and becomes registered to that
//! appliance and its HA cluster. An appliance whose cluster shares a member with that registration may
//! import again and gets the same tokens (its new HA members join the registration); anyone else is
//! refused. A code whose certificate validity ended before it was ever redeemed is expired; once redeemed
//! it can be re-imported indefinitely (KB 197790). The trial code gives each cluster one trial license with
//! two tokens.
//!
//! A license's tokens are not part of [`License`]: the ledger keeps them apart, so deciding an import or
//! who owns a token never reads a 10,000-token list.

use std::collections::HashMap;

use protocol::catalogue::{CatalogueEntry, LICENSE_CODE_INVALID};
use protocol::id::{ApplianceSerial, LicenseActivationCode, LicenseId, TokenSerial};
use protocol::ledger::{LicenseKind, LicenseSummary, LicenseView, OwnerView, TokenOwnership};
use protocol::modeled::{self, LICENSE_EXPIRED, LICENSE_REGISTERED_ELSEWHERE};
use protocol::time::{CivilDate, UnixTime};

/// A license in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct License {
    pub id: LicenseId,
    /// The redemption code; `None` for trial licenses.
    pub code: Option<LicenseActivationCode>,
    /// How many tokens it has.
    pub seats: u32,
    pub valid_until: Option<CivilDate>,
    pub note: Option<String>,
    pub created: UnixTime,
    pub owner: Option<Owner>,
    /// The day it shipped (the 2025-08-04 rule, `protocol::ledger::NO_TRANSFER_SINCE`).
    pub shipped: CivilDate,
    /// The FortiCare account it is registered in; `None` until someone registers it.
    pub account: Option<u64>,
    /// The clusters transfer tickets moved it away from, oldest first.
    pub former: Vec<FormerOwner>,
    /// When the current owner got it by an RMA transfer: nothing provisioned before counts for it.
    pub since: Option<UnixTime>,
}

/// A cluster a transfer ticket moved a license away from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormerOwner {
    pub cluster: Vec<ApplianceSerial>,
    /// Its tokens keep working there until then.
    pub grace_until: UnixTime,
    pub ticket: String,
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub appliance: ApplianceSerial,
    /// The appliance and every HA peer seen in its imports.
    pub cluster: Vec<ApplianceSerial>,
    pub registered: UnixTime,
}

/// What an import decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// The requester gets the license's tokens. `changed` says whether the ledger must be written.
    Granted {
        license: Box<License>,
        changed: bool,
    },
    Refused(&'static CatalogueEntry),
}

impl License {
    pub fn kind(&self) -> LicenseKind {
        if self.id.is_trial() {
            LicenseKind::Trial
        } else {
            LicenseKind::Paid
        }
    }

    /// Whether an appliance whose cluster is `cluster` may use this license (import it again, provision or
    /// poll its tokens).
    pub fn usable_by(&self, cluster: &[ApplianceSerial]) -> bool {
        self.owner
            .as_ref()
            .is_some_and(|owner| modeled::may_use_token(&owner.cluster, cluster))
    }

    /// Whether the querying `cluster` may use the license's `token` at `now`, and why (see
    /// `protocol::ledger::TokenOwnership`): as the owner, or as a former owner during a transfer's grace
    /// period. `generation` is which owner's tokens `token` is ([`License::token_generations`]): `None`
    /// when every owner has the same serials, so former owners keep using them during their grace.
    pub fn ownership_of(
        &self,
        token: TokenSerial,
        generation: Option<usize>,
        cluster: &[ApplianceSerial],
        now: UnixTime,
    ) -> TokenOwnership {
        let mut answer = TokenOwnership {
            token,
            license: Some(self.id.clone()),
            owned: false,
            moved: false,
            grace_until: None,
            since: None,
        };
        let former = match generation {
            // An earlier owner's serials: only that owner may use them, and only during its grace.
            Some(generation) if generation < self.former.len() => self.former.get(generation),
            // The current owner's own serials: nobody else ever had them.
            Some(_) => None,
            None => self
                .former
                .iter()
                .rev()
                .find(|f| modeled::may_use_token(&f.cluster, cluster)),
        };
        let current = generation.is_none_or(|g| g >= self.former.len());
        if current && self.usable_by(cluster) {
            answer.owned = true;
            answer.since = self.since;
        } else if let Some(former) = former.filter(|f| modeled::may_use_token(&f.cluster, cluster))
        {
            answer.moved = true;
            answer.grace_until = Some(former.grace_until);
            answer.owned = now < former.grace_until;
        }
        answer
    }

    /// Whether the code can no longer be redeemed for the first time: never registered, and its
    /// certificate's "Certificate Valid Until" day is over.
    pub fn is_expired(&self, now: UnixTime) -> bool {
        self.owner.is_none() && self.valid_until.is_some_and(|until| now >= end_of(until))
    }

    /// The SKU: `FTM-ELIC-<seats>`, or `FTM-TRIAL` for a trial.
    pub fn sku(&self) -> String {
        match self.kind() {
            LicenseKind::Paid => modeled::v3_license_sku(self.seats),
            LicenseKind::Trial => "FTM-TRIAL".to_owned(),
        }
    }

    /// The "Certificate Valid Until" day printed on its redemption certificate.
    pub fn certificate_valid_until(&self) -> CivilDate {
        self.valid_until.unwrap_or_else(|| {
            self.created
                .plus_secs(modeled::CERTIFICATE_VALIDITY_DAYS * 86_400)
                .date()
        })
    }

    /// The tokens the license's current owner has (after `former.len()` transfers; the same serials as
    /// the first owner's unless `modeled::TRANSFER_KEEPS_TOKEN_SERIALS` says otherwise).
    pub fn token_serials(&self) -> Vec<TokenSerial> {
        modeled::token_serials_after(
            &self.id,
            self.seats,
            self.former.len(),
            modeled::TRANSFER_KEEPS_TOKEN_SERIALS,
        )
    }

    /// Which owner's tokens each serial the license ever had is (0: the first owner's, one more for each
    /// transfer ticket), when transfers give fresh serials (`keeps_serials` false, the ledger passes
    /// `modeled::TRANSFER_KEEPS_TOKEN_SERIALS`); `None` when every owner has the same serials.
    pub fn token_generations(&self, keeps_serials: bool) -> Option<HashMap<TokenSerial, usize>> {
        if keeps_serials || self.former.is_empty() {
            return None;
        }
        Some(
            (0..=self.former.len())
                .flat_map(|generation| {
                    modeled::token_serials_after(&self.id, self.seats, generation, false)
                        .into_iter()
                        .map(move |token| (token, generation))
                })
                .collect(),
        )
    }

    pub fn summary(&self) -> LicenseSummary {
        LicenseSummary {
            id: self.id.clone(),
            kind: self.kind(),
            code: self.code.clone(),
            seats: self.seats,
            valid_until: self.valid_until,
            note: self.note.clone(),
            created: self.created,
            owner: self.owner.as_ref().map(|o| OwnerView {
                appliance: o.appliance.clone(),
                cluster: o.cluster.clone(),
                registered: o.registered,
            }),
            shipped: self.shipped,
            sku: self.sku(),
            transfers: self.former.iter().map(|f| f.ticket.clone()).collect(),
        }
    }

    pub fn view(&self, tokens: Vec<TokenSerial>) -> LicenseView {
        LicenseView {
            summary: self.summary(),
            tokens,
        }
    }
}

/// Decides an import of a purchased license's code. `license` is what the code names, if anything.
/// `cluster` is the requester and its HA peers, requester first.
pub fn redeem(license: Option<License>, cluster: &[ApplianceSerial], now: UnixTime) -> Redemption {
    let (Some(mut license), Some(requester)) = (license, cluster.first()) else {
        return Redemption::Refused(&LICENSE_CODE_INVALID);
    };
    let usable = license.usable_by(cluster);
    match &mut license.owner {
        None => {
            if license
                .valid_until
                .is_some_and(|until| now >= end_of(until))
            {
                return Redemption::Refused(&LICENSE_EXPIRED);
            }
            license.owner = Some(Owner {
                appliance: requester.clone(),
                cluster: cluster.to_vec(),
                registered: now,
            });
            Redemption::Granted {
                license: Box::new(license),
                changed: true,
            }
        }
        Some(owner) if usable => {
            let changed = join_cluster(owner, cluster);
            Redemption::Granted {
                license: Box::new(license),
                changed,
            }
        }
        Some(_) => Redemption::Refused(&LICENSE_REGISTERED_ELSEWHERE),
    }
}

/// Decides a trial import: the cluster's existing trial license (extended to new HA members), or a new one
/// with id `new_id` registered to the cluster.
pub fn redeem_trial(
    existing: Option<License>,
    cluster: &[ApplianceSerial],
    new_id: LicenseId,
    now: UnixTime,
) -> Redemption {
    let Some(requester) = cluster.first() else {
        return Redemption::Refused(&LICENSE_CODE_INVALID);
    };
    match existing {
        Some(mut license) => {
            let changed = license
                .owner
                .as_mut()
                .is_some_and(|owner| join_cluster(owner, cluster));
            Redemption::Granted {
                license: Box::new(license),
                changed,
            }
        }
        None => {
            let license = License {
                id: new_id,
                code: None,
                seats: modeled::TRIAL_SEATS,
                valid_until: None,
                note: Some(format!("free trial of {requester}")),
                created: now,
                owner: Some(Owner {
                    appliance: requester.clone(),
                    cluster: cluster.to_vec(),
                    registered: now,
                }),
                shipped: now.date(),
                account: None,
                former: Vec::new(),
                since: None,
            };
            Redemption::Granted {
                license: Box::new(license),
                changed: true,
            }
        }
    }
}

/// Adds the members of `cluster` the owner has not seen yet; true if any was added.
fn join_cluster(owner: &mut Owner, cluster: &[ApplianceSerial]) -> bool {
    let before = owner.cluster.len();
    for member in cluster {
        if !owner.cluster.contains(member) {
            owner.cluster.push(member.clone());
        }
    }
    owner.cluster.len() != before
}

/// The first instant after "Certificate Valid Until" `date` (the whole day counts, UTC).
fn end_of(date: CivilDate) -> UnixTime {
    UnixTime::at_start_of(date).plus_secs(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serials(list: &[&str]) -> Vec<ApplianceSerial> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn license(valid_until: Option<&str>) -> License {
        License {
            id: "EFTM000000000001".parse().unwrap(),
            code: Some("1111-2222-3333-4444-5555".parse().unwrap()),
            seats: 3,
            valid_until: valid_until.map(|d| d.parse().unwrap()),
            note: None,
            created: UnixTime::from_secs(0),
            owner: None,
            shipped: UnixTime::from_secs(0).date(),
            account: None,
            former: Vec::new(),
            since: None,
        }
    }

    #[track_caller]
    fn granted(outcome: Redemption) -> (License, bool) {
        match outcome {
            Redemption::Granted { license, changed } => (*license, changed),
            Redemption::Refused(entry) => panic!("refused with {}", entry.id),
        }
    }

    #[track_caller]
    fn refused(outcome: Redemption) -> &'static str {
        match outcome {
            Redemption::Refused(entry) => entry.id,
            Redemption::Granted { .. } => panic!("granted"),
        }
    }

    const NOW: UnixTime = UnixTime::from_secs(1_700_000_000); // 2023-11-14

    #[test]
    fn unknown_code_is_error_16() {
        assert_eq!(
            refused(redeem(None, &serials(&["FGT1"]), NOW)),
            "forticare.import.code-invalid"
        );
    }

    #[test]
    fn first_import_registers_the_cluster_and_peers_may_import_again() {
        let (first, changed) = granted(redeem(
            Some(license(None)),
            &serials(&["FGTA", "FGTB"]),
            NOW,
        ));
        assert!(changed);
        assert_eq!(first.owner.as_ref().unwrap().appliance.as_str(), "FGTA");
        let (again, changed) = granted(redeem(
            Some(first.clone()),
            &serials(&["FGTB", "FGTA"]),
            NOW,
        ));
        assert!(!changed);
        assert_eq!(again.token_serials(), first.token_serials());
        let (grown, changed) = granted(redeem(
            Some(first.clone()),
            &serials(&["FGTA", "FGTC"]),
            NOW,
        ));
        assert!(changed);
        assert!(grown.usable_by(&serials(&["FGTC"])));
        // A new unit that lists a registered one as its HA peer may import too, and joins.
        let (joined, changed) = granted(redeem(
            Some(first.clone()),
            &serials(&["FGTD", "FGTB"]),
            NOW,
        ));
        assert!(changed && joined.usable_by(&serials(&["FGTD"])));
        assert_eq!(
            refused(redeem(Some(first), &serials(&["FGTX"]), NOW)),
            "forticare.import.registered-elsewhere"
        );
    }

    #[test]
    fn validity_ends_with_the_day_and_only_binds_unredeemed_codes() {
        granted(redeem(
            Some(license(Some("2023-11-14"))),
            &serials(&["FGTA"]),
            NOW,
        ));
        assert_eq!(
            refused(redeem(
                Some(license(Some("2023-11-13"))),
                &serials(&["FGTA"]),
                NOW
            )),
            "forticare.import.license-expired"
        );
        let (redeemed, _) = granted(redeem(
            Some(license(Some("2023-11-14"))),
            &serials(&["FGTA"]),
            NOW,
        ));
        granted(redeem(
            Some(redeemed),
            &serials(&["FGTA"]),
            NOW.plus_secs(400 * 86_400),
        ));
    }

    #[test]
    fn trial_is_two_tokens_per_cluster() {
        let id: LicenseId = "FTMTRIAL00000042".parse().unwrap();
        let (trial, changed) = granted(redeem_trial(
            None,
            &serials(&["FGTA", "FGTB"]),
            id.clone(),
            NOW,
        ));
        assert!(changed);
        assert_eq!(trial.token_serials().len(), 2);
        assert_eq!(trial.id, id);
        let other_id = "FTMTRIAL00000043".parse().unwrap();
        let (again, changed) = granted(redeem_trial(
            Some(trial.clone()),
            &serials(&["FGTB"]),
            other_id,
            NOW,
        ));
        assert!(!changed);
        assert_eq!(again, trial);
    }
}
