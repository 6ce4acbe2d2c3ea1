//! Hostile input, at volume: hundreds of mutated variants of every captured request (bytes flipped, cut
//! short, spliced, values swapped for other JSON types, deep nesting) thrown at every endpoint a device
//! talks to. Whatever comes in, the answer is never a 5xx, it is always JSON, and the services stay up.
//! The mutations come from a fixed seed, so a failure reproduces.

use e2e::{TestSuite, capture};
use protocol::paths;
use protocol::paths::{MOBILE, PROCESS, RELAY_PUSH};
use serde_json::Value;

/// xorshift64*: a small, fixed-seed generator, so every run throws the same inputs.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// One mutated copy of `body`.
    fn mutate(&mut self, body: &str) -> Vec<u8> {
        let mut bytes = body.as_bytes().to_vec();
        match self.below(7) {
            0 => {
                let at = self.below(bytes.len());
                bytes[at] ^= 1 << self.below(8);
            }
            1 => bytes.truncate(self.below(bytes.len())),
            2 => {
                let at = self.below(bytes.len());
                let junk = [b'{', b'[', b'"', b'\\', 0xFF, b'0', b'}'][self.below(7)];
                bytes.insert(at, junk);
            }
            3 => {
                let (a, b) = (self.below(bytes.len()), self.below(bytes.len()));
                let (from, to) = (a.min(b), a.max(b));
                let span = bytes[from..to].to_vec();
                bytes.splice(to..to, span);
            }
            4 => return self.swap_value(body),
            5 => {
                let depth = 1 + self.below(200);
                return format!("{}{}{}", "{\"d\":".repeat(depth), body, "}".repeat(depth))
                    .into_bytes();
            }
            _ => {
                let once = self.swap_value_text(body);
                return self.swap_value(&once);
            }
        }
        bytes
    }

    fn swap_value_text(&mut self, body: &str) -> String {
        String::from_utf8(self.swap_value(body)).unwrap_or_else(|_| body.to_owned())
    }

    /// Replaces one value somewhere in the JSON with a value of another type.
    fn swap_value(&mut self, body: &str) -> Vec<u8> {
        let Ok(mut value) = serde_json::from_str::<Value>(body) else {
            return body.as_bytes().to_vec();
        };
        let replacement = match self.below(7) {
            0 => Value::Null,
            1 => Value::from(-1),
            2 => Value::from(u64::MAX),
            3 => Value::from(vec![Value::Null; 3]),
            4 => serde_json::json!({"nested": {"x": [1, 2]}}),
            5 => Value::from("\u{0}\u{7f}\u{1F600}".repeat(50)),
            _ => Value::from(true),
        };
        let mut slots = Vec::new();
        collect_paths(&value, &mut Vec::new(), &mut slots);
        if !slots.is_empty() {
            let path = slots[self.below(slots.len())].clone();
            if let Some(slot) = pointer_mut(&mut value, &path) {
                *slot = replacement;
            }
        }
        serde_json::to_vec(&value).unwrap()
    }
}

fn collect_paths(value: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(path.clone());
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                path.push(key.clone());
                collect_paths(item, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                collect_paths(item, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn pointer_mut<'a>(value: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    let pointer: String = path
        .iter()
        .map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1")))
        .collect();
    value.pointer_mut(&pointer)
}

/// Throws `rounds` mutations of each seed body at `url` and checks every answer.
async fn storm(
    suite: &TestSuite,
    url: &str,
    seeds: &[String],
    rounds: usize,
    mutator: &mut Mutator,
) {
    for round in 0..rounds {
        for seed in seeds {
            let body = mutator.mutate(seed);
            let response = suite
                .client
                .post(url)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = response.status();
            let text = response.text().await.unwrap();
            assert!(
                !status.is_server_error(),
                "round {round}: {status} for {}\n{text}",
                String::from_utf8_lossy(&body)
            );
            assert!(
                serde_json::from_str::<Value>(&text).is_ok(),
                "round {round}: not JSON ({status}): {text}"
            );
        }
    }
}

#[tokio::test]
async fn mutated_requests_never_break_a_service() {
    let suite = TestSuite::start().await;
    let mut mutator = Mutator(0x5EED_F0F1_2026_1122);
    let appliance_requests: Vec<String> = [
        "license-import-error16.request.json",
        "provision-not-owner.request.json",
        "polling.request.json",
    ]
    .iter()
    .map(|name| capture(name))
    .collect();
    let mobile = vec![
        capture("mobile.request.json"),
        capture("mobile-error40.response.json"),
    ];
    let push = vec![capture("push-send.request.json")];

    storm(
        &suite,
        &format!("{}{PROCESS}", suite.url("forticare")),
        &appliance_requests,
        60,
        &mut mutator,
    )
    .await;
    storm(
        &suite,
        &format!("{}{PROCESS}", suite.url("ftm")),
        &appliance_requests,
        60,
        &mut mutator,
    )
    .await;
    storm(
        &suite,
        &format!("{}{MOBILE}", suite.url("ftm")),
        &mobile,
        80,
        &mut mutator,
    )
    .await;
    storm(
        &suite,
        &format!("{}{RELAY_PUSH}", suite.url("push")),
        &push,
        150,
        &mut mutator,
    )
    .await;

    for service in ["forticare", "ftm", "push", "phone", "appliance"] {
        assert!(suite.healthy(service).await, "{service} is down");
    }
    // The ledger still answers, with the default lab's licenses unredeemed.
    let licenses: protocol::ledger::LicenseList =
        suite.admin_get("forticare", paths::ADMIN_LICENSES).await;
    assert!(
        licenses
            .licenses
            .iter()
            .filter(|l| l.id.as_str() != "EFTM000000000099")
            .all(|l| l.owner.is_none())
    );
    suite.stop().await;
}
