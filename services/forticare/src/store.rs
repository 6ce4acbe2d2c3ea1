//! The ledger's storage: the only module that touches forticare's sled trees. It owns the key layout and
//! the versioned record format, runs each import as one transaction (so two appliances racing for one code
//! cannot both win), and flushes before returning from any change: acknowledged means durable.
//!
//! Trees: `licenses` (license id → `LicenseRecordV2` JSON), `codes` (20 hex digits → license id),
//! `tokens` (token serial → license id), `trials` (appliance serial → trial license id) and `appliances`
//! (serial → empty: every serial a license is registered to, the "registered products").

use std::path::Path;

use anyhow::Context;
use lab::store::{Abort, abort, committed};
use protocol::id::{ApplianceSerial, LicenseActivationCode, LicenseId, TokenSerial};
use protocol::ledger::LicenseSpec;
use protocol::modeled;
use protocol::time::{CivilDate, UnixTime};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::TransactionalTree;

use crate::ledger::{self, License, Owner, Redemption};

/// Handle to the ledger database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    licenses: sled::Tree,
    codes: sled::Tree,
    tokens: sled::Tree,
    trials: sled::Tree,
    appliances: sled::Tree,
}

/// Why a license could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// A license as stored. Version 2 (version 1 held the token list; tokens are now derived from the id and
/// seat count, `modeled::token_serials`, and indexed in the `tokens` tree). A change of shape gets a new
/// version and a conversion.
#[derive(Serialize, Deserialize)]
struct LicenseRecordV2 {
    v: u32,
    id: String,
    code: Option<String>,
    seats: u32,
    valid_until: Option<String>,
    note: Option<String>,
    created: i64,
    owner: Option<OwnerRecordV1>,
}

#[derive(Serialize, Deserialize)]
struct OwnerRecordV1 {
    appliance: String,
    cluster: Vec<String>,
    registered: i64,
}

impl From<&License> for LicenseRecordV2 {
    fn from(license: &License) -> LicenseRecordV2 {
        LicenseRecordV2 {
            v: 2,
            id: license.id.to_string(),
            code: license.code.as_ref().map(|c| c.compact().to_owned()),
            seats: license.seats,
            valid_until: license.valid_until.map(|d| d.to_string()),
            note: license.note.clone(),
            created: license.created.secs(),
            owner: license.owner.as_ref().map(|o| OwnerRecordV1 {
                appliance: o.appliance.to_string(),
                cluster: o.cluster.iter().map(ToString::to_string).collect(),
                registered: o.registered.secs(),
            }),
        }
    }
}

impl TryFrom<LicenseRecordV2> for License {
    type Error = anyhow::Error;

    fn try_from(record: LicenseRecordV2) -> anyhow::Result<License> {
        Ok(License {
            id: record.id.parse()?,
            code: record.code.map(|c| c.parse()).transpose()?,
            seats: record.seats,
            valid_until: record
                .valid_until
                .map(|d| d.parse::<CivilDate>())
                .transpose()?,
            note: record.note,
            created: UnixTime::from_secs(record.created),
            owner: record
                .owner
                .map(|o| -> anyhow::Result<Owner> {
                    Ok(Owner {
                        appliance: o.appliance.parse()?,
                        cluster: o
                            .cluster
                            .iter()
                            .map(|s| s.parse())
                            .collect::<Result<_, _>>()?,
                        registered: UnixTime::from_secs(o.registered),
                    })
                })
                .transpose()?,
        })
    }
}

fn decode(bytes: &[u8]) -> anyhow::Result<License> {
    let record: LicenseRecordV2 =
        serde_json::from_slice(bytes).context("decoding a license record")?;
    record.try_into()
}

fn encode(license: &License) -> Vec<u8> {
    lab::store::encode_record(&LicenseRecordV2::from(license))
}

fn read_license(licenses: &TransactionalTree, id: &[u8]) -> Result<Option<License>, Abort> {
    licenses
        .get(id)?
        .map(|bytes| decode(&bytes))
        .transpose()
        .map_err(abort)
}

impl Store {
    /// Opens the ledger in `dir` (a temporary one when `None`).
    pub fn open(dir: Option<&Path>) -> anyhow::Result<Store> {
        let db = lab::store::open_db(dir)?;
        Ok(Store {
            licenses: db.open_tree("licenses")?,
            codes: db.open_tree("codes")?,
            tokens: db.open_tree("tokens")?,
            trials: db.open_tree("trials")?,
            appliances: db.open_tree("appliances")?,
            db,
        })
    }

    async fn flush(&self) -> anyhow::Result<()> {
        lab::store::flush(&self.db)
            .await
            .context("flushing the ledger")
    }

    /// Empties every tree for `POST /__admin/reset`, flushed before it returns; how many records went.
    pub async fn reset(&self) -> anyhow::Result<u64> {
        lab::store::reset(
            &self.db,
            vec![
                self.licenses.clone(),
                self.codes.clone(),
                self.tokens.clone(),
                self.trials.clone(),
                self.appliances.clone(),
            ],
        )
        .await
    }

    /// Creates a purchased license from `spec`, generating what it leaves out.
    pub async fn create(&self, spec: &LicenseSpec, now: UnixTime) -> Result<License, CreateError> {
        let trees = (&self.licenses, &self.codes, &self.tokens, &self.appliances);
        let result = trees.transaction(|(licenses, codes, tokens, appliances)| {
            let mut rng = rand::thread_rng();
            let id = match &spec.id {
                Some(id) if licenses.get(id.as_str())?.is_some() => {
                    return Err(abort(CreateError::Conflict(format!(
                        "license {id} already exists"
                    ))));
                }
                Some(id) => id.clone(),
                None => loop {
                    let id = LicenseId::paid(rng.gen_range(10_000_000_000..1_000_000_000_000));
                    if licenses.get(id.as_str())?.is_none() {
                        break id;
                    }
                },
            };
            let code = match &spec.code {
                Some(code) if code.is_trial() => {
                    return Err(abort(CreateError::Conflict(
                        "the trial code cannot be given to a purchased license".into(),
                    )));
                }
                Some(code) => {
                    if let Some(owner) = codes.get(code.compact())? {
                        let owner = String::from_utf8_lossy(&owner).into_owned();
                        return Err(abort(CreateError::Conflict(format!(
                            "code {code} already belongs to license {owner}"
                        ))));
                    }
                    code.clone()
                }
                None => loop {
                    let code = LicenseActivationCode::from_bytes(rng.r#gen());
                    if !code.is_trial() && codes.get(code.compact())?.is_none() {
                        break code;
                    }
                },
            };
            let license = License {
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
            };
            let serials = license.token_serials();
            for token in &serials {
                if tokens.get(token.as_str())?.is_some() {
                    return Err(abort(CreateError::Conflict(format!(
                        "token {token} of {} already exists",
                        license.id
                    ))));
                }
            }
            licenses.insert(license.id.as_str(), encode(&license))?;
            codes.insert(
                license.code.as_ref().map_or("", |c| c.compact()),
                license.id.as_str(),
            )?;
            for token in &serials {
                tokens.insert(token.as_str(), license.id.as_str())?;
            }
            register(appliances, &license)?;
            Ok(license)
        });
        let license =
            committed(result, "ledger storage").map_err(|e| match e.downcast::<CreateError>() {
                Ok(create) => create,
                Err(other) => CreateError::Internal(other),
            })?;
        self.flush().await?;
        Ok(license)
    }

    /// Creates each fixture license that does not exist yet (by id); returns how many were created.
    pub async fn load_fixtures(
        &self,
        specs: &[LicenseSpec],
        now: UnixTime,
    ) -> anyhow::Result<usize> {
        let mut created = 0;
        for spec in specs {
            let exists = match &spec.id {
                Some(id) => self.licenses.contains_key(id.as_str())?,
                None => false,
            };
            if !exists {
                self.create(spec, now)
                    .await
                    .map_err(|e| anyhow::anyhow!("fixture license {:?}: {e}", spec.id))?;
                created += 1;
            }
        }
        Ok(created)
    }

    /// Imports a purchased license's code for `cluster` (requester first).
    pub async fn redeem(
        &self,
        code: &LicenseActivationCode,
        cluster: &[ApplianceSerial],
        now: UnixTime,
    ) -> anyhow::Result<Redemption> {
        let trees = (&self.licenses, &self.codes, &self.appliances);
        let result = trees.transaction(|(licenses, codes, appliances)| {
            let license = match codes.get(code.compact())? {
                Some(id) => read_license(licenses, &id)?,
                None => None,
            };
            let outcome = ledger::redeem(license, cluster, now);
            if let Redemption::Granted {
                license,
                changed: true,
            } = &outcome
            {
                licenses.insert(license.id.as_str(), encode(license))?;
                register(appliances, license)?;
            }
            Ok(outcome)
        });
        let outcome = committed(result, "ledger storage")?;
        if matches!(outcome, Redemption::Granted { changed: true, .. }) {
            self.flush().await?;
        }
        Ok(outcome)
    }

    /// Imports the trial code for `cluster` (requester first).
    pub async fn redeem_trial(
        &self,
        cluster: &[ApplianceSerial],
        now: UnixTime,
    ) -> anyhow::Result<Redemption> {
        let Some(requester) = cluster.first() else {
            anyhow::bail!("a trial import needs a requesting appliance");
        };
        let trees = (&self.licenses, &self.trials, &self.tokens, &self.appliances);
        let result = trees.transaction(|(licenses, trials, tokens, appliances)| {
            let mut existing = None;
            for member in cluster {
                if let Some(id) = trials.get(member.as_str())? {
                    existing = read_license(licenses, &id)?;
                    break;
                }
            }
            let mut new_id = modeled::trial_license(requester, 0);
            if existing.is_none() {
                let mut attempt = 0;
                while licenses.get(new_id.as_str())?.is_some()
                    || modeled::token_serials(&new_id, modeled::TRIAL_SEATS)
                        .iter()
                        .try_fold(false, |taken, t| {
                            Ok::<_, Abort>(taken || tokens.get(t.as_str())?.is_some())
                        })?
                {
                    attempt += 1;
                    new_id = modeled::trial_license(requester, attempt);
                }
            }
            let outcome = ledger::redeem_trial(existing, cluster, new_id, now);
            if let Redemption::Granted {
                license,
                changed: true,
            } = &outcome
            {
                licenses.insert(license.id.as_str(), encode(license))?;
                for token in &license.token_serials() {
                    tokens.insert(token.as_str(), license.id.as_str())?;
                }
                for member in cluster {
                    if trials.get(member.as_str())?.is_none() {
                        trials.insert(member.as_str(), license.id.as_str())?;
                    }
                }
                register(appliances, license)?;
            }
            Ok(outcome)
        });
        let outcome = committed(result, "ledger storage")?;
        if matches!(outcome, Redemption::Granted { changed: true, .. }) {
            self.flush().await?;
        }
        Ok(outcome)
    }

    pub fn license(&self, id: &LicenseId) -> anyhow::Result<Option<License>> {
        self.licenses
            .get(id.as_str())?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    /// Every license, by id.
    pub fn licenses(&self) -> anyhow::Result<Vec<License>> {
        self.licenses
            .iter()
            .values()
            .map(|bytes| decode(&bytes?))
            .collect()
    }

    /// The license a token belongs to.
    pub fn license_of_token(&self, token: &TokenSerial) -> anyhow::Result<Option<License>> {
        match self.tokens.get(token.as_str())? {
            Some(id) => self
                .licenses
                .get(&id)?
                .map(|bytes| decode(&bytes))
                .transpose(),
            None => Ok(None),
        }
    }

    /// Whether any license is registered to `serial` (a "registered product").
    pub fn is_registered_appliance(&self, serial: &ApplianceSerial) -> anyhow::Result<bool> {
        Ok(self.appliances.contains_key(serial.as_str())?)
    }
}

/// Records every serial of the license's cluster as a registered appliance.
fn register(appliances: &TransactionalTree, license: &License) -> Result<(), Abort> {
    if let Some(owner) = &license.owner {
        for member in &owner.cluster {
            appliances.insert(member.as_str(), &[][..])?;
        }
    }
    Ok(())
}

/// The ledger's records for `/__admin/state`.
impl lab::state::Snapshot for Store {
    fn db(&self) -> &sled::Db {
        &self.db
    }

    fn trees(&self) -> Vec<(&'static str, sled::Tree)> {
        vec![
            ("licenses", self.licenses.clone()),
            ("codes", self.codes.clone()),
            ("tokens", self.tokens.clone()),
            ("trials", self.trials.clone()),
            ("appliances", self.appliances.clone()),
        ]
    }

    fn check(&self, tree: &str, key: &[u8], value: &[u8]) -> anyhow::Result<()> {
        let key = std::str::from_utf8(key).context("the key is not text")?;
        let license_id = || -> anyhow::Result<LicenseId> {
            Ok(std::str::from_utf8(value)
                .context("the value is not text")?
                .parse()?)
        };
        match tree {
            "licenses" => {
                let license = decode(value)?;
                anyhow::ensure!(
                    license.id.as_str() == key,
                    "license {} is stored under {key}",
                    license.id
                );
            }
            "codes" => {
                key.parse::<LicenseActivationCode>()?;
                license_id()?;
            }
            "tokens" => {
                key.parse::<TokenSerial>()?;
                license_id()?;
            }
            "trials" => {
                key.parse::<ApplianceSerial>()?;
                license_id()?;
            }
            _ => {
                key.parse::<ApplianceSerial>()?;
                anyhow::ensure!(value.is_empty(), "a registered appliance has no value");
            }
        }
        Ok(())
    }

    fn check_whole(&self, incoming: &lab::state::Incoming) -> anyhow::Result<()> {
        let licenses = incoming.keys("licenses");
        for tree in ["codes", "tokens", "trials"] {
            for (key, value) in incoming.records(tree) {
                anyhow::ensure!(
                    licenses.contains(value.as_slice()),
                    "{tree} `{}` names license `{}`, which is not in the state",
                    String::from_utf8_lossy(key),
                    String::from_utf8_lossy(value)
                );
            }
        }
        Ok(())
    }
}
