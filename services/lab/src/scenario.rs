//! The scenarios armed on one service (`/__admin/scenarios`): arming, listing, clearing, and the check a
//! handler makes before it serves a request. What each scenario answers is the service's business; the
//! rules (what may be armed where, what a `match` selects) are `protocol::scenario`'s.
//!
//! Scenarios live in memory: a restart or a reset clears them. Waiting out a `delay_ms` uses real time,
//! not the lab clock, since it stands for a slow network.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::{HttpRequest, web};
use protocol::scenario::{
    MAX_SCENARIOS, ScenarioAction, ScenarioMatch, ScenarioSpec, ScenarioView, Trigger,
};
use protocol::time::UnixTime;

use crate::admin::ControlPlane;

/// The scenarios of one service; cheap to clone (handlers and the control plane share one registry).
#[derive(Clone)]
pub struct Scenarios {
    service: &'static str,
    registry: Arc<Mutex<Registry>>,
    /// How many scenarios can still fire: lets the common case (none) skip the lock.
    live: Arc<AtomicUsize>,
}

#[derive(Default)]
struct Registry {
    /// The number of the last scenario armed (ids are `s<n>`).
    last: u64,
    scenarios: Vec<Armed>,
}

struct Armed {
    id: String,
    spec: ScenarioSpec,
    action: ScenarioAction,
    fired: u64,
    remaining: Option<u32>,
    /// SplitMix64 state for `probability`.
    rng: u64,
    armed_at: UnixTime,
}

/// A scenario that fired on a request: answer as it says.
#[derive(Debug, Clone)]
pub struct Fired {
    /// `s1`, … (for the log line).
    pub id: String,
    pub action: ScenarioAction,
    /// Hold the answer this long first.
    pub delay: Option<Duration>,
    /// Its `match`: token-level errors refuse only the tokens it selects.
    pub when: ScenarioMatch,
}

impl Fired {
    /// Waits out the scenario's `delay_ms`, if any.
    pub async fn hold(&self) {
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
    }

    /// The result for the request's log line, e.g. `scenario s2: ftm.mobile.code-invalid`.
    pub fn outcome(&self) -> String {
        match self.action {
            ScenarioAction::Error(entry) => format!("scenario {}: {}", self.id, entry.error.id),
            ScenarioAction::Status(status) => format!("scenario {}: HTTP {status}", self.id),
            ScenarioAction::Delay => format!("scenario {}: delayed", self.id),
        }
    }
}

impl Armed {
    fn view(&self) -> ScenarioView {
        ScenarioView {
            id: self.id.clone(),
            spec: self.spec.clone(),
            fired: self.fired,
            remaining: self.remaining,
            state: if self.spent() { "spent" } else { "armed" }.to_owned(),
            armed_at: self.armed_at,
        }
    }

    fn spent(&self) -> bool {
        self.remaining == Some(0)
    }

    /// Whether this request fires it: it matches, and wins its draw.
    fn fires(&mut self, request: &Trigger<'_>) -> bool {
        if self.spent() || !self.spec.when.matches(request) {
            return false;
        }
        if let Some(applies) = self.applies_to()
            && !applies.contains(&request.message_type)
        {
            return false;
        }
        let probability = self.spec.probability.unwrap_or(1.0);
        probability >= 1.0 || draw(&mut self.rng) < probability
    }

    /// The requests a catalogue error answers; `None` (all of them) for a status or a delay.
    fn applies_to(&self) -> Option<&'static [&'static str]> {
        match self.action {
            ScenarioAction::Error(entry) => Some(entry.message_types),
            _ => None,
        }
    }
}

/// A uniform draw in [0, 1) from SplitMix64.
fn draw(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Checks the scenarios of the service serving `http` against `request` and waits out the delay of the one
/// that fired, if any. A `Delay` scenario is then done: the handler serves the request as usual.
pub async fn fire(http: &HttpRequest, request: &Trigger<'_>) -> Option<Fired> {
    let fired = Scenarios::of(http)?.check(request)?;
    if let Some(flow) = crate::flow::current() {
        let answer = match fired.action {
            ScenarioAction::Error(armed) => armed.error.id,
            ScenarioAction::Status(_) => "status",
            ScenarioAction::Delay => "delay",
        };
        flow.recorders.coverage.scenario(flow.service, answer);
    }
    fired.hold().await;
    Some(fired)
}

impl Scenarios {
    pub fn new(service: &'static str) -> Scenarios {
        Scenarios {
            service,
            registry: Arc::new(Mutex::new(Registry::default())),
            live: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The scenarios of the service serving `request`.
    pub fn of(request: &HttpRequest) -> Option<Scenarios> {
        request
            .app_data::<web::Data<ControlPlane>>()
            .map(|control| control.scenarios.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Arms `spec`; the error is a sentence for people.
    pub fn arm(&self, spec: ScenarioSpec, now: UnixTime) -> Result<ScenarioView, String> {
        let action = spec.validate(self.service)?;
        let mut registry = self.lock();
        if registry.scenarios.len() >= MAX_SCENARIOS {
            return Err(format!(
                "{MAX_SCENARIOS} scenarios are armed here already; clear some first"
            ));
        }
        registry.last += 1;
        let armed = Armed {
            id: format!("s{}", registry.last),
            rng: spec.rng_seed.unwrap_or_else(rand::random),
            remaining: spec.times,
            spec,
            action,
            fired: 0,
            armed_at: now,
        };
        let view = armed.view();
        registry.scenarios.push(armed);
        self.live.fetch_add(1, Ordering::SeqCst);
        tracing::info!(service = self.service, scenario = %view.id, "scenario armed");
        Ok(view)
    }

    /// Every scenario, in arming order.
    pub fn list(&self) -> Vec<ScenarioView> {
        self.lock().scenarios.iter().map(Armed::view).collect()
    }

    /// The scenarios that can still fire, as specs to arm again elsewhere (`times` is what is left).
    pub fn armed_specs(&self) -> Vec<ScenarioSpec> {
        self.lock()
            .scenarios
            .iter()
            .filter(|s| !s.spent())
            .map(|s| ScenarioSpec {
                times: s.remaining,
                ..s.spec.clone()
            })
            .collect()
    }

    /// Checks every spec, then replaces all scenarios with them; nothing changes if one is refused.
    pub fn replace(&self, specs: &[ScenarioSpec], now: UnixTime) -> Result<usize, String> {
        for (i, spec) in specs.iter().enumerate() {
            spec.validate(self.service)
                .map_err(|e| format!("scenarios[{i}]: {e}"))?;
        }
        if specs.len() > MAX_SCENARIOS {
            return Err(format!("more than {MAX_SCENARIOS} scenarios"));
        }
        self.clear();
        for spec in specs {
            self.arm(spec.clone(), now)?;
        }
        Ok(specs.len())
    }

    /// Removes one scenario; `false` when there is none with that id.
    pub fn disarm(&self, id: &str) -> bool {
        let mut registry = self.lock();
        let Some(at) = registry.scenarios.iter().position(|s| s.id == id) else {
            return false;
        };
        let removed = registry.scenarios.remove(at);
        if !removed.spent() {
            self.live.fetch_sub(1, Ordering::SeqCst);
        }
        true
    }

    /// Removes every scenario; returns how many there were.
    pub fn clear(&self) -> usize {
        let mut registry = self.lock();
        let count = registry.scenarios.len();
        registry.scenarios.clear();
        self.live.store(0, Ordering::SeqCst);
        count
    }

    /// The first scenario, in arming order, that `request` fires; counted as fired.
    pub fn check(&self, request: &Trigger<'_>) -> Option<Fired> {
        if self.live.load(Ordering::SeqCst) == 0 {
            return None;
        }
        let mut registry = self.lock();
        let at = registry
            .scenarios
            .iter_mut()
            .position(|s| s.fires(request))?;
        let armed = &mut registry.scenarios[at];
        armed.fired += 1;
        if let Some(remaining) = &mut armed.remaining {
            *remaining -= 1;
            if *remaining == 0 {
                self.live.fetch_sub(1, Ordering::SeqCst);
            }
        }
        Some(Fired {
            id: armed.id.clone(),
            action: armed.action,
            delay: armed.spec.delay_ms.map(Duration::from_millis),
            when: armed.spec.when.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::envelope::Message;
    use protocol::mobile::MobileProvisionRequest;
    use protocol::provision::PollingRequest;

    const NOW: UnixTime = UnixTime::from_secs(1_700_000_000);

    fn spec(json: &str) -> ScenarioSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn times_counts_down_then_the_scenario_is_spent() {
        let scenarios = Scenarios::new("ftm");
        let armed = scenarios
            .arm(
                spec(r#"{"error": "ftm.mobile.code-invalid", "times": 2}"#),
                NOW,
            )
            .unwrap();
        assert_eq!(armed.id, "s1");
        let mobile = Trigger::new(MobileProvisionRequest::TYPE);
        let polling = Trigger::new(PollingRequest::TYPE);
        assert!(
            scenarios.check(&polling).is_none(),
            "error 40 only answers phones"
        );
        assert_eq!(scenarios.check(&mobile).unwrap().id, "s1");
        assert!(scenarios.check(&mobile).is_some());
        assert!(scenarios.check(&mobile).is_none());
        let listed = scenarios.list();
        assert_eq!((listed[0].fired, listed[0].remaining), (2, Some(0)));
        assert_eq!(listed[0].state, "spent");
    }

    #[test]
    fn first_armed_wins_and_disarm_clear_work() {
        let scenarios = Scenarios::new("push");
        scenarios.arm(spec(r#"{"status": 503}"#), NOW).unwrap();
        scenarios
            .arm(spec(r#"{"error": "push.relay.unregistered"}"#), NOW)
            .unwrap();
        let push = Trigger::new("push");
        assert_eq!(
            scenarios.check(&push).unwrap().action,
            ScenarioAction::Status(503)
        );
        assert!(scenarios.disarm("s1"));
        assert!(!scenarios.disarm("s1"));
        assert_eq!(scenarios.check(&push).unwrap().id, "s2");
        assert_eq!(scenarios.clear(), 1);
        assert!(scenarios.check(&push).is_none());
        assert!(scenarios.arm(spec(r#"{"status": 200}"#), NOW).is_err());
    }

    #[test]
    fn probability_draws_repeat_with_the_same_seed() {
        let fire_pattern = |seed: u64| {
            let scenarios = Scenarios::new("push");
            let json = format!(r#"{{"status": 500, "probability": 0.3, "rng_seed": {seed}}}"#);
            scenarios.arm(spec(&json), NOW).unwrap();
            (0..400)
                .map(|_| scenarios.check(&Trigger::new("push")).is_some())
                .collect::<Vec<bool>>()
        };
        let first = fire_pattern(7);
        assert_eq!(first, fire_pattern(7));
        assert_ne!(first, fire_pattern(8));
        let fired = first.iter().filter(|f| **f).count();
        assert!(
            (60..180).contains(&fired),
            "fired {fired} of 400 at p = 0.3"
        );
    }
}
