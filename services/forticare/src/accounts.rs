//! The FortiCare account side of the ledger, on the lab's storage toolkit: the asset-management API's users
//! and their tokens, the products registered in each account, and the changes the v3 API makes, each one
//! write transaction beside the licenses `store` keeps (one ledger behind both faces).
//!
//! Tables (declared in `store`): `api_users` (username → `ApiUserRecord`, the password only as a salted
//! PBKDF2 hash), `api_tokens` (SHA-256 of a token, hex → `ApiTokenRecord`; the token itself is never
//! stored) and `products` (serial → `ProductRecord`).

use lab::store::{Reader, Record, StoreError, Table, Tx, Version};
use protocol::catalogue::{CatalogueEntry, V3_CLOUD_KEY_REQUIRED, V3_PRODUCT_ALREADY_REGISTERED};
use protocol::forticare_v3::{self as v3, MAX_BATCH_ERRORS, RegistrationUnit, UnitOutcome};
use protocol::id::{ApplianceSerial, LicenseActivationCode};
use protocol::ledger::ApiUserSpec;
use protocol::modeled;
use protocol::time::UnixTime;
use serde::{Deserialize, Serialize};

use crate::error::ForticareError;
use crate::ledger::{self, License, Redemption};
use crate::store::{
    API_TOKENS, API_USERS, CODES, LICENSES, Ledger, PRODUCTS, VOID_CODES, decode, indexed_license,
    read_license, register, write_license,
};
use crate::v3::{self as rules, ApiUser, Product, ProductContract};

#[derive(Serialize, Deserialize)]
struct ApiUserRecord {
    v: Version<1>,
    username: String,
    password_hash: String,
    account_id: u64,
    organization_accounts: Vec<u64>,
    created: i64,
}

impl Record for ApiUserRecord {
    const KIND: &'static str = "an API user record";
}

impl ApiUserRecord {
    fn user(&self) -> ApiUser {
        ApiUser {
            username: self.username.clone(),
            account_id: self.account_id,
            organization_accounts: self.organization_accounts.clone(),
            created: UnixTime::from_secs(self.created),
        }
    }
}

/// An issued token, stored under its hash.
#[derive(Serialize, Deserialize)]
struct ApiTokenRecord {
    v: Version<1>,
    username: String,
    /// `access` or `refresh`.
    kind: String,
    issued: i64,
    expires: i64,
}

impl Record for ApiTokenRecord {
    const KIND: &'static str = "an API token record";
}

/// A product as stored. `contracts` came with `products/register`'s `contractNumber`; a record without it
/// reads as a product with none.
#[derive(Serialize, Deserialize)]
struct ProductRecord {
    v: Version<1>,
    serial: String,
    account: u64,
    registered: i64,
    description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    contracts: Vec<ContractRecord>,
}

/// A support contract of a product: its number and term (epoch seconds).
#[derive(Serialize, Deserialize)]
struct ContractRecord {
    number: String,
    start: i64,
    end: i64,
}

impl Record for ProductRecord {
    const KIND: &'static str = "a product record";
}

impl ProductRecord {
    fn product(&self) -> Result<Product, StoreError> {
        Ok(Product {
            serial: self
                .serial
                .parse()
                .map_err(|e| StoreError::corrupt(format!("a product record: {e}")))?,
            account: self.account,
            registered: UnixTime::from_secs(self.registered),
            description: self.description.clone(),
            contracts: self
                .contracts
                .iter()
                .map(|c| ProductContract {
                    number: c.number.clone(),
                    start: UnixTime::from_secs(c.start),
                    end: UnixTime::from_secs(c.end),
                })
                .collect(),
        })
    }
}

fn write_product(tx: &mut Tx<'_>, product: &Product) -> Result<(), StoreError> {
    tx.put(
        PRODUCTS,
        product.serial.as_str().as_bytes(),
        &ProductRecord {
            v: Version,
            serial: product.serial.to_string(),
            account: product.account,
            registered: product.registered.secs(),
            description: product.description.clone(),
            contracts: product
                .contracts
                .iter()
                .map(|c| ContractRecord {
                    number: c.number.clone(),
                    start: c.start.secs(),
                    end: c.end.secs(),
                })
                .collect(),
        },
    )
}

fn read_product(
    r: &mut impl Reader,
    serial: &ApplianceSerial,
) -> Result<Option<Product>, StoreError> {
    r.record::<ProductRecord>(PRODUCTS, serial.as_str().as_bytes())?
        .map(|record| record.product())
        .transpose()
}

fn all_licenses(r: &mut impl Reader) -> Result<Vec<License>, StoreError> {
    r.all(LICENSES)?
        .iter()
        .map(|(_, bytes)| decode(bytes))
        .collect()
}

/// Puts a registered license in an account and its owner among the account's products: the owner's
/// product's account when the owner is registered already, else the license's account (the lab's when it
/// has none), where the owner is then registered too. Call before writing the license.
pub(crate) fn settle_account(
    tx: &mut Tx<'_>,
    license: &mut License,
    now: UnixTime,
) -> Result<(), StoreError> {
    if license.id.is_trial() {
        return Ok(());
    }
    let Some(owner) = &license.owner else {
        return Ok(());
    };
    match read_product(tx, &owner.appliance)? {
        Some(product) => {
            license.account.get_or_insert(product.account);
        }
        None => {
            let account = *license.account.get_or_insert(modeled::V3_LAB_ACCOUNT);
            write_product(
                tx,
                &Product {
                    serial: owner.appliance.clone(),
                    account,
                    registered: now,
                    description: String::new(),
                    contracts: Vec::new(),
                },
            )?;
        }
    }
    Ok(())
}

/// Creates each fixture API user that does not exist yet; how many it created.
pub(crate) fn load_api_users(
    tx: &mut Tx<'_>,
    specs: &[ApiUserSpec],
    now: UnixTime,
) -> Result<u64, ForticareError> {
    let mut created = 0;
    for spec in specs {
        if !tx.contains(API_USERS, spec.username.as_bytes())? {
            create_user_in(tx, spec, now)?;
            created += 1;
        }
    }
    Ok(created)
}

/// Checks an API user to create; the error is a sentence naming the field.
pub fn check_user(spec: &ApiUserSpec) -> Result<(), String> {
    if !rules::valid_username(&spec.username) {
        return Err(format!(
            "username: `{}` is not 1 to 64 printable characters without spaces",
            spec.username.chars().take(64).collect::<String>()
        ));
    }
    if spec.password.is_empty() || spec.password.len() > rules::MAX_TEXT {
        return Err(format!("password: must be 1 to {} bytes", rules::MAX_TEXT));
    }
    Ok(())
}

fn create_user_in(
    tx: &mut Tx<'_>,
    spec: &ApiUserSpec,
    now: UnixTime,
) -> Result<ApiUser, ForticareError> {
    check_user(spec).map_err(|e| {
        ForticareError::Api(lab::http::ApiError::bad_request(
            "forticare.api-user.invalid",
            e,
        ))
    })?;
    if tx.contains(API_USERS, spec.username.as_bytes())? {
        return Err(ForticareError::ApiUserConflict(spec.username.clone()));
    }
    let mut organization_accounts = spec.organization_accounts.clone();
    organization_accounts.sort_unstable();
    organization_accounts.dedup();
    let record = ApiUserRecord {
        v: Version,
        username: spec.username.clone(),
        password_hash: rules::hash_password(&spec.password),
        account_id: spec.account_id.unwrap_or(modeled::V3_LAB_ACCOUNT),
        organization_accounts,
        created: now.secs(),
    };
    tx.put(API_USERS, spec.username.as_bytes(), &record)?;
    Ok(record.user())
}

/// Why a v3 request was refused: the catalogue entry and a sentence about this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3Refusal {
    pub entry: &'static CatalogueEntry,
    pub detail: String,
}

impl V3Refusal {
    pub fn new(entry: &'static CatalogueEntry, detail: impl Into<String>) -> V3Refusal {
        V3Refusal {
            entry,
            detail: detail.into(),
        }
    }
}

/// A bearer token and its refresh token, as issued.
pub struct IssuedTokens {
    pub access: String,
    pub refresh: String,
}

fn issue_in(tx: &mut Tx<'_>, username: &str, now: UnixTime) -> Result<IssuedTokens, StoreError> {
    // Tokens past their life are dropped as new ones are issued, so the table stays small.
    for (key, bytes) in tx.all(API_TOKENS)? {
        let record: ApiTokenRecord = lab::store::decode(&bytes)?;
        if UnixTime::from_secs(record.expires) <= now {
            tx.remove(API_TOKENS, &key)?;
        }
    }
    let issued = IssuedTokens {
        access: rules::new_token(),
        refresh: rules::new_token(),
    };
    for (token, kind, life) in [
        (&issued.access, "access", v3::ACCESS_TOKEN_SECS),
        (&issued.refresh, "refresh", rules::REFRESH_TOKEN_SECS),
    ] {
        tx.put(
            API_TOKENS,
            rules::token_key(token).as_bytes(),
            &ApiTokenRecord {
                v: Version,
                username: username.to_owned(),
                kind: kind.to_owned(),
                issued: now.secs(),
                expires: now.plus_secs(life).secs(),
            },
        )?;
    }
    Ok(issued)
}

impl Ledger {
    /// Creates an API user (`POST /__admin/api-users`).
    pub async fn create_api_user(
        &self,
        spec: ApiUserSpec,
        now: UnixTime,
    ) -> Result<ApiUser, ForticareError> {
        self.store()
            .write(move |tx| create_user_in(tx, &spec, now))
            .await
    }

    /// Every API user, by name.
    pub fn api_users(&self) -> Result<Vec<ApiUser>, StoreError> {
        self.store().read(|r| {
            r.all(API_USERS)?
                .iter()
                .map(|(_, bytes)| Ok(lab::store::decode::<ApiUserRecord>(bytes)?.user()))
                .collect()
        })
    }

    /// The user named `username`, if `password` is its password.
    pub fn check_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<ApiUser>, StoreError> {
        let record = self
            .store()
            .read(|r| r.record::<ApiUserRecord>(API_USERS, username.as_bytes()))?;
        Ok(record
            .filter(|record| rules::verify_password(&record.password_hash, password))
            .map(|record| record.user()))
    }

    /// Issues a bearer token and a refresh token to `username` (which must still exist).
    pub async fn issue_tokens(
        &self,
        username: String,
        now: UnixTime,
    ) -> Result<Option<IssuedTokens>, StoreError> {
        self.store()
            .write(move |tx| {
                if !tx.contains(API_USERS, username.as_bytes())? {
                    return Ok(None);
                }
                issue_in(tx, &username, now).map(Some)
            })
            .await
    }

    /// Trades a live refresh token for new tokens; the refresh token is used up.
    pub async fn refresh_tokens(
        &self,
        refresh: String,
        now: UnixTime,
    ) -> Result<Option<IssuedTokens>, StoreError> {
        let key = rules::token_key(&refresh);
        self.store()
            .write(move |tx| {
                let Some(record) = tx.record::<ApiTokenRecord>(API_TOKENS, key.as_bytes())? else {
                    return Ok(None);
                };
                if record.kind != "refresh"
                    || UnixTime::from_secs(record.expires) <= now
                    || !tx.contains(API_USERS, record.username.as_bytes())?
                {
                    return Ok(None);
                }
                tx.remove(API_TOKENS, key.as_bytes())?;
                issue_in(tx, &record.username, now).map(Some)
            })
            .await
    }

    /// The user a live bearer token was issued to.
    pub fn authenticate(&self, token: &str, now: UnixTime) -> Result<Option<ApiUser>, StoreError> {
        let key = rules::token_key(token);
        self.store().read(|r| {
            let Some(record) = r.record::<ApiTokenRecord>(API_TOKENS, key.as_bytes())? else {
                return Ok(None);
            };
            if record.kind != "access" || UnixTime::from_secs(record.expires) <= now {
                return Ok(None);
            }
            Ok(
                r.record::<ApiUserRecord>(API_USERS, record.username.as_bytes())?
                    .map(|user| user.user()),
            )
        })
    }

    /// Every license and every product of `account`, in one read.
    pub fn account_view(&self, account: u64) -> Result<(Vec<License>, Vec<Product>), StoreError> {
        self.store().read(|r| {
            let licenses = all_licenses(r)?;
            let mut products = Vec::new();
            for (_, bytes) in r.all(PRODUCTS)? {
                let product = lab::store::decode::<ProductRecord>(&bytes)?.product()?;
                if product.account == account {
                    products.push(product);
                }
            }
            Ok((licenses, products))
        })
    }

    /// The product `serial`, with every license, in one read.
    pub fn product_view(
        &self,
        serial: &ApplianceSerial,
    ) -> Result<(Option<Product>, Vec<License>), StoreError> {
        self.store()
            .read(|r| Ok((read_product(r, serial)?, all_licenses(r)?)))
    }

    /// `licenses/register`: registers the license `code` names to `serial` in `account` (exactly what a
    /// first import by `serial` does), or, without a serial, to the account only (`Pending`). With the
    /// license: the product it is registered to.
    pub async fn register_license(
        &self,
        user: ApiUser,
        account: u64,
        code: LicenseActivationCode,
        serial: Option<ApplianceSerial>,
        description: Option<String>,
        now: UnixTime,
    ) -> Result<Result<(License, Option<Product>), V3Refusal>, StoreError> {
        self.store()
            .write(move |tx| {
                use modeled::{
                    V3_LICENSE_CODE_INVALID, V3_LICENSE_EXPIRED, V3_LICENSE_REGISTERED_ELSEWHERE,
                    V3_PRODUCT_OTHER_ACCOUNT,
                };
                if let Some(ticket) = tx.get(VOID_CODES, code.compact().as_bytes())? {
                    return Ok(Err(V3Refusal::new(
                        &V3_LICENSE_CODE_INVALID,
                        format!(
                            "{code} was voided by transfer ticket {}",
                            String::from_utf8_lossy(&ticket)
                        ),
                    )));
                }
                let license = match indexed_license(tx, CODES, code.compact().as_bytes())? {
                    Some(license) if !code.is_trial() => license,
                    _ => {
                        return Ok(Err(V3Refusal::new(
                            &V3_LICENSE_CODE_INVALID,
                            format!("{code} is not a license registration code"),
                        )));
                    }
                };
                if let Some(held) = license.account
                    && !user.may_act_on(held)
                {
                    return Ok(Err(V3Refusal::new(
                        &V3_LICENSE_REGISTERED_ELSEWHERE,
                        format!("{} is registered in another account", license.id),
                    )));
                }
                let Some(serial) = serial else {
                    // Registered to the account only: Pending until a product imports it.
                    if license.is_expired(now) {
                        return Ok(Err(V3Refusal::new(
                            &V3_LICENSE_EXPIRED,
                            format!("{} was never registered in time", license.id),
                        )));
                    }
                    let mut license = license;
                    if license.account.is_none() {
                        license.account = Some(account);
                        write_license(tx, &license)?;
                    }
                    let product = match &license.owner {
                        Some(owner) => read_product(tx, &owner.appliance)?,
                        None => None,
                    };
                    return Ok(Ok((license, product)));
                };
                let existing = read_product(tx, &serial)?;
                if let Some(product) = &existing
                    && !user.may_act_on(product.account)
                {
                    return Ok(Err(V3Refusal::new(
                        &V3_PRODUCT_OTHER_ACCOUNT,
                        format!("{serial} is registered in account {}", product.account),
                    )));
                }
                let mut license =
                    match ledger::redeem(Some(license), std::slice::from_ref(&serial), now) {
                        Redemption::Granted { license, .. } => *license,
                        Redemption::Refused(entry) => {
                            let mapped = if entry == &modeled::LICENSE_EXPIRED {
                                &V3_LICENSE_EXPIRED
                            } else if entry == &modeled::LICENSE_REGISTERED_ELSEWHERE {
                                &V3_LICENSE_REGISTERED_ELSEWHERE
                            } else {
                                &V3_LICENSE_CODE_INVALID
                            };
                            return Ok(Err(V3Refusal::new(
                                mapped,
                                format!("{code}: {}", entry.text),
                            )));
                        }
                    };
                let product = match existing {
                    Some(product) => product,
                    None => {
                        let product = Product {
                            serial: serial.clone(),
                            account,
                            registered: now,
                            description: description.unwrap_or_default(),
                            contracts: Vec::new(),
                        };
                        write_product(tx, &product)?;
                        product
                    }
                };
                license.account.get_or_insert(product.account);
                write_license(tx, &license)?;
                register(tx, &license)?;
                Ok(Ok((license, Some(product))))
            })
            .await
    }

    /// `products/register`: each unit registered in the user's account, in order; after
    /// [`MAX_BATCH_ERRORS`] failures the rest are not processed. Units are checked already.
    pub async fn register_products(
        &self,
        user: ApiUser,
        units: Vec<(ApplianceSerial, RegistrationUnit)>,
        now: UnixTime,
    ) -> Result<Vec<(ApplianceSerial, Result<Product, &'static CatalogueEntry>)>, StoreError> {
        self.store()
            .write(move |tx| {
                let mut outcomes = Vec::with_capacity(units.len());
                let mut failures = 0;
                for (serial, unit) in units {
                    let outcome = if failures >= MAX_BATCH_ERRORS {
                        Err(&modeled::V3_BATCH_STOPPED)
                    } else if unit.cloud_key.is_none() {
                        Err(&V3_CLOUD_KEY_REQUIRED)
                    } else {
                        match read_product(tx, &serial)? {
                            Some(product) if !user.may_act_on(product.account) => {
                                Err(&modeled::V3_PRODUCT_OTHER_ACCOUNT)
                            }
                            Some(_) if unit.contract_number.is_none() => {
                                Err(&V3_PRODUCT_ALREADY_REGISTERED)
                            }
                            // Registered already: its new contract is registered to it.
                            Some(mut product) => {
                                if let Some(number) = &unit.contract_number
                                    && product.add_contract(number, now)
                                {
                                    write_product(tx, &product)?;
                                }
                                Ok(product)
                            }
                            None => {
                                let mut product = Product {
                                    serial: serial.clone(),
                                    account: user.account_id,
                                    registered: now,
                                    description: unit.description.clone().unwrap_or_default(),
                                    contracts: Vec::new(),
                                };
                                if let Some(number) = &unit.contract_number {
                                    product.add_contract(number, now);
                                }
                                write_product(tx, &product)?;
                                Ok(product)
                            }
                        }
                    };
                    if outcome.is_err() {
                        failures += 1;
                    }
                    outcomes.push((serial, outcome));
                }
                Ok(outcomes)
            })
            .await
    }

    /// `products/transfer`: each product of `source` moved to `target`, with the licenses registered to
    /// it. The accounts are checked already.
    pub async fn transfer_products(
        &self,
        source: u64,
        target: u64,
        serials: Vec<ApplianceSerial>,
    ) -> Result<Vec<(ApplianceSerial, Result<Product, &'static CatalogueEntry>)>, StoreError> {
        self.store()
            .write(move |tx| {
                let mut outcomes = Vec::with_capacity(serials.len());
                let mut failures = 0;
                for serial in serials {
                    let outcome = if failures >= MAX_BATCH_ERRORS {
                        Err(&modeled::V3_BATCH_STOPPED)
                    } else {
                        match read_product(tx, &serial)? {
                            None => Err(&modeled::V3_PRODUCT_NOT_FOUND),
                            Some(product) if product.account != source => {
                                Err(&modeled::V3_PRODUCT_OTHER_ACCOUNT)
                            }
                            Some(mut product) => {
                                product.account = target;
                                write_product(tx, &product)?;
                                for mut license in all_licenses(tx)? {
                                    let owned = license
                                        .owner
                                        .as_ref()
                                        .is_some_and(|o| o.appliance == serial);
                                    if owned && license.account != Some(target) {
                                        license.account = Some(target);
                                        write_license(tx, &license)?;
                                    }
                                }
                                Ok(product)
                            }
                        }
                    };
                    if outcome.is_err() {
                        failures += 1;
                    }
                    outcomes.push((serial, outcome));
                }
                Ok(outcomes)
            })
            .await
    }
}

/// A unit's outcome as the API answers it.
pub fn unit_outcome(
    serial: &ApplianceSerial,
    outcome: &Result<Product, &'static CatalogueEntry>,
    licenses: &[License],
) -> UnitOutcome {
    match outcome {
        Ok(product) => {
            let refs: Vec<&License> = licenses.iter().collect();
            UnitOutcome {
                serial_number: serial.to_string(),
                status: v3::STATUS_OK,
                message: "Success".to_owned(),
                asset: Some(Box::new(rules::asset(product, &refs))),
            }
        }
        Err(entry) => UnitOutcome {
            serial_number: serial.to_string(),
            status: v3::STATUS_FAILED,
            message: entry.text.to_owned(),
            asset: None,
        },
    }
}

/// Every license, for building answers after a change.
impl Ledger {
    pub fn all_licenses(&self) -> Result<Vec<License>, StoreError> {
        self.store().read(all_licenses)
    }

    /// A license by id (for the read side of the license the v3 API registered).
    pub fn license_by_id(
        &self,
        id: &protocol::id::LicenseId,
    ) -> Result<Option<License>, StoreError> {
        self.store()
            .read(|r| read_license(r, id.as_str().as_bytes()))
    }
}

/// Checks one record of the account tables in a state being imported.
pub(crate) fn check_record(table: Table, key: &str, value: &[u8]) -> anyhow::Result<()> {
    match table {
        API_USERS => {
            let record: ApiUserRecord = lab::store::decode(value)?;
            anyhow::ensure!(
                record.username == key && rules::valid_username(key),
                "API user {} is stored under {key}",
                record.username
            );
            anyhow::ensure!(
                rules::is_password_hash(&record.password_hash),
                "API user {key}: the password hash is not one forticare can check"
            );
        }
        API_TOKENS => {
            anyhow::ensure!(
                key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()),
                "an API token is stored under its SHA-256 in hex, not `{key}`"
            );
            let record: ApiTokenRecord = lab::store::decode(value)?;
            anyhow::ensure!(
                matches!(record.kind.as_str(), "access" | "refresh"),
                "an API token is `access` or `refresh`, not `{}`",
                record.kind
            );
        }
        PRODUCTS => {
            let record: ProductRecord = lab::store::decode(value)?;
            let serial: ApplianceSerial = key.parse()?;
            anyhow::ensure!(
                record.serial == serial.as_str(),
                "product {} is stored under {key}",
                record.serial
            );
        }
        other => anyhow::bail!("forticare has no table {}", other.name()),
    }
    Ok(())
}

/// Checks that every token of a state names an API user in it.
pub(crate) fn check_state(incoming: &lab::state::Incoming) -> anyhow::Result<()> {
    let users = incoming.keys(API_USERS);
    for (_, value) in incoming.records(API_TOKENS) {
        let record: ApiTokenRecord = lab::store::decode(value)?;
        anyhow::ensure!(
            users.contains(record.username.as_bytes()),
            "an API token names user `{}`, which is not in the state",
            record.username
        );
    }
    Ok(())
}
