//! FortiAuthenticator Agent offline support and emergency codes (FAC token policy "Windows agent offline
//! support", seeds/fac-token-policy-settings.txt): with offline support on and the shared secret set, the FAC
//! hands a user's future codes to the Windows agent (`offlineotp/`: the TOTP codes of the configured days or
//! the HOTP codes of the configured counts; `offlinehotpupdate/`: more HOTP codes once the agent used some),
//! sealed with the shared secret, together with the user's emergency codes (valid the configured days). The
//! virtual agent (`/appliances/{serial}/agents/{agent}/…`) keeps such a cache and checks logins against it
//! with no FAC: each code works once, emergency codes are refused after their expiry on the lab clock. The
//! cache's format is fortimock's (`modeled::OfflineCache`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use protocol::fac_admin::{AgentCacheView, AgentLoginOutcome, AgentLoginResult};
use protocol::fac_rest::{EmergencyCodesObject, OfflineCacheObject};
use protocol::id::TokenSerial;
use protocol::modeled::{self, EmergencyTag, OfflineCache};
use protocol::otp::{self, OtpKind};
use protocol::time::UnixTime;
use rand::Rng;

use crate::error::ApplianceError;
use crate::fac_store::AgentCacheRecord;
use crate::fortitoken::Appliance;
use crate::store::Fleet;

/// Why the FAC will not give a user's offline codes.
fn refused(message: String) -> ApplianceError {
    ApplianceError::Conflict(message)
}

/// Builds a user's offline cache now: the codes from the current time step (TOTP) or the expected counter
/// (HOTP, or `hotp_from`), the emergency codes issued with it. Answers the REST object and the record the
/// agent keeps.
pub(crate) async fn build(
    fleet: &Fleet,
    appliance: &Appliance,
    user: &str,
    hotp_used: Option<u64>,
    now: UnixTime,
) -> Result<(OfflineCacheObject, AgentCacheRecord), ApplianceError> {
    let serial = &appliance.serial;
    let config = fleet.fac_config(serial)?;
    let secret = match (&config.offline_secret, config.offline_enabled) {
        (Some(secret), true) => secret.clone(),
        _ => {
            return Err(refused(format!(
                "Windows agent offline support is off on {serial}: set offline_enabled and offline_shared_secret in the token policy"
            )));
        }
    };
    let holder = fleet
        .user(serial, user)?
        .ok_or_else(|| ApplianceError::NoUser(format!("{user} has no FortiToken on {serial}")))?;
    let token = fleet
        .tokens(serial)?
        .into_iter()
        .find(|t| t.serial == holder.token)
        .ok_or_else(|| ApplianceError::NoUser(format!("{user}'s token is gone")))?;
    let seed = fleet
        .seed_of(serial, &token.serial)?
        .ok_or_else(|| refused(format!("{} has no seed yet", token.serial)))?;
    let info = fleet.fac_tokens(serial)?.remove(&token.serial);
    let hotp_next = info.and_then(|i| i.hotp).map(|h| h.next);
    let (kind, first, count) = match hotp_next {
        Some(next) => {
            let next = match hotp_used {
                Some(used) => fleet
                    .advance_hotp(serial, &token.serial, used)
                    .await?
                    .unwrap_or(next),
                None => next,
            };
            (
                OtpKind::Hotp,
                next,
                u64::from(config.offline_hotp_cache_counts),
            )
        }
        None => {
            if hotp_used.is_some() {
                return Err(ApplianceError::BadRequest(format!(
                    "{} is a TOTP token: offlinehotpupdate/ is for HOTP tokens",
                    token.serial
                )));
            }
            let period = token.timing.period;
            let step = u64::try_from(otp::time_step(now.secs(), period)).unwrap_or_default();
            let days = u64::from(config.offline_totp_cache_days);
            (
                OtpKind::Totp,
                step,
                days * 86_400 / u64::from(period.max(1)),
            )
        }
    };
    let tag_key = modeled::offline_tag_key(&secret);
    let mut tags = Vec::with_capacity(usize::try_from(count).unwrap_or_default() * 4);
    for position in first..first.saturating_add(count) {
        let code = otp::hotp(seed.as_bytes(), position, token.timing.digits);
        tags.extend_from_slice(&modeled::offline_code_tag(&tag_key, position, &code));
    }
    let mut emergency = Vec::new();
    if config.emergency_enabled {
        let expires =
            UnixTime::from_secs(now.secs() + i64::from(config.emergency_valid_days) * 86_400);
        let codes = match fleet.emergency_codes(serial, user)? {
            Some((codes, until)) if until > now => codes,
            _ => {
                let codes = new_emergency_codes();
                fleet
                    .issue_emergency_codes(serial, user, &codes, now, expires)
                    .await?;
                codes
            }
        };
        let until = fleet
            .emergency_codes(serial, user)?
            .map_or(expires, |(_, until)| until);
        emergency = codes
            .iter()
            .map(|code| EmergencyTag {
                tag: modeled::emergency_code_tag(&tag_key, code),
                expires: until.secs(),
            })
            .collect();
    }
    let cache = OfflineCache {
        v: 1,
        username: user.to_owned(),
        token: token.serial.to_string(),
        kind: kind.as_str().to_owned(),
        period: token.timing.period,
        digits: token.timing.digits,
        first,
        count,
        tags: BASE64.encode(&tags),
        emergency,
        issued: now.secs(),
    };
    let sealed = modeled::seal_offline_cache(&secret, &cache, rand::random());
    let valid_until = (kind == OtpKind::Totp).then(|| {
        UnixTime::from_secs(
            i64::try_from((first + count) * u64::from(token.timing.period)).unwrap_or(i64::MAX),
        )
    });
    let object = OfflineCacheObject {
        username: user.to_owned(),
        token_serial: token.serial.to_string(),
        algorithm: kind.as_str().to_owned(),
        count,
        valid_from: (kind == OtpKind::Totp).then(|| now.rfc3339()),
        valid_until: valid_until.map(UnixTime::rfc3339),
        first_counter: (kind == OtpKind::Hotp).then_some(first),
        emergency_codes: cache.emergency.len(),
        cache: sealed.clone(),
    };
    let record = AgentCacheRecord::fetched(
        user,
        &token.serial,
        kind.as_str(),
        first,
        count,
        valid_until.map(UnixTime::secs),
        cache.emergency.len(),
        sealed,
        now,
    );
    Ok((object, record))
}

/// Fresh emergency codes: [`modeled::EMERGENCY_CODE_COUNT`] codes of [`modeled::EMERGENCY_CODE_DIGITS`]
/// random digits.
fn new_emergency_codes() -> Vec<String> {
    let mut rng = rand::thread_rng();
    (0..modeled::EMERGENCY_CODE_COUNT)
        .map(|_| {
            (0..modeled::EMERGENCY_CODE_DIGITS)
                .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
                .collect()
        })
        .collect()
}

/// `emergencytoken/`: the user's emergency codes (issued now when there are none or they expired), for the
/// administrator to hand to the user.
pub(crate) async fn emergency_codes(
    fleet: &Fleet,
    appliance: &Appliance,
    user: &str,
    now: UnixTime,
) -> Result<EmergencyCodesObject, ApplianceError> {
    let serial = &appliance.serial;
    let config = fleet.fac_config(serial)?;
    if !config.emergency_enabled {
        return Err(refused(format!(
            "emergency codes are off on {serial}: set emergency_codes_enabled in the token policy"
        )));
    }
    if fleet.user(serial, user)?.is_none() {
        return Err(ApplianceError::NoUser(format!(
            "{user} has no FortiToken on {serial}"
        )));
    }
    let (codes, expires) = match fleet.emergency_codes(serial, user)? {
        Some((codes, until)) if until > now => (codes, until),
        _ => {
            let codes = new_emergency_codes();
            let until =
                UnixTime::from_secs(now.secs() + i64::from(config.emergency_valid_days) * 86_400);
            fleet
                .issue_emergency_codes(serial, user, &codes, now, until)
                .await?;
            (codes, until)
        }
    };
    Ok(EmergencyCodesObject {
        username: user.to_owned(),
        codes,
        expires_at: expires.rfc3339(),
    })
}

/// What an agent holds, for `GET …/agents` (never the codes).
pub(crate) fn view(
    agent: &str,
    record: &AgentCacheRecord,
) -> Result<AgentCacheView, ApplianceError> {
    Ok(AgentCacheView {
        agent: agent.to_owned(),
        user: record.user.clone(),
        token: record
            .token
            .parse::<TokenSerial>()
            .map_err(|e| ApplianceError::Internal(anyhow::anyhow!("a stored token serial: {e}")))?,
        algorithm: record.algorithm.clone(),
        codes: record.count,
        valid_until: record.valid_until.map(UnixTime::from_secs),
        first_counter: (record.algorithm == "hotp").then_some(record.first),
        emergency_codes: record.emergency,
        fetched: UnixTime::from_secs(record.fetched),
        used: record.used_positions.len() + record.used_emergency.len(),
    })
}

/// Checks an offline login against the agent's cache, opened with the shared secret the agent is configured
/// with; marks what it used (in `record`).
pub(crate) fn login(
    record: &mut AgentCacheRecord,
    shared_secret: &str,
    code: &str,
    now: UnixTime,
) -> AgentLoginOutcome {
    let outcome = |result, via: Option<&str>, message: &str| AgentLoginOutcome {
        result,
        via: via.map(str::to_owned),
        message: message.to_owned(),
    };
    let cache = match modeled::open_offline_cache(shared_secret, &record.cache) {
        Ok(cache) => cache,
        Err(e) => return outcome(AgentLoginResult::Denied, None, &e),
    };
    let code = code.trim();
    let tag_key = modeled::offline_tag_key(shared_secret);
    let tags = BASE64.decode(&cache.tags).unwrap_or_default();
    let tag_at = |position: u64| -> Option<&[u8]> {
        let index = usize::try_from(position.checked_sub(cache.first)?).ok()?;
        tags.get(index * 4..index * 4 + 4)
    };
    let candidates: Vec<u64> = if cache.kind == "hotp" {
        (cache.first..cache.first.saturating_add(cache.count)).collect()
    } else {
        let step = u64::try_from(otp::time_step(now.secs(), cache.period)).unwrap_or_default();
        // The step now and one either side, as a FAC's one-minute window allows.
        [step.saturating_sub(1), step, step + 1].to_vec()
    };
    for position in candidates {
        if let Some(tag) = tag_at(position)
            && tag == modeled::offline_code_tag(&tag_key, position, code)
        {
            if record.used_positions.contains(&position)
                || (cache.kind == "hotp"
                    && record.used_positions.iter().any(|used| *used > position))
            {
                return outcome(
                    AgentLoginResult::Replayed,
                    None,
                    "this code was already used offline",
                );
            }
            record.used_positions.push(position);
            return outcome(
                AgentLoginResult::Success,
                Some(&cache.kind),
                "authenticated offline",
            );
        }
    }
    let tag = modeled::emergency_code_tag(&tag_key, code);
    if let Some(emergency) = cache.emergency.iter().find(|e| e.tag == tag) {
        if record.used_emergency.contains(&tag) {
            return outcome(
                AgentLoginResult::Replayed,
                None,
                "this emergency code was already used",
            );
        }
        if now.secs() >= emergency.expires {
            return outcome(
                AgentLoginResult::Expired,
                None,
                "this emergency code has expired",
            );
        }
        record.used_emergency.push(tag);
        return outcome(
            AgentLoginResult::Success,
            Some("emergency"),
            "authenticated offline with an emergency code",
        );
    }
    outcome(
        AgentLoginResult::Denied,
        None,
        "no cached code matches (wrong, or outside the cached period)",
    )
}
