//! The ledger of what the suite acknowledged (and what a kill left in doubt), and the check after a reopen:
//! every acknowledged write must be there, no acknowledged delete may come back, and each write in doubt
//! must have happened whole or not at all (it is then settled to what the suite shows).

use std::collections::{BTreeMap, BTreeSet};

use protocol::admin::EscrowEntryView;
use rand::Rng;
use rand::seq::SliceRandom;

use crate::suite_api::{Answer, SuiteApi};
use crate::tally::{Finding, Tally};

/// How the ledger knows a write happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    /// The suite answered with success.
    Acked,
    /// Sent, then the process died before the answer: it may or may not have happened.
    InDoubt,
    /// It was in doubt, and a reopened suite shows it happened: durable from then on, though never acknowledged.
    Observed,
}

impl Fact {
    /// Whether the write is known to have happened.
    pub fn happened(self) -> bool {
        matches!(self, Fact::Acked | Fact::Observed)
    }
}

/// How a license's owner imports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A made-up appliance serial imports it straight over SoftToken (to forticare or through ftm) and
    /// provisions its tokens with ProvisionRequests of its own.
    Direct,
    /// A virtual appliance imports it and provisions its tokens.
    Appliance,
}

#[derive(Debug)]
pub struct License {
    /// `XXXX-XXXX-XXXX-XXXX-XXXX`.
    pub code: String,
    pub seats: u32,
    /// The appliance serial that imports it.
    pub owner: String,
    pub route: Route,
    pub created: Fact,
    /// `None`: no import yet (or one that did not happen).
    pub import: Option<Fact>,
    /// Known once the creation is acknowledged or observed.
    pub tokens: Vec<String>,
    /// An import is in flight.
    pub busy: bool,
}

/// A token of a license the ledger created, from ftm's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenState {
    /// Never provisioned.
    Free,
    /// A ProvisionRequest (with this seed, when the harness made it up) is in doubt.
    Provisioning { seed: Option<String> },
    /// In escrow under `code`.
    Escrowed {
        code: String,
        seed: Option<String>,
        fact: Fact,
    },
    /// A download of `code` is in doubt (through `phone`, when a virtual phone redeemed it).
    Activating {
        code: String,
        seed: Option<String>,
        was: Fact,
        phone: Option<String>,
    },
    /// Downloaded by a phone: the code is consumed.
    Activated {
        code: String,
        fact: Fact,
        probed: bool,
    },
}

#[derive(Debug)]
pub struct Token {
    pub license: String,
    pub state: TokenState,
    /// The activation code the virtual appliance showed when it provisioned the token (its token table keeps it).
    pub appliance_code: Option<String>,
    /// Someone is working on it.
    pub busy: bool,
}

#[derive(Debug)]
pub struct Phone {
    pub created: Fact,
    pub deleted: Option<Fact>,
    /// Tokens the phone acknowledged storing.
    pub tokens: BTreeSet<String>,
    pub busy: bool,
}

impl Phone {
    fn alive(&self) -> bool {
        self.created.happened() && self.deleted.is_none()
    }
}

#[derive(Debug)]
pub struct Device {
    pub registered: Fact,
    pub deleted: Option<Fact>,
    /// Pushes queued for it, by message id.
    pub pushes: BTreeMap<String, Fact>,
    /// Pushes sent to it that a kill left unanswered.
    pub pushes_in_doubt: u64,
    /// Pushes to it in flight.
    pub in_flight: u64,
    /// A delete is in flight.
    pub deleting: bool,
    /// The device API was asked after the delete (and answered 404).
    pub delete_probed: bool,
}

impl Device {
    fn alive(&self) -> bool {
        self.registered.happened() && self.deleted.is_none()
    }
}

/// Everything the harness wrote to one data dir, and the pools the write load picks from.
#[derive(Debug, Default)]
pub struct Ledger {
    pub licenses: BTreeMap<String, License>,
    pub tokens: BTreeMap<String, Token>,
    pub phones: BTreeMap<String, Phone>,
    pub appliances: BTreeMap<String, Fact>,
    pub devices: BTreeMap<String, Device>,
    /// Every push's relay sequence number, once seen: it must never change, nor be given to another push.
    pub push_seqs: BTreeMap<String, u64>,
    pub seq_owners: BTreeMap<u64, String>,
    /// Licenses waiting for their import.
    pub importable: Vec<String>,
    /// Tokens of imported licenses, never provisioned.
    pub free: Vec<String>,
    /// Tokens in escrow nobody is redeeming.
    pub escrowed: Vec<String>,
    /// Phones alive and not in use.
    pub idle_phones: Vec<String>,
    /// Appliances known to exist.
    pub live_appliances: Vec<String>,
    /// Push devices registered and not being deleted.
    pub live_devices: Vec<String>,
    /// Numbers names and ids, so none repeats in a run.
    pub next_name: u64,
}

/// What one check after a reopen found.
#[derive(Debug, Default)]
pub struct CheckSummary {
    pub checks: u64,
    pub findings: usize,
}

/// The listings a check compares the ledger with.
struct Observed {
    licenses: BTreeMap<String, protocol::ledger::LicenseSummary>,
    escrow_by_token: BTreeMap<String, Vec<EscrowEntryView>>,
    activations: BTreeMap<String, u64>,
    phones: BTreeMap<String, BTreeSet<String>>,
    appliances: BTreeMap<String, protocol::appliance::ApplianceView>,
    devices: BTreeSet<String>,
}

fn same_code(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

impl Ledger {
    /// A fresh name or number for this run.
    pub fn fresh_number(&mut self) -> u64 {
        self.next_name += 1;
        self.next_name
    }

    /// Puts every entity back into the pool its state says, once nothing is in flight (after a reopen).
    pub fn rebuild_pools(&mut self) {
        self.importable = self
            .licenses
            .iter()
            .filter(|(_, l)| l.created.happened() && l.import.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        self.free.clear();
        self.escrowed.clear();
        for (serial, token) in &mut self.tokens {
            token.busy = false;
            match token.state {
                TokenState::Free => self.free.push(serial.clone()),
                TokenState::Escrowed { .. } => self.escrowed.push(serial.clone()),
                _ => {}
            }
        }
        for license in self.licenses.values_mut() {
            license.busy = false;
        }
        self.idle_phones = self
            .phones
            .iter_mut()
            .filter(|(_, p)| p.alive())
            .map(|(name, p)| {
                p.busy = false;
                name.clone()
            })
            .collect();
        self.live_appliances = self
            .appliances
            .iter()
            .filter(|(_, fact)| fact.happened())
            .map(|(serial, _)| serial.clone())
            .collect();
        self.live_devices = self
            .devices
            .iter_mut()
            .filter(|(_, d)| d.alive())
            .map(|(id, d)| {
                d.in_flight = 0;
                d.deleting = false;
                id.clone()
            })
            .collect();
    }

    /// The license's tokens enter the ledger as free (its import happened).
    pub fn tokens_imported(&mut self, license: &str) {
        let Some(l) = self.licenses.get(license) else {
            return;
        };
        for serial in l.tokens.clone() {
            if !self.tokens.contains_key(&serial) {
                self.tokens.insert(
                    serial.clone(),
                    Token {
                        license: license.to_owned(),
                        state: TokenState::Free,
                        appliance_code: None,
                        busy: false,
                    },
                );
                self.free.push(serial);
            }
        }
    }

    /// Compares the ledger with a reopened suite, settles what was in doubt, and counts.
    pub async fn check(
        &mut self,
        api: &SuiteApi,
        tally: &mut Tally,
        rng: &mut impl Rng,
    ) -> anyhow::Result<CheckSummary> {
        let before_checks = tally.checks;
        let before_findings = tally.finding_count();
        let observed = self.observe(api).await?;
        self.check_licenses(api, &observed, tally).await?;
        self.check_tokens(&observed, tally);
        self.check_phones(&observed, tally);
        self.check_appliances(&observed, tally);
        self.check_devices(api, &observed, tally).await?;
        self.probe_consumed_codes(api, tally, rng).await;
        self.rebuild_pools();
        Ok(CheckSummary {
            checks: tally.checks - before_checks,
            findings: tally.finding_count() - before_findings,
        })
    }

    async fn observe(&self, api: &SuiteApi) -> anyhow::Result<Observed> {
        let licenses = api
            .licenses()
            .await?
            .licenses
            .into_iter()
            .map(|l| (l.id.to_string(), l))
            .collect();
        let mut escrow_by_token: BTreeMap<String, Vec<EscrowEntryView>> = BTreeMap::new();
        for entry in api.escrow().await?.entries {
            escrow_by_token
                .entry(entry.token.to_string())
                .or_default()
                .push(entry);
        }
        let mut activations: BTreeMap<String, u64> = BTreeMap::new();
        for activation in api.activations().await?.activations {
            *activations.entry(activation.token.to_string()).or_default() += 1;
        }
        let phones = api
            .phones()
            .await?
            .phones
            .into_iter()
            .map(|p| {
                let tokens = p.tokens.iter().map(|t| t.serial.to_string()).collect();
                (p.id, tokens)
            })
            .collect();
        let appliances = api
            .appliances()
            .await?
            .appliances
            .into_iter()
            .map(|a| (a.serial.to_string(), a))
            .collect();
        let devices = api
            .devices()
            .await?
            .devices
            .into_iter()
            .map(|d| d.registration_id)
            .collect();
        Ok(Observed {
            licenses,
            escrow_by_token,
            activations,
            phones,
            appliances,
            devices,
        })
    }

    async fn check_licenses(
        &mut self,
        api: &SuiteApi,
        observed: &Observed,
        tally: &mut Tally,
    ) -> anyhow::Result<()> {
        let ids: Vec<String> = self.licenses.keys().cloned().collect();
        for id in ids {
            let Some(license) = self.licenses.get_mut(&id) else {
                continue;
            };
            let listed = observed.licenses.get(&id);
            match (license.created, listed) {
                (Fact::InDoubt, None) => {
                    tally.in_doubt_not_committed += 1;
                    self.licenses.remove(&id);
                    continue;
                }
                (Fact::InDoubt, Some(_)) => {
                    tally.in_doubt_committed += 1;
                    license.created = Fact::Observed;
                    let view = api.license(&id).await?;
                    license.tokens = view.tokens.iter().map(ToString::to_string).collect();
                }
                (fact, None) => {
                    if fact == Fact::Acked {
                        tally.checks += 1;
                    }
                    tally.find(
                        Finding::Lost,
                        format!("license {id} ({fact:?} created) is not listed after the reopen"),
                    );
                    continue;
                }
                (fact, Some(summary)) => {
                    if fact == Fact::Acked {
                        tally.checks += 1;
                    }
                    let code_matches = summary
                        .code
                        .as_ref()
                        .is_some_and(|c| same_code(&c.to_string(), &license.code));
                    if !code_matches || summary.seats != license.seats {
                        tally.find(
                            Finding::Corrupt,
                            format!(
                                "license {id} lists code {:?} and {} seats; it was created with {} and {}",
                                summary.code.as_ref().map(ToString::to_string),
                                summary.seats,
                                license.code,
                                license.seats
                            ),
                        );
                    }
                }
            }
            let Some(summary) = listed else { continue };
            let owner = summary.owner.as_ref().map(|o| o.appliance.to_string());
            let owned_by_us = owner.as_deref() == Some(license.owner.as_str());
            if owner.is_some() && !owned_by_us {
                tally.find(
                    Finding::Corrupt,
                    format!(
                        "license {id} is registered to {owner:?}; only {} ever imported it",
                        license.owner
                    ),
                );
            }
            // For an appliance's import, the appliance must hold the tokens too.
            let appliance_holds = |observed: &Observed| {
                observed.appliances.get(&license.owner).is_some_and(|a| {
                    license
                        .tokens
                        .iter()
                        .all(|t| a.tokens.iter().any(|v| v.serial.as_str() == t))
                })
            };
            match license.import {
                None => {
                    if owner.is_some() && license.route == Route::Direct {
                        tally.find(
                            Finding::Corrupt,
                            format!("license {id} is registered though no import of it was sent"),
                        );
                    }
                }
                Some(Fact::InDoubt) => {
                    let whole = owned_by_us
                        && (license.route == Route::Direct || appliance_holds(observed));
                    if whole {
                        tally.in_doubt_committed += 1;
                        license.import = Some(Fact::Observed);
                    } else {
                        // Not (wholly) imported: the import is sent again later, which is idempotent.
                        tally.in_doubt_not_committed += 1;
                        license.import = None;
                    }
                }
                Some(fact) => {
                    if fact == Fact::Acked {
                        tally.checks += 1;
                    }
                    if !owned_by_us {
                        tally.find(
                            Finding::Lost,
                            format!(
                                "license {id}: the {fact:?} import by {} is gone (owner now {owner:?})",
                                license.owner
                            ),
                        );
                    } else if license.route == Route::Appliance && !appliance_holds(observed) {
                        tally.find(
                            Finding::Lost,
                            format!(
                                "license {id}: appliance {} no longer holds the tokens of its {fact:?} import",
                                license.owner
                            ),
                        );
                    }
                }
            }
            let imported = license.import.is_some_and(Fact::happened);
            if imported {
                self.tokens_imported(&id);
            }
        }
        Ok(())
    }

    fn check_tokens(&mut self, observed: &Observed, tally: &mut Tally) {
        for (serial, token) in &mut self.tokens {
            let escrow = observed
                .escrow_by_token
                .get(serial)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let activations = observed.activations.get(serial).copied().unwrap_or(0);
            if escrow.len() > 1 {
                tally.find(
                    Finding::Corrupt,
                    format!("token {serial} has {} escrow entries", escrow.len()),
                );
            }
            if activations > 1 {
                tally.find(
                    Finding::Corrupt,
                    format!("token {serial} was activated {activations} times"),
                );
            }
            let in_escrow = |code: &str| {
                escrow.iter().any(|e| {
                    (same_code(&e.activation_code, code) || same_code(&e.wire_code, code))
                        && e.redeemable
                })
            };
            let state = token.state.clone();
            token.state = match state {
                TokenState::Free => {
                    if !escrow.is_empty() || activations > 0 {
                        tally.find(
                            Finding::Corrupt,
                            format!("token {serial} was never provisioned, yet ftm has it in escrow or activated"),
                        );
                    }
                    TokenState::Free
                }
                TokenState::Provisioning { seed } => match (escrow.first(), activations) {
                    (_, n) if n > 0 => {
                        tally.find(
                            Finding::Corrupt,
                            format!("token {serial} is activated though no phone redeemed it"),
                        );
                        TokenState::Provisioning { seed }
                    }
                    (Some(entry), _) => {
                        tally.in_doubt_committed += 1;
                        TokenState::Escrowed {
                            code: entry.activation_code.clone(),
                            seed,
                            fact: Fact::Observed,
                        }
                    }
                    (None, _) => {
                        tally.in_doubt_not_committed += 1;
                        TokenState::Free
                    }
                },
                TokenState::Escrowed { code, seed, fact } => {
                    if fact == Fact::Acked {
                        tally.checks += 1;
                    }
                    if activations > 0 {
                        tally.find(
                            Finding::Corrupt,
                            format!("token {serial} is activated though no phone redeemed its code {code}"),
                        );
                    } else if !in_escrow(&code) {
                        tally.find(
                            Finding::Lost,
                            format!("token {serial}: its {fact:?} code {code} is no longer redeemable in escrow ({escrow:?})"),
                        );
                    }
                    TokenState::Escrowed { code, seed, fact }
                }
                TokenState::Activating {
                    code,
                    seed,
                    was,
                    phone: _,
                } => {
                    match (in_escrow(&code), activations > 0) {
                        (true, false) => {
                            tally.in_doubt_not_committed += 1;
                            TokenState::Escrowed {
                                code,
                                seed,
                                fact: was,
                            }
                        }
                        (false, true) => {
                            tally.in_doubt_committed += 1;
                            TokenState::Activated {
                                code,
                                fact: Fact::Observed,
                                probed: false,
                            }
                        }
                        (true, true) => {
                            tally.find(
                            Finding::Resurrected,
                            format!("token {serial} is activated and its code {code} is still in escrow"),
                        );
                            TokenState::Activated {
                                code,
                                fact: Fact::Observed,
                                probed: false,
                            }
                        }
                        (false, false) => {
                            tally.find(
                            Finding::Lost,
                            format!("token {serial}: its {was:?} code {code} is neither in escrow nor activated"),
                        );
                            TokenState::Escrowed {
                                code,
                                seed,
                                fact: was,
                            }
                        }
                    }
                }
                TokenState::Activated { code, fact, probed } => {
                    if fact == Fact::Acked {
                        tally.checks += 1;
                    }
                    if in_escrow(&code) || !escrow.is_empty() {
                        tally.find(
                            Finding::Resurrected,
                            format!("token {serial}: its consumed code {code} is back in escrow"),
                        );
                    }
                    if activations == 0 {
                        tally.find(
                            Finding::Lost,
                            format!(
                                "token {serial}: its {fact:?} activation is no longer recorded"
                            ),
                        );
                    }
                    TokenState::Activated { code, fact, probed }
                }
            };
            if let Some(code) = &token.appliance_code {
                tally.checks += 1;
                let license = self.licenses.get(&token.license);
                let shown = license
                    .and_then(|l| observed.appliances.get(&l.owner))
                    .and_then(|a| a.tokens.iter().find(|t| t.serial.as_str() == serial))
                    .and_then(|t| t.activation_code.clone());
                if !shown.as_deref().is_some_and(|s| same_code(s, code)) {
                    tally.find(
                        Finding::Lost,
                        format!("token {serial}: the appliance's token table shows activation code {shown:?}, not the acknowledged {code}"),
                    );
                }
            }
        }
    }

    fn check_phones(&mut self, observed: &Observed, tally: &mut Tally) {
        let names: Vec<String> = self.phones.keys().cloned().collect();
        for name in names {
            let Some(phone) = self.phones.get_mut(&name) else {
                continue;
            };
            let listed = observed.phones.get(&name);
            if phone.created == Fact::InDoubt {
                if listed.is_some() {
                    tally.in_doubt_committed += 1;
                    phone.created = Fact::Observed;
                } else {
                    tally.in_doubt_not_committed += 1;
                    self.phones.remove(&name);
                    continue;
                }
            } else if phone.created == Fact::Acked && phone.deleted.is_none() {
                tally.checks += 1;
            }
            match phone.deleted {
                None => match listed {
                    None => tally.find(
                        Finding::Lost,
                        format!("phone {name} ({:?} created) is not listed", phone.created),
                    ),
                    Some(tokens) => {
                        for token in &phone.tokens {
                            tally.checks += 1;
                            if !tokens.contains(token) {
                                tally.find(
                                    Finding::Lost,
                                    format!("phone {name} no longer holds its acknowledged token {token}"),
                                );
                            }
                        }
                    }
                },
                Some(Fact::InDoubt) => {
                    if listed.is_some() {
                        tally.in_doubt_not_committed += 1;
                        phone.deleted = None;
                    } else {
                        tally.in_doubt_committed += 1;
                        phone.deleted = Some(Fact::Observed);
                    }
                }
                Some(fact) => {
                    if fact == Fact::Acked {
                        tally.checks += 1;
                    }
                    if listed.is_some() {
                        tally.find(
                            Finding::Resurrected,
                            format!("phone {name} is listed again after its {fact:?} delete"),
                        );
                    }
                }
            }
        }
        // Tokens a phone activation left in doubt: the phone may hold them now.
        for (name, tokens) in &observed.phones {
            let Some(phone) = self.phones.get_mut(name).filter(|p| p.alive()) else {
                continue;
            };
            for serial in tokens {
                let activated = self
                    .tokens
                    .get(serial)
                    .is_some_and(|t| matches!(t.state, TokenState::Activated { .. }));
                if activated {
                    phone.tokens.insert(serial.clone());
                }
            }
        }
    }

    fn check_appliances(&mut self, observed: &Observed, tally: &mut Tally) {
        let serials: Vec<String> = self.appliances.keys().cloned().collect();
        for serial in serials {
            let listed = observed.appliances.contains_key(&serial);
            match self.appliances.get(&serial).copied() {
                Some(Fact::InDoubt) if listed => {
                    tally.in_doubt_committed += 1;
                    self.appliances.insert(serial, Fact::Observed);
                }
                Some(Fact::InDoubt) => {
                    tally.in_doubt_not_committed += 1;
                    self.appliances.remove(&serial);
                }
                Some(fact) => {
                    if fact == Fact::Acked {
                        tally.checks += 1;
                    }
                    if !listed {
                        tally.find(
                            Finding::Lost,
                            format!("appliance {serial} ({fact:?} created) is not listed"),
                        );
                    }
                }
                None => {}
            }
        }
    }

    async fn check_devices(
        &mut self,
        api: &SuiteApi,
        observed: &Observed,
        tally: &mut Tally,
    ) -> anyhow::Result<()> {
        let ids: Vec<String> = self.devices.keys().cloned().collect();
        for id in ids {
            let Some(device) = self.devices.get_mut(&id) else {
                continue;
            };
            let listed = observed.devices.contains(&id);
            if device.registered == Fact::InDoubt {
                if listed {
                    tally.in_doubt_committed += 1;
                    device.registered = Fact::Observed;
                } else {
                    tally.in_doubt_not_committed += 1;
                    self.devices.remove(&id);
                    continue;
                }
            }
            match device.deleted {
                Some(Fact::InDoubt) => {
                    if listed {
                        tally.in_doubt_not_committed += 1;
                        device.deleted = None;
                    } else {
                        tally.in_doubt_committed += 1;
                        device.deleted = Some(Fact::Observed);
                        device.pushes.clear();
                    }
                }
                Some(fact) => {
                    if fact == Fact::Acked {
                        tally.checks += 1;
                    }
                    // Listed again is a resurrection; the device API is asked too, once per delete.
                    let answered = if device.delete_probed {
                        None
                    } else {
                        device.delete_probed = true;
                        api.device(&id).await?
                    };
                    if listed || answered.is_some() {
                        tally.find(
                            Finding::Resurrected,
                            format!(
                                "push device {id} is registered again after its {fact:?} delete"
                            ),
                        );
                    }
                    continue;
                }
                None => {}
            }
            if device.deleted.is_some() {
                continue;
            }
            if device.registered == Fact::Acked {
                tally.checks += 1;
            }
            if !listed {
                tally.find(
                    Finding::Lost,
                    format!(
                        "push device {id} ({:?} registered) is not registered",
                        device.registered
                    ),
                );
                continue;
            }
            let queued = api.queued_pushes(&id).await?;
            let mut unknown = 0;
            for push in &queued {
                match self.push_seqs.get(&push.message_id) {
                    Some(seq) if *seq != push.seq => tally.find(
                        Finding::Corrupt,
                        format!(
                            "push {} to {id} had seq {seq}, now {}",
                            push.message_id, push.seq
                        ),
                    ),
                    Some(_) => {}
                    None => {
                        if let Some(other) = self.seq_owners.get(&push.seq) {
                            tally.find(
                                Finding::Corrupt,
                                format!(
                                    "push {} to {id} has seq {}, which push {other} had before",
                                    push.message_id, push.seq
                                ),
                            );
                        }
                        self.push_seqs.insert(push.message_id.clone(), push.seq);
                        self.seq_owners.insert(push.seq, push.message_id.clone());
                    }
                }
                if !device.pushes.contains_key(&push.message_id) {
                    unknown += 1;
                    device
                        .pushes
                        .insert(push.message_id.clone(), Fact::Observed);
                }
            }
            if unknown > device.pushes_in_doubt {
                tally.find(
                    Finding::Corrupt,
                    format!(
                        "push device {id} has {unknown} pushes nobody acknowledged, with only {} in doubt",
                        device.pushes_in_doubt
                    ),
                );
            }
            tally.in_doubt_committed += unknown.min(device.pushes_in_doubt);
            tally.in_doubt_not_committed += device.pushes_in_doubt.saturating_sub(unknown);
            device.pushes_in_doubt = 0;
            let queued_ids: BTreeSet<&str> = queued.iter().map(|p| p.message_id.as_str()).collect();
            for (message_id, fact) in &device.pushes {
                if *fact == Fact::Acked {
                    tally.checks += 1;
                }
                if !queued_ids.contains(message_id.as_str()) {
                    tally.find(
                        Finding::Lost,
                        format!("push {message_id} ({fact:?}) is no longer queued for {id}"),
                    );
                }
            }
        }
        Ok(())
    }

    /// Redeems consumed codes again: each must answer error 40. Every code consumed since the last reopen is
    /// tried, and a sample of older ones.
    async fn probe_consumed_codes(
        &mut self,
        api: &SuiteApi,
        tally: &mut Tally,
        rng: &mut impl Rng,
    ) {
        let mut fresh = Vec::new();
        let mut older = Vec::new();
        for (serial, token) in &self.tokens {
            if let TokenState::Activated { code, probed, .. } = &token.state {
                if *probed {
                    older.push((serial.clone(), code.clone()));
                } else {
                    fresh.push((serial.clone(), code.clone()));
                }
            }
        }
        older.shuffle(rng);
        older.truncate(8);
        for (serial, code) in fresh.iter().chain(&older) {
            let mobile_id = hex::encode(rng.r#gen::<[u8; 8]>());
            tally.checks += 1;
            match api.download(&mobile_id, "", code).await {
                Answer::Refused {
                    status: 200,
                    code: Some(40),
                    ..
                } => {}
                Answer::Acked(answer) => tally.find(
                    Finding::Resurrected,
                    format!(
                        "token {serial}: its consumed code {code} gave a seed again (token {})",
                        answer.token
                    ),
                ),
                Answer::ServerError { status, detail } => tally.find(
                    Finding::ServerError,
                    format!("redeeming the consumed code {code}: HTTP {status}: {detail}"),
                ),
                other => tally.find(
                    Finding::Unexpected,
                    format!("redeeming the consumed code {code}: {other:?}"),
                ),
            }
            if let Some(Token {
                state: TokenState::Activated { probed, .. },
                ..
            }) = self.tokens.get_mut(serial)
            {
                *probed = true;
            }
        }
    }
}
