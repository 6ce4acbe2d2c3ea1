//! License transfer, as Fortinet Customer Service does it on a "License Transfer" ticket (DESIGN.md flow 7,
//! dossier 2.8): the rules, as pure functions of the license, the ticket and `now`.
//!
//! The whole license moves, never part of it. The ticket registers it to the new appliance at once and
//! puts a new activation code on a new redemption certificate; the old code is void from that moment.
//! The old appliance's HA cluster keeps using the tokens until the grace period ends (`grace_until`), then
//! loses them (`License::ownership_of`). A license shipped on or after 2025-08-04 moves only on an RMA, and
//! an RMA carries no activation over: every token must be provisioned again on the new unit.

use protocol::catalogue::{CatalogueEntry, TRANSFER_NOT_ALLOWED_SINCE_2025, TRANSFER_TRIAL};
use protocol::id::{ApplianceSerial, LicenseActivationCode};
use protocol::ledger::{
    DEFAULT_GRACE_SECS, MAX_GRACE_SECS, MAX_NOTE_LEN, NO_TRANSFER_SINCE, TransferRequest,
};
use protocol::modeled::{
    self, TRANSFER_NOT_OWNER, TRANSFER_OPEN_TICKET, TRANSFER_SAME_APPLIANCE,
    TRANSFER_UNKNOWN_LICENSE,
};
use protocol::time::UnixTime;

use crate::ledger::{FormerOwner, License, Owner};

/// A completed ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub ticket: String,
    pub license: protocol::id::LicenseId,
    pub from: ApplianceSerial,
    pub to: ApplianceSerial,
    /// The whole HA cluster that lost the license.
    pub from_cluster: Vec<ApplianceSerial>,
    pub rma: bool,
    pub grace_until: UnixTime,
    pub completed: UnixTime,
    /// The void code and the new one.
    pub old_code: LicenseActivationCode,
    pub new_code: LicenseActivationCode,
    pub note: Option<String>,
}

impl Ticket {
    /// `grace` while the old appliance still works, `closed` after.
    pub fn status(&self, now: UnixTime) -> &'static str {
        if now < self.grace_until {
            "grace"
        } else {
            "closed"
        }
    }
}

/// Why a ticket is refused: the catalogue entry and a sentence about this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub entry: &'static CatalogueEntry,
    pub detail: String,
}

impl Refusal {
    fn new(entry: &'static CatalogueEntry, detail: String) -> Refusal {
        Refusal { entry, detail }
    }

    /// What the admin API answers: the entry's text, then the detail.
    pub fn message(&self) -> String {
        format!("{}: {}", self.entry.text, self.detail)
    }
}

/// Checks the parts of a request that need no ledger: the grace period and the note. The error is a
/// sentence naming the field.
pub fn check_request(request: &TransferRequest) -> Result<i64, String> {
    let grace = request.grace_secs.unwrap_or(DEFAULT_GRACE_SECS);
    if !(0..=MAX_GRACE_SECS).contains(&grace) {
        return Err(format!(
            "grace_secs: {grace} is not between 0 and {MAX_GRACE_SECS} (90 days)"
        ));
    }
    if let Some(note) = &request.note
        && note.len() > MAX_NOTE_LEN
    {
        return Err(format!("note: longer than {MAX_NOTE_LEN} bytes"));
    }
    Ok(grace)
}

/// Decides a ticket: the license as it is after the transfer, and the ticket. `license` is what the
/// ticket names (if it exists), `ticket` the new ticket's number, `new_code` a fresh code no license has.
pub fn transfer(
    license: Option<License>,
    request: &TransferRequest,
    grace_secs: i64,
    ticket: String,
    new_code: LicenseActivationCode,
    now: UnixTime,
) -> Result<(License, Ticket), Refusal> {
    let Some(mut license) = license else {
        return Err(Refusal::new(
            &TRANSFER_UNKNOWN_LICENSE,
            format!("{} is not in the ledger", request.license),
        ));
    };
    if license.id.is_trial() {
        return Err(Refusal::new(
            &TRANSFER_TRIAL,
            format!("{} is a trial license", license.id),
        ));
    }
    let Some(owner) = license.owner.clone() else {
        return Err(Refusal::new(
            &TRANSFER_NOT_OWNER,
            format!("{} is not registered to any appliance yet", license.id),
        ));
    };
    if !owner.cluster.contains(&request.from) {
        return Err(Refusal::new(
            &TRANSFER_NOT_OWNER,
            format!(
                "{} is registered to {} ({}), not {}",
                license.id,
                owner.appliance,
                join(&owner.cluster),
                request.from
            ),
        ));
    }
    if request.from == request.to || owner.cluster.contains(&request.to) {
        return Err(Refusal::new(
            &TRANSFER_SAME_APPLIANCE,
            format!(
                "{} already holds {} (cluster {})",
                request.to,
                license.id,
                join(&owner.cluster)
            ),
        ));
    }
    if let Some(open) = license.former.last().filter(|f| now < f.grace_until) {
        return Err(Refusal::new(
            &TRANSFER_OPEN_TICKET,
            format!(
                "ticket {} gives the old appliance until {}",
                open.ticket, open.grace_until
            ),
        ));
    }
    if license.shipped >= NO_TRANSFER_SINCE && !request.rma {
        return Err(Refusal::new(
            &TRANSFER_NOT_ALLOWED_SINCE_2025,
            format!(
                "{} shipped on {}; open the ticket as an RMA (`rma: true`)",
                license.id, license.shipped
            ),
        ));
    }
    let Some(old_code) = license.code.clone() else {
        return Err(Refusal::new(
            &TRANSFER_TRIAL,
            format!("{} has no activation code", license.id),
        ));
    };
    let grace_until = now.plus_secs(grace_secs);
    license.former.push(FormerOwner {
        cluster: owner.cluster.clone(),
        grace_until,
        ticket: ticket.clone(),
    });
    license.owner = Some(Owner {
        appliance: request.to.clone(),
        cluster: vec![request.to.clone()],
        registered: now,
    });
    license.since = request.rma.then_some(now);
    license.code = Some(new_code.clone());
    // The new certificate's "Certificate Valid Until"; the license is registered, so it binds nothing.
    license.valid_until = Some(
        now.plus_secs(modeled::CERTIFICATE_VALIDITY_DAYS * 86_400)
            .date(),
    );
    let ticket = Ticket {
        ticket,
        license: license.id.clone(),
        from: request.from.clone(),
        to: request.to.clone(),
        from_cluster: owner.cluster,
        rma: request.rma,
        grace_until,
        completed: now,
        old_code,
        new_code,
        note: request.note.clone(),
    };
    Ok((license, ticket))
}

fn join(serials: &[ApplianceSerial]) -> String {
    serials
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::id::TokenSerial;
    use protocol::time::CivilDate;

    const NOW: UnixTime = UnixTime::from_secs(1_760_000_000); // 2025-10-09

    fn serial(s: &str) -> ApplianceSerial {
        s.parse().unwrap()
    }

    fn license(shipped: &str, owner: Option<&[&str]>) -> License {
        License {
            id: "EFTM000000000005".parse().unwrap(),
            code: Some("1111-2222-3333-4444-5555".parse().unwrap()),
            seats: 5,
            valid_until: None,
            note: None,
            created: UnixTime::from_secs(0),
            owner: owner.map(|cluster| Owner {
                appliance: serial(cluster[0]),
                cluster: cluster.iter().map(|s| serial(s)).collect(),
                registered: UnixTime::from_secs(0),
            }),
            shipped: shipped.parse::<CivilDate>().unwrap(),
            account: None,
            former: Vec::new(),
            since: None,
        }
    }

    fn request(from: &str, to: &str, rma: bool) -> TransferRequest {
        TransferRequest {
            license: "EFTM000000000005".parse().unwrap(),
            from: serial(from),
            to: serial(to),
            rma,
            grace_secs: None,
            note: None,
        }
    }

    fn code() -> LicenseActivationCode {
        "AAAA-BBBB-CCCC-DDDD-EEEE".parse().unwrap()
    }

    #[track_caller]
    fn refused(outcome: Result<(License, Ticket), Refusal>) -> &'static str {
        outcome.unwrap_err().entry.id
    }

    #[test]
    fn the_whole_license_moves_and_the_old_cluster_keeps_it_for_the_grace_period() {
        let before = license("2024-01-01", Some(&["FGTA", "FGTA2"]));
        let (after, ticket) = transfer(
            Some(before),
            &request("FGTA2", "FGTB", false),
            3600,
            "7000001".into(),
            code(),
            NOW,
        )
        .unwrap();
        assert_eq!(ticket.from_cluster, [serial("FGTA"), serial("FGTA2")]);
        assert_eq!(ticket.old_code.to_string(), "1111-2222-3333-4444-5555");
        assert_eq!(after.code, Some(code()));
        assert_eq!(after.owner.as_ref().unwrap().appliance, serial("FGTB"));
        assert_eq!(after.since, None);
        let token = after.token_serials()[0].clone();
        let old = after.ownership_of(token.clone(), None, &[serial("FGTA")], NOW);
        assert!(old.owned && old.moved);
        assert_eq!(old.grace_until, Some(NOW.plus_secs(3600)));
        assert_eq!(ticket.status(NOW), "grace");
        let later = NOW.plus_secs(3600);
        let old = after.ownership_of(token.clone(), None, &[serial("FGTA2")], later);
        assert!(!old.owned && old.moved);
        assert_eq!(ticket.status(later), "closed");
        let new = after.ownership_of(token.clone(), None, &[serial("FGTB")], later);
        assert!(new.owned && !new.moved);
        let stranger = after.ownership_of(token, None, &[serial("FGTX")], NOW);
        assert!(!stranger.owned && !stranger.moved);
    }

    /// With `modeled::TRANSFER_KEEPS_TOKEN_SERIALS` false, the new owner gets fresh serials: the old
    /// owner keeps its own during the grace period and never gets the new ones, and the new owner does
    /// not get the old ones.
    #[test]
    fn fresh_serials_after_a_transfer_belong_to_the_new_owner_only() {
        let before = license("2024-01-01", Some(&["FGTA"]));
        let old_token = before.token_serials()[0].clone();
        let (after, _) = transfer(
            Some(before),
            &request("FGTA", "FGTB", false),
            3600,
            "7000001".into(),
            code(),
            NOW,
        )
        .unwrap();
        let generations = after.token_generations(false).unwrap();
        let new_token = modeled::token_serials_after(&after.id, after.seats, 1, false)[0].clone();
        assert_ne!(new_token, old_token);
        assert_eq!(generations[&old_token], 0);
        assert_eq!(generations[&new_token], 1);
        let ask = |token: &TokenSerial, who: &str, now: UnixTime| {
            after.ownership_of(token.clone(), Some(generations[token]), &[serial(who)], now)
        };
        let later = NOW.plus_secs(3600);
        assert!(ask(&old_token, "FGTA", NOW).owned && ask(&old_token, "FGTA", NOW).moved);
        assert!(!ask(&old_token, "FGTA", later).owned && ask(&old_token, "FGTA", later).moved);
        assert!(!ask(&old_token, "FGTB", NOW).owned);
        assert!(ask(&new_token, "FGTB", NOW).owned && !ask(&new_token, "FGTB", NOW).moved);
        assert!(!ask(&new_token, "FGTA", NOW).owned && !ask(&new_token, "FGTA", NOW).moved);
        // Kept serials (today's model): no generations, the same serials for every owner.
        assert_eq!(after.token_generations(true), None);
    }

    #[test]
    fn licenses_shipped_since_2025_08_04_move_only_on_an_rma_which_carries_nothing_over() {
        let shipped = license("2025-08-04", Some(&["FGTA"]));
        assert_eq!(
            refused(transfer(
                Some(shipped.clone()),
                &request("FGTA", "FGTB", false),
                0,
                "t".into(),
                code(),
                NOW
            )),
            "forticare.transfer.shipped-since-2025-08-04"
        );
        let (after, ticket) = transfer(
            Some(shipped),
            &request("FGTA", "FGTB", true),
            0,
            "t".into(),
            code(),
            NOW,
        )
        .unwrap();
        assert!(ticket.rma);
        let token = after.token_serials()[0].clone();
        assert_eq!(
            after
                .ownership_of(token, None, &[serial("FGTB")], NOW)
                .since,
            Some(NOW)
        );
        // The day before the policy, no RMA is needed.
        transfer(
            Some(license("2025-08-03", Some(&["FGTA"]))),
            &request("FGTA", "FGTB", false),
            0,
            "t".into(),
            code(),
            NOW,
        )
        .unwrap();
    }

    #[test]
    fn refusals_name_the_rule() {
        let owned = license("2024-01-01", Some(&["FGTA", "FGTA2"]));
        let go = |license: Option<License>, request: TransferRequest| {
            refused(transfer(license, &request, 60, "t".into(), code(), NOW))
        };
        assert_eq!(
            go(None, request("FGTA", "FGTB", false)),
            "forticare.transfer.unknown-license"
        );
        assert_eq!(
            go(Some(owned.clone()), request("FGTX", "FGTB", false)),
            "forticare.transfer.not-owner"
        );
        assert_eq!(
            go(
                Some(license("2024-01-01", None)),
                request("FGTA", "FGTB", false)
            ),
            "forticare.transfer.not-owner"
        );
        assert_eq!(
            go(Some(owned.clone()), request("FGTA", "FGTA", false)),
            "forticare.transfer.same-appliance"
        );
        assert_eq!(
            go(Some(owned.clone()), request("FGTA", "FGTA2", false)),
            "forticare.transfer.same-appliance"
        );
        let mut trial = owned.clone();
        trial.id = "FTMTRIAL00000042".parse().unwrap();
        assert_eq!(
            go(Some(trial), request("FGTA", "FGTB", false)),
            "forticare.transfer.trial"
        );
        let (moved, _) = transfer(
            Some(owned),
            &request("FGTA", "FGTB", false),
            60,
            "t1".into(),
            code(),
            NOW,
        )
        .unwrap();
        assert_eq!(
            go(Some(moved.clone()), request("FGTB", "FGTC", false)),
            "forticare.transfer.open-ticket"
        );
        transfer(
            Some(moved),
            &request("FGTB", "FGTC", false),
            60,
            "t2".into(),
            code(),
            NOW.plus_secs(60),
        )
        .unwrap();
    }

    #[test]
    fn grace_and_note_are_bounded() {
        let mut r = request("FGTA", "FGTB", false);
        assert_eq!(check_request(&r), Ok(DEFAULT_GRACE_SECS));
        r.grace_secs = Some(-1);
        assert!(check_request(&r).unwrap_err().starts_with("grace_secs"));
        r.grace_secs = Some(MAX_GRACE_SECS + 1);
        assert!(check_request(&r).is_err());
        r.grace_secs = Some(0);
        r.note = Some("x".repeat(MAX_NOTE_LEN + 1));
        assert!(check_request(&r).unwrap_err().starts_with("note"));
    }
}
