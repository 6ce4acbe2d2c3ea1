//! FortiCare's asset-management API (v3) as rules, pure: the account an API user acts in, its passwords
//! and tokens, what a product and a license look like in the API's answers, and the filters of the list
//! endpoints. One ledger stands behind this API and the SoftToken service: a license registered here is
//! owned for imports, and an import shows up here (`accounts` keeps the products and users, `store` the
//! licenses).

use pbkdf2::pbkdf2_hmac;
use protocol::forticare_v3::{
    self as v3, Asset, Contract, ContractTerm, Entitlement, LicenseAsset,
};
use protocol::id::ApplianceSerial;
use protocol::ledger::ApiUserView;
use protocol::modeled;
use protocol::time::UnixTime;
use rand::Rng;
use rand::distributions::Alphanumeric;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ledger::License;

/// PBKDF2-HMAC-SHA256 iterations for API passwords: the hash guards a lab password, and every token
/// request computes it once.
const PBKDF2_ROUNDS: u32 = 10_000;

/// How long a refresh token lives: a week (the real lifetime is not public).
pub const REFRESH_TOKEN_SECS: i64 = 7 * 86_400;

/// The longest username, password, description or other free text an API request may carry, in bytes.
pub const MAX_TEXT: usize = 256;

/// A user of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiUser {
    pub username: String,
    pub account_id: u64,
    pub organization_accounts: Vec<u64>,
    pub created: UnixTime,
}

impl ApiUser {
    /// Whether the user may act on `account`: its own, or one of its organization's.
    pub fn may_act_on(&self, account: u64) -> bool {
        account == self.account_id || self.organization_accounts.contains(&account)
    }

    /// The account a request acts in: its `accountId`, or the user's own.
    pub fn account_for(&self, requested: Option<u64>) -> Option<u64> {
        match requested {
            None => Some(self.account_id),
            Some(account) if self.may_act_on(account) => Some(account),
            Some(_) => None,
        }
    }

    pub fn view(&self) -> ApiUserView {
        ApiUserView {
            username: self.username.clone(),
            account_id: self.account_id,
            organization_accounts: self.organization_accounts.clone(),
            created: self.created,
        }
    }
}

/// A product registered in an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub serial: ApplianceSerial,
    pub account: u64,
    pub registered: UnixTime,
    pub description: String,
    /// Its support contracts, in the order they were registered.
    pub contracts: Vec<ProductContract>,
}

/// A support contract registered to a product (`products/register` with a `contractNumber`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductContract {
    pub number: String,
    pub start: UnixTime,
    pub end: UnixTime,
}

impl Product {
    /// Registers contract `number` to the product at `now` (a term of `modeled::V3_CONTRACT_TERM_DAYS`);
    /// a contract it has already is left as it is. Whether anything changed.
    pub fn add_contract(&mut self, number: &str, now: UnixTime) -> bool {
        let number = number.trim();
        if number.is_empty() || self.contracts.iter().any(|c| c.number == number) {
            return false;
        }
        self.contracts.push(ProductContract {
            number: number.to_owned(),
            start: now,
            end: now.plus_secs(modeled::V3_CONTRACT_TERM_DAYS * 86_400),
        });
        true
    }
}

/// Whether a username is one the API takes: 1 to 64 printable ASCII characters, no spaces.
pub fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_graphic())
}

/// A password's stored form: `pbkdf2-sha256$<rounds>$<salt hex>$<hash hex>`, with a fresh random salt.
pub fn hash_password(password: &str) -> String {
    let salt: [u8; 16] = rand::thread_rng().r#gen();
    hash_with(password, &salt, PBKDF2_ROUNDS)
}

fn hash_with(password: &str, salt: &[u8], rounds: u32) -> String {
    let mut out = [0u8; 32];
    pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, rounds, &mut out);
    format!(
        "pbkdf2-sha256${rounds}${}${}",
        hex::encode(salt),
        hex::encode(out)
    )
}

/// Whether `password` is the one `stored` was made from (compared in constant time).
pub fn verify_password(stored: &str, password: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some("pbkdf2-sha256"), Some(rounds), Some(salt), Some(_), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Ok(rounds), Ok(salt)) = (rounds.parse::<u32>(), hex::decode(salt)) else {
        return false;
    };
    if rounds == 0 || rounds > 1_000_000 {
        return false;
    }
    hash_with(password, &salt, rounds)
        .as_bytes()
        .ct_eq(stored.as_bytes())
        .into()
}

/// Whether `stored` is a password hash [`verify_password`] can check (a state import).
pub fn is_password_hash(stored: &str) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    parts.len() == 4
        && parts[0] == "pbkdf2-sha256"
        && parts[1]
            .parse::<u32>()
            .is_ok_and(|r| (1..=1_000_000).contains(&r))
        && hex::decode(parts[2]).is_ok()
        && hex::decode(parts[3]).is_ok_and(|h| h.len() == 32)
}

/// A new bearer or refresh token: 30 random letters and digits, as OAuth toolkits issue them.
pub fn new_token() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(30)
        .map(char::from)
        .collect()
}

/// The key a token is stored under: its SHA-256, in hex. The token itself is never stored.
pub fn token_key(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A license as the API lists it; `None` for a license no account holds or a trial (FortiGuard's).
pub fn license_asset(license: &License) -> Option<LicenseAsset> {
    if license.id.is_trial() {
        return None;
    }
    license.account?;
    Some(LicenseAsset {
        license_number: license.id.to_string(),
        license_sku: license.sku(),
        serial_number: license
            .owner
            .as_ref()
            .map_or_else(String::new, |o| o.appliance.to_string()),
        status: if license.owner.is_some() {
            "Registered"
        } else {
            "Pending"
        }
        .to_owned(),
    })
}

/// A product as the API shows it, with the licenses registered to it (each one's FortiToken Mobile
/// entitlement among its `entitlements`).
pub fn asset(product: &Product, licenses: &[&License]) -> Asset {
    let mine: Vec<&License> = licenses
        .iter()
        .copied()
        .filter(|l| {
            !l.id.is_trial()
                && l.owner
                    .as_ref()
                    .is_some_and(|o| o.appliance == product.serial)
        })
        .collect();
    let entitlements = mine
        .iter()
        .map(|l| Entitlement {
            kind: modeled::V3_FTM_ENTITLEMENT_TYPE,
            type_desc: modeled::V3_FTM_ENTITLEMENT_DESC.to_owned(),
            level: modeled::V3_FTM_ENTITLEMENT_LEVEL,
            level_desc: modeled::V3_FTM_ENTITLEMENT_LEVEL_DESC.to_owned(),
            start_date: v3::date_time(l.owner.as_ref().map_or(l.created, |o| o.registered)),
            end_date: modeled::V3_FTM_ENTITLEMENT_END.to_owned(),
        })
        .chain(product.contracts.iter().map(|c| Entitlement {
            kind: modeled::V3_SUPPORT_ENTITLEMENT_TYPE,
            type_desc: modeled::V3_SUPPORT_ENTITLEMENT_DESC.to_owned(),
            level: modeled::V3_SUPPORT_ENTITLEMENT_LEVEL,
            level_desc: modeled::V3_SUPPORT_ENTITLEMENT_LEVEL_DESC.to_owned(),
            start_date: v3::date_time(c.start),
            end_date: v3::date_time(c.end),
        }))
        .collect();
    let contracts = product
        .contracts
        .iter()
        .map(|c| Contract {
            contract_number: c.number.clone(),
            sku: modeled::V3_CONTRACT_SKU.to_owned(),
            terms: vec![ContractTerm {
                start_date: v3::date_time(c.start),
                end_date: v3::date_time(c.end),
                support_type: modeled::V3_CONTRACT_SUPPORT_TYPE.to_owned(),
            }],
        })
        .collect();
    Asset {
        serial_number: product.serial.to_string(),
        product_model: modeled::v3_product_model(&product.serial).to_owned(),
        description: product.description.clone(),
        is_decommissioned: false,
        registration_date: v3::date_time(product.registered),
        status: "Registered".to_owned(),
        folder_id: 0,
        folder_path: "/My Assets".to_owned(),
        partner: String::new(),
        location: String::new(),
        asset_groups: Vec::new(),
        product_model_eor: String::new(),
        product_model_eos: String::new(),
        warranty_supports: Vec::new(),
        contracts,
        entitlements,
        licenses: mine.iter().filter_map(|l| license_asset(l)).collect(),
        license: None,
        account_id: product.account,
    }
}

/// What `licenses/register` shows for a license registered to an account only (`Pending`): no product
/// yet, so an asset with no serial number.
pub fn pending_asset(license: &License) -> Asset {
    Asset {
        serial_number: String::new(),
        product_model: modeled::V3_FTM_ENTITLEMENT_DESC.to_owned(),
        description: String::new(),
        is_decommissioned: false,
        registration_date: v3::date_time(license.created),
        status: "Pending".to_owned(),
        folder_id: 0,
        folder_path: "/My Assets".to_owned(),
        partner: String::new(),
        location: String::new(),
        asset_groups: Vec::new(),
        product_model_eor: String::new(),
        product_model_eos: String::new(),
        warranty_supports: Vec::new(),
        contracts: Vec::new(),
        entitlements: Vec::new(),
        licenses: Vec::new(),
        license: license_asset(license),
        account_id: license.account.unwrap_or(modeled::V3_LAB_ACCOUNT),
    }
}

/// The day an `expireBefore` value names (`2040-01-01T00:00:00+0:00`, `2040-01-01`, RFC 3339): its first
/// ten characters as a date.
pub fn expire_before(text: &str) -> Option<UnixTime> {
    let day = text.trim().get(..10)?;
    UnixTime::parse(day).ok()
}

/// Whether a product has an entitlement ending before `before`: a contract's support, whose term ends; a
/// FortiToken Mobile license never ends.
pub fn expires_before(asset: &Asset, before: UnixTime) -> bool {
    asset
        .entitlements
        .iter()
        .any(|e| UnixTime::parse(&format!("{}Z", e.end_date)).is_ok_and(|end| end < before))
}

/// Page `number` (1-based) of `items`, and how many pages there are.
pub fn page<T>(items: Vec<T>, number: u32) -> (Vec<T>, u32) {
    let size = modeled::V3_PAGE_SIZE;
    let total = items.len().div_ceil(size).max(1);
    let index = (number.max(1) as usize - 1) * size;
    let page = items.into_iter().skip(index).take(size).collect();
    (page, u32::try_from(total).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_salted_hashes_that_verify() {
        let stored = hash_password("s3cret");
        assert!(is_password_hash(&stored));
        assert!(!stored.contains("s3cret"));
        assert_ne!(stored, hash_password("s3cret"), "a fresh salt each time");
        assert!(verify_password(&stored, "s3cret"));
        assert!(!verify_password(&stored, "s3cret "));
        assert!(!verify_password("nonsense", "s3cret"));
        assert!(!is_password_hash("pbkdf2-sha256$0$00$00"));
    }

    #[test]
    fn tokens_are_random_and_stored_by_hash() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 30);
        assert_ne!(a, b);
        assert_eq!(token_key(&a).len(), 64);
        assert_ne!(token_key(&a), a);
    }

    #[test]
    fn users_act_in_their_organization_only() {
        let user = ApiUser {
            username: "u".into(),
            account_id: 1,
            organization_accounts: vec![2],
            created: UnixTime::from_secs(0),
        };
        assert_eq!(user.account_for(None), Some(1));
        assert_eq!(user.account_for(Some(2)), Some(2));
        assert_eq!(user.account_for(Some(3)), None);
        assert!(valid_username("api-user_1") && !valid_username("a b") && !valid_username(""));
    }

    #[test]
    fn pages_and_expiry_filters() {
        let (first, total) = page((0..30).collect::<Vec<_>>(), 1);
        assert_eq!((first.len(), total), (25, 2));
        let (second, _) = page((0..30).collect::<Vec<_>>(), 2);
        assert_eq!(second, (25..30).collect::<Vec<_>>());
        assert_eq!(page(Vec::<u8>::new(), 1).1, 1);
        assert_eq!(
            expire_before("2040-01-01T00:00:00+0:00"),
            Some(UnixTime::parse("2040-01-01").unwrap())
        );
        assert_eq!(expire_before("soon"), None);
    }

    #[test]
    fn a_contract_gives_a_product_an_entitlement_that_ends() {
        let registered = UnixTime::parse("2026-12-01").unwrap();
        let mut product = Product {
            serial: "FGT60FTK20000001".parse().unwrap(),
            account: 1,
            registered,
            description: String::new(),
            contracts: Vec::new(),
        };
        let before = |day: &str| expire_before(day).unwrap();
        assert!(!expires_before(&asset(&product, &[]), before("2040-01-01")));
        assert!(product.add_contract("C-1", registered));
        assert!(
            !product.add_contract("C-1", registered.plus_secs(86_400)),
            "once"
        );
        let shown = asset(&product, &[]);
        assert_eq!(shown.contracts[0].contract_number, "C-1");
        assert_eq!(shown.contracts[0].terms[0].end_date, "2027-12-01T00:00:00");
        assert_eq!(shown.entitlements[0].end_date, "2027-12-01T00:00:00");
        assert!(expires_before(&shown, before("2027-12-02T00:00:00+0:00")));
        assert!(!expires_before(&shown, before("2027-12-01")));
    }
}
