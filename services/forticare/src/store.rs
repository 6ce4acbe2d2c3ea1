//! The ledger's storage: forticare's tables and record format, on the lab's storage toolkit. Each change
//! (a license created, an import, a reset with its fixtures) is one write transaction, durable before it
//! returns: acknowledged means durable, and two appliances racing for one code cannot both win.
//!
//! Tables: `licenses` (license id → `LicenseRecord`), and the indexes `codes` (20 hex digits → license
//! id), `tokens` (token serial → license id), `trials` (appliance serial → trial license id) and
//! `appliances` (serial → empty: every serial a license is registered to, the "registered products").
//! Index entries hold a key of another table; the store's layout marker versions them.
//!
//! License transfer adds `transfers` (ticket number → `TransferRecord`) and `void_codes` (a code a ticket
//! voided → the ticket number). The asset-management API adds `api_users`, `api_tokens` and `products`
//! (their records and changes are in `accounts`). FortiGuard's hardware tokens add `hardware_batches` and
//! `hardware_tokens` (their records and changes are in `hardware_store`).

use std::path::Path;
use std::sync::Arc;

use lab::store::{
    DecodedRecords, OpenError, Reader, Record, Schema, Store, StoreError, Table, Tx, Version,
};
use protocol::id::{ApplianceSerial, LicenseActivationCode, LicenseId, TokenSerial};
use protocol::ledger::{
    LabFixtures, LicenseSpec, OwnershipAnswer, OwnershipQuery, TokenOwnership, TransferRequest,
};
use protocol::modeled;
use protocol::time::{CivilDate, UnixTime};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::ForticareError;
use crate::ledger::{self, FormerOwner, License, Owner, Redemption};
use crate::transfer::{self, Refusal, Ticket};

pub const LICENSES: Table = Table::new("licenses");

/// Most licenses kept decoded for ownership questions (a lab of 10,000 appliances has about as many).
const DECODED_LICENSES: usize = 16_384;
pub const CODES: Table = Table::new("codes");
pub const TOKENS: Table = Table::new("tokens");
pub const TRIALS: Table = Table::new("trials");
pub const APPLIANCES: Table = Table::new("appliances");
pub const TRANSFERS: Table = Table::new("transfers");
pub const VOID_CODES: Table = Table::new("void_codes");
pub const API_USERS: Table = Table::new("api_users");
pub const API_TOKENS: Table = Table::new("api_tokens");
pub const PRODUCTS: Table = Table::new("products");

/// forticare's tables.
pub static SCHEMA: Schema = Schema {
    service: crate::NAME,
    tables: &[
        LICENSES,
        CODES,
        TOKENS,
        TRIALS,
        APPLIANCES,
        TRANSFERS,
        VOID_CODES,
        API_USERS,
        API_TOKENS,
        PRODUCTS,
        crate::hardware_store::HARDWARE_BATCHES,
        crate::hardware_store::HARDWARE_TOKENS,
    ],
};

/// The license ledger; cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    store: Store,
    /// Licenses decoded by ownership questions (every poll and provision asks one), reused while their
    /// stored bytes are unchanged.
    decoded: Arc<DecodedRecords<License>>,
    /// The same questions' index reads: which license a token is of, and which appliances are registered.
    token_licenses: Arc<DecodedRecords<Vec<u8>>>,
    registered: Arc<DecodedRecords<()>>,
}

/// A license as stored. Version 2 (version 1 held the token list; tokens are derived from the id and
/// seat count, `modeled::token_serials`, and indexed in `tokens`). The fields after `owner` came with
/// license transfer and the v3 API; a record without them reads with their defaults (shipped on the day
/// it was created, in no account, never transferred).
#[derive(Serialize, Deserialize)]
struct LicenseRecord {
    v: Version<2>,
    id: String,
    code: Option<String>,
    seats: u32,
    valid_until: Option<String>,
    note: Option<String>,
    created: i64,
    owner: Option<OwnerRecord>,
    #[serde(default)]
    shipped: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    former: Vec<FormerRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<i64>,
}

#[derive(Serialize, Deserialize)]
struct FormerRecord {
    cluster: Vec<String>,
    grace_until: i64,
    ticket: String,
}

/// A completed transfer ticket.
#[derive(Serialize, Deserialize)]
struct TransferRecord {
    v: Version<1>,
    ticket: String,
    license: String,
    from: String,
    to: String,
    from_cluster: Vec<String>,
    rma: bool,
    grace_until: i64,
    completed: i64,
    old_code: String,
    new_code: String,
    note: Option<String>,
}

impl Record for TransferRecord {
    const KIND: &'static str = "a transfer ticket record";
}

impl Record for LicenseRecord {
    const KIND: &'static str = "a license record";
}

#[derive(Serialize, Deserialize)]
struct OwnerRecord {
    appliance: String,
    cluster: Vec<String>,
    registered: i64,
}

impl From<&License> for LicenseRecord {
    fn from(license: &License) -> LicenseRecord {
        LicenseRecord {
            v: Version,
            id: license.id.to_string(),
            code: license.code.as_ref().map(|c| c.compact().to_owned()),
            seats: license.seats,
            valid_until: license.valid_until.map(|d| d.to_string()),
            note: license.note.clone(),
            created: license.created.secs(),
            owner: license.owner.as_ref().map(|o| OwnerRecord {
                appliance: o.appliance.to_string(),
                cluster: o.cluster.iter().map(ToString::to_string).collect(),
                registered: o.registered.secs(),
            }),
            shipped: Some(license.shipped.to_string()),
            account: license.account,
            former: license
                .former
                .iter()
                .map(|f| FormerRecord {
                    cluster: f.cluster.iter().map(ToString::to_string).collect(),
                    grace_until: f.grace_until.secs(),
                    ticket: f.ticket.clone(),
                })
                .collect(),
            since: license.since.map(UnixTime::secs),
        }
    }
}

impl TryFrom<LicenseRecord> for License {
    type Error = StoreError;

    fn try_from(record: LicenseRecord) -> Result<License, StoreError> {
        let bad = |e: &dyn std::fmt::Display| StoreError::corrupt(format!("a license record: {e}"));
        Ok(License {
            id: record.id.parse().map_err(|e| bad(&e))?,
            code: record
                .code
                .map(|c| c.parse())
                .transpose()
                .map_err(|e| bad(&e))?,
            seats: record.seats,
            valid_until: record
                .valid_until
                .map(|d| d.parse::<CivilDate>())
                .transpose()
                .map_err(|e| bad(&e))?,
            note: record.note,
            created: UnixTime::from_secs(record.created),
            owner: record
                .owner
                .map(|o| -> Result<Owner, StoreError> {
                    Ok(Owner {
                        appliance: o.appliance.parse().map_err(|e| bad(&e))?,
                        cluster: o
                            .cluster
                            .iter()
                            .map(|s| s.parse())
                            .collect::<Result<_, _>>()
                            .map_err(|e| bad(&e))?,
                        registered: UnixTime::from_secs(o.registered),
                    })
                })
                .transpose()?,
            shipped: match record.shipped {
                Some(day) => day.parse::<CivilDate>().map_err(|e| bad(&e))?,
                None => UnixTime::from_secs(record.created).date(),
            },
            account: record.account,
            former: record
                .former
                .into_iter()
                .map(|f| -> Result<FormerOwner, StoreError> {
                    Ok(FormerOwner {
                        cluster: f
                            .cluster
                            .iter()
                            .map(|s| s.parse())
                            .collect::<Result<_, _>>()
                            .map_err(|e| bad(&e))?,
                        grace_until: UnixTime::from_secs(f.grace_until),
                        ticket: f.ticket,
                    })
                })
                .collect::<Result<_, _>>()?,
            since: record.since.map(UnixTime::from_secs),
        })
    }
}

impl From<&Ticket> for TransferRecord {
    fn from(ticket: &Ticket) -> TransferRecord {
        TransferRecord {
            v: Version,
            ticket: ticket.ticket.clone(),
            license: ticket.license.to_string(),
            from: ticket.from.to_string(),
            to: ticket.to.to_string(),
            from_cluster: ticket
                .from_cluster
                .iter()
                .map(ToString::to_string)
                .collect(),
            rma: ticket.rma,
            grace_until: ticket.grace_until.secs(),
            completed: ticket.completed.secs(),
            old_code: ticket.old_code.compact().to_owned(),
            new_code: ticket.new_code.compact().to_owned(),
            note: ticket.note.clone(),
        }
    }
}

impl TryFrom<TransferRecord> for Ticket {
    type Error = StoreError;

    fn try_from(record: TransferRecord) -> Result<Ticket, StoreError> {
        let bad = |e: &dyn std::fmt::Display| {
            StoreError::corrupt(format!("a transfer ticket record: {e}"))
        };
        Ok(Ticket {
            ticket: record.ticket,
            license: record.license.parse().map_err(|e| bad(&e))?,
            from: record.from.parse().map_err(|e| bad(&e))?,
            to: record.to.parse().map_err(|e| bad(&e))?,
            from_cluster: record
                .from_cluster
                .iter()
                .map(|s| s.parse())
                .collect::<Result<_, _>>()
                .map_err(|e| bad(&e))?,
            rma: record.rma,
            grace_until: UnixTime::from_secs(record.grace_until),
            completed: UnixTime::from_secs(record.completed),
            old_code: record.old_code.parse().map_err(|e| bad(&e))?,
            new_code: record.new_code.parse().map_err(|e| bad(&e))?,
            note: record.note,
        })
    }
}

/// A ticket number as it is written: decimal, no sign, no leading zero (`7000001`).
pub fn ticket_number(text: &str) -> Option<u64> {
    text.parse::<u64>()
        .ok()
        .filter(|n| *n > 0 && n.to_string() == text)
}

/// The number the next ticket gets: one more than the highest ticket there is (compared as numbers, so
/// `10000000` follows `9999999`, and whatever a state import or a restart brought is counted), or
/// `modeled::FIRST_TRANSFER_TICKET` for the first. Tickets are never deleted but by a reset or an import
/// that replaces them all, so numbers only grow.
fn next_ticket_number(tx: &mut Tx<'_>) -> Result<u64, StoreError> {
    let mut highest = None;
    for (key, _) in tx.all(TRANSFERS)? {
        let number = std::str::from_utf8(&key)
            .ok()
            .and_then(ticket_number)
            .ok_or_else(|| {
                StoreError::corrupt(format!("ticket number `{}`", String::from_utf8_lossy(&key)))
            })?;
        highest = highest.max(Some(number));
    }
    Ok(match highest {
        Some(number) => number.saturating_add(1).max(modeled::FIRST_TRANSFER_TICKET),
        None => modeled::FIRST_TRANSFER_TICKET,
    })
}

fn decode_ticket(bytes: &[u8]) -> Result<Ticket, StoreError> {
    lab::store::decode::<TransferRecord>(bytes)?.try_into()
}

pub(crate) fn decode(bytes: &[u8]) -> Result<License, StoreError> {
    lab::store::decode::<LicenseRecord>(bytes)?.try_into()
}

/// The license stored under `id`.
pub(crate) fn read_license(r: &mut impl Reader, id: &[u8]) -> Result<Option<License>, StoreError> {
    r.get(LICENSES, id)?.map(|bytes| decode(&bytes)).transpose()
}

/// The license the index entry under `key` in `index` names.
pub(crate) fn indexed_license(
    r: &mut impl Reader,
    index: Table,
    key: &[u8],
) -> Result<Option<License>, StoreError> {
    match r.get(index, key)? {
        Some(id) => read_license(r, &id),
        None => Ok(None),
    }
}

pub(crate) fn write_license(tx: &mut Tx<'_>, license: &License) -> Result<(), StoreError> {
    tx.put(
        LICENSES,
        license.id.as_str().as_bytes(),
        &LicenseRecord::from(license),
    )
}

/// Records every serial of the license's cluster as a registered appliance.
pub(crate) fn register(tx: &mut Tx<'_>, license: &License) -> Result<(), StoreError> {
    if let Some(owner) = &license.owner {
        for member in &owner.cluster {
            tx.insert(APPLIANCES, member.as_str().as_bytes(), &[])?;
        }
    }
    Ok(())
}

/// The first of `serials` the ledger already holds.
fn taken_token<'s>(
    tx: &mut Tx<'_>,
    serials: &'s [TokenSerial],
) -> Result<Option<&'s TokenSerial>, StoreError> {
    for token in serials {
        if tx.contains(TOKENS, token.as_str().as_bytes())? {
            return Ok(Some(token));
        }
    }
    Ok(None)
}

/// Creates a purchased license from `spec` inside a transaction.
fn create_in(
    tx: &mut Tx<'_>,
    spec: &LicenseSpec,
    now: UnixTime,
) -> Result<License, ForticareError> {
    let mut rng = rand::thread_rng();
    let id = match &spec.id {
        Some(id) if tx.contains(LICENSES, id.as_str().as_bytes())? => {
            return Err(ForticareError::LicenseConflict(format!(
                "license {id} already exists"
            )));
        }
        Some(id) => id.clone(),
        // A drawn id is drawn again when it is taken or when one of the token serials derived from it is
        // (a million-token lab has even odds of two 40-bit serials meeting).
        None => loop {
            let id = LicenseId::paid(rng.gen_range(10_000_000_000..1_000_000_000_000));
            if !tx.contains(LICENSES, id.as_str().as_bytes())?
                && taken_token(tx, &modeled::token_serials(&id, spec.seats))?.is_none()
            {
                break id;
            }
        },
    };
    let code = match &spec.code {
        Some(code) if code.is_trial() => {
            return Err(ForticareError::LicenseConflict(
                "the trial code cannot be given to a purchased license".into(),
            ));
        }
        Some(code) => {
            if let Some(owner) = tx.get(CODES, code.compact().as_bytes())? {
                let owner = String::from_utf8_lossy(&owner).into_owned();
                return Err(ForticareError::LicenseConflict(format!(
                    "code {code} already belongs to license {owner}"
                )));
            }
            code.clone()
        }
        None => loop {
            let code = LicenseActivationCode::from_bytes(rng.r#gen());
            if !code.is_trial() && !tx.contains(CODES, code.compact().as_bytes())? {
                break code;
            }
        },
    };
    let mut license = License {
        seats: spec.seats,
        id,
        code: Some(code),
        valid_until: spec.valid_until,
        note: spec.note.clone(),
        created: now,
        owner: spec.owner.as_ref().map(|appliance| Owner {
            appliance: appliance.clone(),
            cluster: std::iter::once(appliance)
                .chain(&spec.owner_peers)
                .cloned()
                .collect(),
            registered: now,
        }),
        shipped: spec.shipped.unwrap_or_else(|| now.date()),
        account: None,
        former: Vec::new(),
        since: None,
    };
    let serials = license.token_serials();
    if let Some(token) = taken_token(tx, &serials)? {
        return Err(ForticareError::LicenseConflict(format!(
            "token {token} of {} already exists",
            license.id
        )));
    }
    crate::accounts::settle_account(tx, &mut license, now)?;
    write_license(tx, &license)?;
    let code = license.code.as_ref().map_or("", |c| c.compact());
    tx.insert(CODES, code.as_bytes(), license.id.as_str().as_bytes())?;
    for token in &serials {
        tx.insert(
            TOKENS,
            token.as_str().as_bytes(),
            license.id.as_str().as_bytes(),
        )?;
    }
    register(tx, &license)?;
    Ok(license)
}

/// Creates each fixture license and API user that does not exist yet (by id, by name) inside a
/// transaction; how many it created.
fn load_fixtures_in(
    tx: &mut Tx<'_>,
    fixtures: &LabFixtures,
    now: UnixTime,
) -> Result<u64, ForticareError> {
    let mut created = crate::accounts::load_api_users(tx, &fixtures.api_users, now)?;
    for spec in &fixtures.licenses {
        let exists = match &spec.id {
            Some(id) => tx.contains(LICENSES, id.as_str().as_bytes())?,
            None => false,
        };
        if !exists {
            create_in(tx, spec, now).map_err(|e| match e {
                ForticareError::LicenseConflict(message) => ForticareError::LicenseConflict(
                    format!("fixture license {:?}: {message}", spec.id),
                ),
                other => other,
            })?;
            created += 1;
        }
    }
    Ok(created)
}

impl Ledger {
    /// Opens the ledger in `service_dir` (in memory when `None`).
    pub fn open(service_dir: Option<&Path>) -> Result<Ledger, OpenError> {
        Ok(Ledger {
            store: Store::open(service_dir, &SCHEMA)?,
            decoded: Arc::new(DecodedRecords::new(DECODED_LICENSES)),
            token_licenses: Arc::new(DecodedRecords::new(DECODED_LICENSES)),
            registered: Arc::new(DecodedRecords::new(DECODED_LICENSES)),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Creates a purchased license from `spec`, generating what it leaves out.
    pub async fn create(
        &self,
        spec: LicenseSpec,
        now: UnixTime,
    ) -> Result<License, ForticareError> {
        self.store.write(move |tx| create_in(tx, &spec, now)).await
    }

    /// Creates each fixture license and API user that does not exist yet (by id, by name), in one change;
    /// how many it created.
    pub async fn load_fixtures(
        &self,
        fixtures: LabFixtures,
        now: UnixTime,
    ) -> Result<u64, ForticareError> {
        self.store
            .write(move |tx| load_fixtures_in(tx, &fixtures, now))
            .await
    }

    /// Empties the ledger and creates the fixture licenses and API users again, as one change:
    /// (removed, created).
    pub async fn reset(
        &self,
        fixtures: LabFixtures,
        now: UnixTime,
    ) -> Result<(u64, u64), ForticareError> {
        self.store
            .write(move |tx| {
                let removed = tx.clear_all(&SCHEMA)?;
                let created = load_fixtures_in(tx, &fixtures, now)?;
                Ok((removed, created))
            })
            .await
    }

    /// Imports a purchased license's code for `cluster` (requester first). With the outcome: the ticket
    /// that voided the code, if one did.
    pub async fn redeem(
        &self,
        code: LicenseActivationCode,
        cluster: Vec<ApplianceSerial>,
        now: UnixTime,
    ) -> Result<(Redemption, Option<String>), StoreError> {
        self.store
            .write(move |tx| {
                if let Some(ticket) = tx.get(VOID_CODES, code.compact().as_bytes())? {
                    let ticket = String::from_utf8_lossy(&ticket).into_owned();
                    return Ok((Redemption::Refused(modeled::VOID_CODE_ERROR), Some(ticket)));
                }
                let license = indexed_license(tx, CODES, code.compact().as_bytes())?;
                let mut outcome = ledger::redeem(license, &cluster, now);
                if let Redemption::Granted {
                    license,
                    changed: true,
                } = &mut outcome
                {
                    crate::accounts::settle_account(tx, license, now)?;
                    write_license(tx, license)?;
                    register(tx, license)?;
                }
                Ok((outcome, None))
            })
            .await
            .inspect(|(outcome, _)| {
                if let Redemption::Granted { changed: true, .. } = outcome {
                    lab::flow::transition("license", "redeemable", "redeemed");
                }
            })
    }

    /// Opens and completes a Customer Service transfer ticket, in one change: the license moves to
    /// `request.to` under a new code, the old code is void. `grace_secs` is checked already.
    pub async fn transfer(
        &self,
        request: TransferRequest,
        grace_secs: i64,
        now: UnixTime,
    ) -> Result<Result<Ticket, Refusal>, StoreError> {
        self.store
            .write(move |tx| {
                let license = read_license(tx, request.license.as_str().as_bytes())?;
                let number = next_ticket_number(tx)?;
                let mut rng = rand::thread_rng();
                let new_code = loop {
                    let code = LicenseActivationCode::from_bytes(rng.r#gen());
                    let taken = code.is_trial()
                        || tx.contains(CODES, code.compact().as_bytes())?
                        || tx.contains(VOID_CODES, code.compact().as_bytes())?;
                    if !taken {
                        break code;
                    }
                };
                let decided = transfer::transfer(
                    license,
                    &request,
                    grace_secs,
                    number.to_string(),
                    new_code,
                    now,
                );
                let (mut license, ticket) = match decided {
                    Ok(done) => done,
                    Err(refusal) => return Ok(Err(refusal)),
                };
                tx.remove(CODES, ticket.old_code.compact().as_bytes())?;
                tx.insert(
                    VOID_CODES,
                    ticket.old_code.compact().as_bytes(),
                    ticket.ticket.as_bytes(),
                )?;
                tx.insert(
                    CODES,
                    ticket.new_code.compact().as_bytes(),
                    license.id.as_str().as_bytes(),
                )?;
                if !modeled::TRANSFER_KEEPS_TOKEN_SERIALS {
                    // The new owner's fresh serials join the index; the old ones stay, so the old owner
                    // keeps them for its grace period and then hears they moved.
                    let fresh = license.token_serials();
                    if let Some(token) = taken_token(tx, &fresh)? {
                        return Err(StoreError::internal(format!(
                            "token {token}, drawn for {} after ticket {}, already exists",
                            license.id, ticket.ticket
                        )));
                    }
                    for token in &fresh {
                        tx.insert(
                            TOKENS,
                            token.as_str().as_bytes(),
                            license.id.as_str().as_bytes(),
                        )?;
                    }
                }
                crate::accounts::settle_account(tx, &mut license, now)?;
                write_license(tx, &license)?;
                register(tx, &license)?;
                tx.put(
                    TRANSFERS,
                    ticket.ticket.as_bytes(),
                    &TransferRecord::from(&ticket),
                )?;
                Ok(Ok(ticket))
            })
            .await
            .inspect(|done| {
                if done.is_ok() {
                    lab::flow::transition("license", "redeemed", "transferred");
                }
            })
    }

    /// Every transfer ticket, oldest (lowest number) first.
    pub fn transfers(&self) -> Result<Vec<Ticket>, StoreError> {
        let mut tickets = self.store.read(|r| {
            r.all(TRANSFERS)?
                .iter()
                .map(|(_, bytes)| decode_ticket(bytes))
                .collect::<Result<Vec<_>, _>>()
        })?;
        tickets.sort_by_key(|t| ticket_number(&t.ticket));
        Ok(tickets)
    }

    /// The ticket numbered `ticket`.
    pub fn ticket(&self, ticket: &str) -> Result<Option<Ticket>, StoreError> {
        self.store.read(|r| {
            r.get(TRANSFERS, ticket.as_bytes())?
                .map(|bytes| decode_ticket(&bytes))
                .transpose()
        })
    }

    /// Imports the trial code for `cluster` (requester first).
    pub async fn redeem_trial(
        &self,
        cluster: Vec<ApplianceSerial>,
        now: UnixTime,
    ) -> Result<Redemption, StoreError> {
        let Some(requester) = cluster.first().cloned() else {
            return Err(StoreError::internal(
                "a trial import needs a requesting appliance",
            ));
        };
        self.store
            .write(move |tx| {
                let mut existing = None;
                for member in &cluster {
                    if let Some(license) = indexed_license(tx, TRIALS, member.as_str().as_bytes())?
                    {
                        existing = Some(license);
                        break;
                    }
                }
                let mut new_id = modeled::trial_license(&requester, 0);
                if existing.is_none() {
                    let mut attempt = 0;
                    loop {
                        let taken = tx.contains(LICENSES, new_id.as_str().as_bytes())?;
                        let mut tokens_taken = false;
                        for token in modeled::token_serials(&new_id, modeled::TRIAL_SEATS) {
                            tokens_taken |= tx.contains(TOKENS, token.as_str().as_bytes())?;
                        }
                        if !taken && !tokens_taken {
                            break;
                        }
                        attempt += 1;
                        new_id = modeled::trial_license(&requester, attempt);
                    }
                }
                let outcome = ledger::redeem_trial(existing, &cluster, new_id, now);
                if let Redemption::Granted {
                    license,
                    changed: true,
                } = &outcome
                {
                    write_license(tx, license)?;
                    for token in &license.token_serials() {
                        tx.insert(
                            TOKENS,
                            token.as_str().as_bytes(),
                            license.id.as_str().as_bytes(),
                        )?;
                    }
                    for member in &cluster {
                        if !tx.contains(TRIALS, member.as_str().as_bytes())? {
                            tx.insert(
                                TRIALS,
                                member.as_str().as_bytes(),
                                license.id.as_str().as_bytes(),
                            )?;
                        }
                    }
                    register(tx, license)?;
                }
                Ok(outcome)
            })
            .await
    }

    pub fn license(&self, id: &LicenseId) -> Result<Option<License>, StoreError> {
        self.store.read(|r| read_license(r, id.as_str().as_bytes()))
    }

    /// Every license, by id.
    pub fn licenses(&self) -> Result<Vec<License>, StoreError> {
        self.store.read(|r| {
            r.all(LICENSES)?
                .iter()
                .map(|(_, bytes)| decode(bytes))
                .collect()
        })
    }

    /// Which serials of `serials` any license is registered to (the "registered products").
    pub fn registered<'a>(
        &self,
        serials: impl IntoIterator<Item = &'a ApplianceSerial>,
    ) -> Result<Vec<ApplianceSerial>, StoreError> {
        self.store.read(|r| {
            let mut registered = Vec::new();
            for serial in serials {
                if r.contains(APPLIANCES, serial.as_str().as_bytes())? {
                    registered.push(serial.clone());
                }
            }
            Ok(registered)
        })
    }

    /// Which of the queried tokens the querying cluster may use at `now`, in one read.
    pub fn ownership(
        &self,
        query: &OwnershipQuery,
        now: UnixTime,
    ) -> Result<OwnershipAnswer, StoreError> {
        self.store.read_cached(|r| {
            let mut tokens = Vec::with_capacity(query.tokens.len());
            // A poll names many tokens of one license: read each license (and, when transfers give
            // fresh serials, which owner's tokens each serial is) once.
            type Generations = Option<std::collections::HashMap<TokenSerial, usize>>;
            let mut seen: Vec<(Arc<License>, Generations)> = Vec::new();
            for token in &query.tokens {
                let license_of = |bytes: &[u8]| Ok::<_, StoreError>(bytes.to_vec());
                let license_id =
                    self.token_licenses
                        .get(r, TOKENS, token.as_bytes(), license_of)?;
                let found = match license_id {
                    Some(id) => match seen
                        .iter()
                        .position(|(l, _)| l.id.as_bytes() == id.as_slice())
                    {
                        Some(index) => Some(index),
                        None => match self.decoded.get(r, LICENSES, id.as_slice(), decode)? {
                            Some(license) => {
                                let generations = license
                                    .token_generations(modeled::TRANSFER_KEEPS_TOKEN_SERIALS);
                                seen.push((license, generations));
                                Some(seen.len() - 1)
                            }
                            None => None,
                        },
                    },
                    None => None,
                };
                tokens.push(match found.map(|index| &seen[index]) {
                    Some((license, generations)) => license.ownership_of(
                        token.clone(),
                        generations.as_ref().and_then(|g| g.get(token).copied()),
                        &query.appliances,
                        now,
                    ),
                    None => TokenOwnership {
                        token: token.clone(),
                        license: None,
                        owned: false,
                        moved: false,
                        grace_until: None,
                        since: None,
                    },
                });
            }
            let mut registered = Vec::new();
            for appliance in &query.appliances {
                let key = appliance.as_str().as_bytes();
                if self
                    .registered
                    .get(r, APPLIANCES, key, |_| Ok::<_, StoreError>(()))?
                    .is_some()
                {
                    registered.push(appliance.clone());
                }
            }
            Ok(OwnershipAnswer { tokens, registered })
        })
    }
}

/// The ledger on the lab clock: what answers ftm in-process when both run in one process (`fortimock up`).
#[derive(Clone)]
pub struct LedgerOnClock {
    pub ledger: Ledger,
    pub clock: lab::clock::Clock,
}

impl protocol::ledger::OwnershipLedger for LedgerOnClock {
    fn ownership<'a>(&'a self, query: &'a OwnershipQuery) -> protocol::ledger::OwnershipFuture<'a> {
        let answer = self
            .ledger
            .ownership(query, self.clock.now())
            .map_err(|e| e.to_string());
        Box::pin(std::future::ready(answer))
    }
}

/// Checks one record of a state being imported (`lab::service::Service::check_record`).
pub fn check_record(table: Table, key: &[u8], value: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context;
    let key = std::str::from_utf8(key).context("the key is not text")?;
    let license_id = || -> anyhow::Result<LicenseId> {
        Ok(std::str::from_utf8(value)
            .context("the value is not text")?
            .parse()?)
    };
    match table {
        LICENSES => {
            let license = decode(value)?;
            anyhow::ensure!(
                license.id.as_str() == key,
                "license {} is stored under {key}",
                license.id
            );
        }
        CODES => {
            key.parse::<LicenseActivationCode>()?;
            license_id()?;
        }
        TOKENS => {
            key.parse::<TokenSerial>()?;
            license_id()?;
        }
        TRIALS => {
            key.parse::<ApplianceSerial>()?;
            license_id()?;
        }
        APPLIANCES => {
            key.parse::<ApplianceSerial>()?;
            anyhow::ensure!(value.is_empty(), "a registered appliance has no value");
        }
        TRANSFERS => {
            let ticket = decode_ticket(value)?;
            anyhow::ensure!(
                ticket_number(key).is_some(),
                "a ticket number is a decimal number from 1, without leading zeros, not `{key}`"
            );
            anyhow::ensure!(
                ticket.ticket == key,
                "ticket {} is stored under {key}",
                ticket.ticket
            );
        }
        VOID_CODES => {
            key.parse::<LicenseActivationCode>()?;
            let ticket = std::str::from_utf8(value).context("the value is not text")?;
            anyhow::ensure!(
                ticket_number(ticket).is_some(),
                "`{ticket}` is not a ticket number"
            );
        }
        _ => crate::accounts::check_record(table, key, value)?,
    }
    Ok(())
}

/// Checks that every index entry of a state names a license in it.
pub fn check_state(incoming: &lab::state::Incoming) -> anyhow::Result<()> {
    let licenses = incoming.keys(LICENSES);
    for table in [CODES, TOKENS, TRIALS] {
        for (key, value) in incoming.records(table) {
            anyhow::ensure!(
                licenses.contains(value),
                "{} `{}` names license `{}`, which is not in the state",
                table.name(),
                String::from_utf8_lossy(key),
                String::from_utf8_lossy(value)
            );
        }
    }
    let tickets = incoming.keys(TRANSFERS);
    for (key, value) in incoming.records(VOID_CODES) {
        anyhow::ensure!(
            tickets.contains(value),
            "void code `{}` names ticket `{}`, which is not in the state",
            String::from_utf8_lossy(key),
            String::from_utf8_lossy(value)
        );
    }
    for (key, value) in incoming.records(TRANSFERS) {
        let ticket = decode_ticket(value)?;
        anyhow::ensure!(
            licenses.contains(ticket.license.as_str().as_bytes()),
            "ticket `{}` names license `{}`, which is not in the state",
            String::from_utf8_lossy(key),
            ticket.license
        );
    }
    crate::accounts::check_state(incoming)
}
