//! The mixed write load: workers that pick a write the ledger allows (create and import licenses, provision
//! tokens directly and through virtual appliances, redeem codes as phones and through virtual phones, create
//! and delete phones, create appliances, register and delete push devices, push), send it through the public
//! HTTP APIs, and record the answer: acknowledged, refused, or left in doubt by a kill.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use protocol::id::MobileId;
use protocol::ledger::LicenseSpec;
use protocol::provision::ProvisionToken;
use protocol::push::{PushMessage, PushRequest};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::acknowledged::{Device, Fact, Ledger, License, Phone, Route, TokenState};
use crate::suite_api::{Answer, SuiteApi};
use crate::tally::{Finding, Tally};

/// The ledger and the tally, shared by the workers.
pub struct Shared {
    pub ledger: Mutex<Ledger>,
    pub tally: Mutex<Tally>,
    /// Requests sent and not answered yet.
    pub in_flight: AtomicU64,
    /// Set once the process is killed: workers finish the request they are in and stop.
    pub stop: AtomicBool,
}

impl Shared {
    pub fn new(ledger: Ledger, tally: Tally) -> Shared {
        Shared {
            ledger: Mutex::new(ledger),
            tally: Mutex::new(tally),
            in_flight: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        }
    }

    pub fn into_parts(self) -> (Ledger, Tally) {
        (
            self.ledger
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner),
            self.tally
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

/// How an appliance's license import travels.
#[derive(Debug, Clone, Copy)]
enum Via {
    /// Straight to forticare.
    Forticare,
    /// To ftm, which forwards it.
    Ftm,
    /// Through the virtual appliance that owns it.
    Appliance,
}

/// One write.
#[derive(Debug)]
enum Write {
    CreateLicense {
        id: String,
        code: String,
        seats: u32,
        owner: String,
        route: Route,
    },
    Import {
        license: String,
        owner: String,
        code: String,
        via: Via,
    },
    Provision {
        owner: String,
        /// (token, seed hex).
        tokens: Vec<(String, String)>,
    },
    ApplianceProvision {
        appliance: String,
        token: String,
        user: String,
    },
    Download {
        token: String,
        /// The code as provisioning answered it (base32).
        code: String,
        /// The code as the phone sends it: as typed, or its payload in 16 hex digits as the real app does.
        sent: String,
        seed: Option<String>,
        was: Fact,
        mobile_id: String,
    },
    PhoneActivate {
        token: String,
        code: String,
        seed: Option<String>,
        was: Fact,
        phone: String,
    },
    CreatePhone {
        name: String,
    },
    DeletePhone {
        name: String,
    },
    CreateAppliance {
        serial: String,
    },
    RegisterDevice {
        id: String,
    },
    DeleteDevice {
        id: String,
    },
    Push {
        id: String,
        request: PushRequest,
    },
}

/// Runs `workers` workers against `api` until `shared.stop` is set, each with its own RNG drawn from `seed`.
pub async fn run(api: SuiteApi, shared: Arc<Shared>, workers: usize, seed: u64) {
    let tasks: Vec<_> = (0..workers)
        .map(|n| {
            let api = api.clone();
            let shared = shared.clone();
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(seed ^ (n as u64).wrapping_mul(0x9E37_79B9));
                while !shared.stop.load(Ordering::SeqCst) {
                    let planned = {
                        let mut ledger = lock(&shared.ledger);
                        plan(&mut ledger, &mut rng)
                    };
                    let Some(write) = planned else {
                        tokio::task::yield_now().await;
                        continue;
                    };
                    shared.in_flight.fetch_add(1, Ordering::SeqCst);
                    let answer = send(&api, &write).await;
                    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
                    let mut ledger = lock(&shared.ledger);
                    let mut tally = lock(&shared.tally);
                    settle(&mut ledger, &mut tally, write, answer);
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A made-up serial of a lone FortiGate VM (`FGVM01TM` + 8 digits), for direct imports.
fn direct_serial(ledger: &mut Ledger) -> String {
    format!("FGVM01TM{:08}", ledger.fresh_number())
}

fn random_hex(rng: &mut impl Rng, bytes: usize) -> String {
    let data: Vec<u8> = (0..bytes).map(|_| rng.r#gen()).collect();
    hex::encode(data)
}

/// An FCM registration token in its real shape.
pub fn registration_id(rng: &mut impl Rng) -> String {
    const URL_SAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut pick = |n: usize| -> String {
        (0..n)
            .map(|_| URL_SAFE[rng.gen_range(0..URL_SAFE.len())] as char)
            .collect()
    };
    format!("{}:APA91b{}", pick(11), pick(60))
}

/// Picks a write the ledger allows, taking what it uses out of the pools.
fn plan(ledger: &mut Ledger, rng: &mut impl Rng) -> Option<Write> {
    #[derive(Clone, Copy)]
    enum Kind {
        CreateLicense,
        Import,
        Provision,
        Download,
        PhoneActivate,
        CreatePhone,
        DeletePhone,
        CreateAppliance,
        RegisterDevice,
        DeleteDevice,
        Push,
    }
    let deletable_device = ledger.live_devices.iter().position(|id| {
        ledger
            .devices
            .get(id)
            .is_some_and(|d| d.in_flight == 0 && d.pushes.len() >= 60)
    });
    let choices = [
        (
            Kind::CreateLicense,
            if ledger.importable.len() < 8 { 3 } else { 0 },
        ),
        (
            Kind::Import,
            if ledger.importable.is_empty() { 0 } else { 4 },
        ),
        (Kind::Provision, if ledger.free.is_empty() { 0 } else { 6 }),
        (
            Kind::Download,
            if ledger.escrowed.is_empty() { 0 } else { 4 },
        ),
        (
            Kind::PhoneActivate,
            if ledger.escrowed.is_empty() || ledger.idle_phones.is_empty() {
                0
            } else {
                2
            },
        ),
        (
            Kind::CreatePhone,
            if ledger.idle_phones.len() < 10 { 2 } else { 0 },
        ),
        (
            Kind::DeletePhone,
            if ledger.idle_phones.len() > 4 { 1 } else { 0 },
        ),
        (
            Kind::CreateAppliance,
            if ledger.live_appliances.len() < 12 {
                1
            } else {
                0
            },
        ),
        (
            Kind::RegisterDevice,
            if ledger.live_devices.len() < 6 { 1 } else { 0 },
        ),
        (
            Kind::DeleteDevice,
            if deletable_device.is_some() { 3 } else { 0 },
        ),
        (
            Kind::Push,
            if ledger.live_devices.is_empty() { 0 } else { 6 },
        ),
    ];
    let total: u32 = choices.iter().map(|(_, w)| w).sum();
    if total == 0 {
        return None;
    }
    let mut draw = rng.gen_range(0..total);
    let kind = choices
        .iter()
        .find(|(_, w)| {
            if draw < *w {
                true
            } else {
                draw -= w;
                false
            }
        })
        .map(|(k, _)| *k)?;
    match kind {
        Kind::CreateLicense => {
            let n = ledger.fresh_number();
            let route = if !ledger.live_appliances.is_empty() && rng.gen_bool(0.3) {
                Route::Appliance
            } else {
                Route::Direct
            };
            let owner = match route {
                Route::Appliance => ledger.live_appliances.choose(rng)?.clone(),
                Route::Direct => direct_serial(ledger),
            };
            let code = random_hex(rng, 10).to_ascii_uppercase();
            let code = code
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("-");
            Some(Write::CreateLicense {
                // EFTM + 12 digits: 6 random ones, then the run's counter, so ids never collide.
                id: format!("EFTM{:06}{:06}", rng.gen_range(0..1_000_000), n % 1_000_000),
                code,
                seats: rng.gen_range(1..=6),
                owner,
                route,
            })
        }
        Kind::Import => {
            let index = rng.gen_range(0..ledger.importable.len());
            let id = ledger.importable.swap_remove(index);
            let license = ledger.licenses.get_mut(&id)?;
            license.busy = true;
            let via = match license.route {
                Route::Appliance => Via::Appliance,
                Route::Direct if rng.gen_bool(0.5) => Via::Ftm,
                Route::Direct => Via::Forticare,
            };
            Some(Write::Import {
                license: id,
                owner: license.owner.clone(),
                code: license.code.clone(),
                via,
            })
        }
        Kind::Provision => {
            let index = rng.gen_range(0..ledger.free.len());
            let first = ledger.free.swap_remove(index);
            let license_id = ledger.tokens.get(&first)?.license.clone();
            let license = ledger.licenses.get(&license_id)?;
            let owner = license.owner.clone();
            if license.route == Route::Appliance {
                let user = format!("user{}", ledger.fresh_number());
                ledger.tokens.get_mut(&first)?.busy = true;
                return Some(Write::ApplianceProvision {
                    appliance: owner,
                    token: first,
                    user,
                });
            }
            // Up to three free tokens of the same license in one request, as FortiOS batches them.
            let mut serials = vec![first];
            let wanted = rng.gen_range(1..=3);
            let mut i = 0;
            while serials.len() < wanted && i < ledger.free.len().min(64) {
                let same = ledger
                    .tokens
                    .get(&ledger.free[i])
                    .is_some_and(|t| t.license == license_id);
                if same {
                    serials.push(ledger.free.swap_remove(i));
                } else {
                    i += 1;
                }
            }
            let mut tokens = Vec::new();
            for serial in serials {
                ledger.tokens.get_mut(&serial)?.busy = true;
                tokens.push((serial, random_hex(rng, 20).to_ascii_uppercase()));
            }
            Some(Write::Provision { owner, tokens })
        }
        Kind::Download | Kind::PhoneActivate => {
            let index = rng.gen_range(0..ledger.escrowed.len());
            let token = ledger.escrowed.swap_remove(index);
            let entry = ledger.tokens.get_mut(&token)?;
            let TokenState::Escrowed { code, seed, fact } = entry.state.clone() else {
                return None;
            };
            entry.busy = true;
            if matches!(kind, Kind::PhoneActivate) {
                let index = rng.gen_range(0..ledger.idle_phones.len());
                let phone = ledger.idle_phones.swap_remove(index);
                if let Some(p) = ledger.phones.get_mut(&phone) {
                    p.busy = true;
                }
                return Some(Write::PhoneActivate {
                    token,
                    code,
                    seed,
                    was: fact,
                    phone,
                });
            }
            let sent = if rng.gen_bool(0.5) {
                protocol::activation::TokenActivationCode::payload_from_input(&code)
                    .map(hex::encode)
                    .unwrap_or_else(|_| code.clone())
            } else {
                code.clone()
            };
            Some(Write::Download {
                token,
                code,
                sent,
                seed,
                was: fact,
                mobile_id: random_hex(rng, 8),
            })
        }
        Kind::CreatePhone => {
            let name = format!("t-{}", ledger.fresh_number());
            ledger.phones.insert(
                name.clone(),
                Phone {
                    created: Fact::InDoubt,
                    deleted: None,
                    tokens: Default::default(),
                    busy: true,
                },
            );
            Some(Write::CreatePhone { name })
        }
        Kind::DeletePhone => {
            let index = rng.gen_range(0..ledger.idle_phones.len());
            let name = ledger.idle_phones.swap_remove(index);
            ledger.phones.get_mut(&name)?.busy = true;
            Some(Write::DeletePhone { name })
        }
        Kind::CreateAppliance => {
            let serial = format!("FGVM02TM{:08}", ledger.fresh_number());
            ledger.appliances.insert(serial.clone(), Fact::InDoubt);
            Some(Write::CreateAppliance { serial })
        }
        Kind::RegisterDevice => {
            let id = registration_id(rng);
            ledger.devices.insert(
                id.clone(),
                Device {
                    registered: Fact::InDoubt,
                    deleted: None,
                    pushes: Default::default(),
                    pushes_in_doubt: 0,
                    in_flight: 0,
                    deleting: false,
                    delete_probed: false,
                },
            );
            Some(Write::RegisterDevice { id })
        }
        Kind::DeleteDevice => {
            let id = ledger.live_devices.swap_remove(deletable_device?);
            ledger.devices.get_mut(&id)?.deleting = true;
            Some(Write::DeleteDevice { id })
        }
        Kind::Push => {
            let id = ledger.live_devices.choose(rng)?.clone();
            ledger.devices.get_mut(&id)?.in_flight += 1;
            let n = ledger.fresh_number();
            let message = PushMessage {
                ciphertext: BASE64.encode((0..48).map(|_| rng.r#gen::<u8>()).collect::<Vec<_>>()),
                sn: format!("FTKMOB{:010X}", n),
                hmac: BASE64.encode(rng.r#gen::<[u8; 32]>()),
                iv: BASE64.encode(rng.r#gen::<[u8; 16]>()),
            };
            let request = PushRequest {
                sender: format!("FGT-FGVM02TM{:08}-root", n % 100),
                registration_id: id.clone(),
                app: "FTM".into(),
                platform: "android".into(),
                message: message.to_wire(),
            };
            Some(Write::Push { id, request })
        }
    }
}

/// What came back for a write, whatever its type.
#[derive(Debug)]
enum Sent {
    License(Answer<protocol::ledger::LicenseView>),
    Import(Answer<Vec<String>>),
    Provision(Answer<protocol::provision::ProvisionResponse>),
    ApplianceProvision(Answer<protocol::appliance::ProvisionOutcome>),
    Download(Answer<protocol::mobile::MobileProvisionResponse>),
    PhoneActivate(Answer<protocol::phone::PhoneTokenView>),
    Unit(Answer<()>),
    Push(Answer<protocol::push::PushAccepted>),
}

async fn send(api: &SuiteApi, write: &Write) -> Sent {
    match write {
        Write::CreateLicense {
            id,
            code,
            seats,
            owner: _,
            route: _,
        } => {
            let spec = LicenseSpec {
                shipped: None,
                id: id.parse().ok(),
                code: code.parse().ok(),
                seats: *seats,
                valid_until: None,
                note: Some("fortimock-torture".into()),
                owner: None,
                owner_peers: Vec::new(),
            };
            Sent::License(api.create_license(&spec).await)
        }
        Write::Import {
            owner, code, via, ..
        } => {
            let answer = match via {
                Via::Forticare | Via::Ftm => {
                    let service = if matches!(via, Via::Ftm) {
                        "ftm"
                    } else {
                        "forticare"
                    };
                    api.import_license(service, owner, code).await.map(|a| {
                        Answer::Acked(
                            a.tokens
                                .unwrap_or_default()
                                .into_iter()
                                .map(|t| t.token)
                                .collect(),
                        )
                    })
                }
                Via::Appliance => api
                    .appliance_import(owner, code)
                    .await
                    .map(|a| Answer::Acked(a.tokens.iter().map(ToString::to_string).collect())),
            };
            Sent::Import(answer)
        }
        Write::Provision { owner, tokens } => {
            let tokens = tokens
                .iter()
                .map(|(token, seed)| ProvisionToken {
                    token: token.clone(),
                    seed: seed.clone(),
                    code_expire: 4320,
                    kind: "totp".into(),
                    period: 60,
                    digits: 6,
                })
                .collect();
            Sent::Provision(api.provision(owner, tokens).await)
        }
        Write::ApplianceProvision {
            appliance,
            token,
            user,
        } => Sent::ApplianceProvision(api.appliance_provision(appliance, token, user).await),
        Write::Download {
            sent, mobile_id, ..
        } => Sent::Download(api.download(mobile_id, "", sent).await),
        Write::PhoneActivate { code, phone, .. } => {
            Sent::PhoneActivate(api.activate_on_phone(phone, code).await)
        }
        Write::CreatePhone { name } => {
            Sent::Unit(api.create_phone(name).await.map(|_| Answer::Acked(())))
        }
        Write::DeletePhone { name } => Sent::Unit(api.delete_phone(name).await),
        Write::CreateAppliance { serial } => Sent::Unit(
            api.create_appliance(serial)
                .await
                .map(|_| Answer::Acked(())),
        ),
        Write::RegisterDevice { id } => {
            Sent::Unit(api.register_device(id).await.map(|_| Answer::Acked(())))
        }
        Write::DeleteDevice { id } => Sent::Unit(api.unregister_device(id).await),
        Write::Push { request, .. } => Sent::Push(api.push(request).await),
    }
}

/// How an answer that is not an acknowledgement is recorded: a 5xx or a garbled answer is a finding (and the
/// write is in doubt), no answer is a write in doubt, a refusal is the caller's to judge.
enum NotAcked {
    InDoubt,
    Refused(String),
}

fn not_acked<T: std::fmt::Debug>(tally: &mut Tally, what: &str, answer: Answer<T>) -> NotAcked {
    match answer {
        Answer::Acked(_) => NotAcked::Refused(format!("{what}: acknowledged")),
        Answer::NoAnswer(_) => NotAcked::InDoubt,
        Answer::ServerError { status, detail } => {
            tally.find(
                Finding::ServerError,
                format!("{what}: HTTP {status}: {detail}"),
            );
            NotAcked::InDoubt
        }
        Answer::Garbled(detail) => {
            tally.find(Finding::Unexpected, format!("{what}: {detail}"));
            NotAcked::InDoubt
        }
        Answer::Refused {
            status,
            code,
            detail,
        } => NotAcked::Refused(format!(
            "{what}: refused (HTTP {status}{}): {detail}",
            code.map(|c| format!(", error {c}")).unwrap_or_default()
        )),
    }
}

/// Records the answer to `write` in the ledger and puts what it used back into the pools.
fn settle(ledger: &mut Ledger, tally: &mut Tally, write: Write, sent: Sent) {
    match (write, sent) {
        (
            Write::CreateLicense {
                id,
                code,
                seats,
                owner,
                route,
            },
            Sent::License(answer),
        ) => {
            let mut license = License {
                code,
                seats,
                owner,
                route,
                created: Fact::Acked,
                import: None,
                tokens: Vec::new(),
                busy: false,
            };
            match answer {
                Answer::Acked(view) => {
                    tally.ack("licenses");
                    license.tokens = view.tokens.iter().map(ToString::to_string).collect();
                    if view.summary.id.as_str() != id || license.tokens.len() != seats as usize {
                        tally.find(
                            Finding::Unexpected,
                            format!("creating license {id}: answered {:?}", view.summary),
                        );
                    }
                    ledger.licenses.insert(id.clone(), license);
                    ledger.importable.push(id);
                }
                other => match not_acked(tally, &format!("creating license {id}"), other) {
                    NotAcked::InDoubt => {
                        license.created = Fact::InDoubt;
                        ledger.licenses.insert(id, license);
                    }
                    NotAcked::Refused(why) => tally.find(Finding::Unexpected, why),
                },
            }
        }
        (
            Write::Import {
                license: id, via, ..
            },
            Sent::Import(answer),
        ) => {
            let Some(license) = ledger.licenses.get_mut(&id) else {
                return;
            };
            license.busy = false;
            match answer {
                Answer::Acked(tokens) => {
                    tally.ack(match via {
                        Via::Appliance => "appliance imports",
                        _ => "imports",
                    });
                    if tokens != license.tokens {
                        tally.find(
                            Finding::Corrupt,
                            format!(
                                "importing {id}: tokens {tokens:?}, created with {:?}",
                                license.tokens
                            ),
                        );
                    }
                    license.import = Some(Fact::Acked);
                    ledger.tokens_imported(&id);
                }
                other => match not_acked(tally, &format!("importing {id} ({via:?})"), other) {
                    NotAcked::InDoubt => license.import = Some(Fact::InDoubt),
                    NotAcked::Refused(why) => {
                        // The license and (for an appliance) the appliance were acknowledged: a refusal means
                        // the suite lost one of them.
                        tally.find(Finding::Lost, why);
                        ledger.importable.push(id);
                    }
                },
            }
        }
        (Write::Provision { owner, tokens }, Sent::Provision(answer)) => match answer {
            Answer::Acked(response) => {
                for (serial, seed) in tokens {
                    let answered = response.tokens.iter().find(|t| t.token == serial);
                    let Some(token) = ledger.tokens.get_mut(&serial) else {
                        continue;
                    };
                    token.busy = false;
                    match answered.and_then(|t| {
                        t.error
                            .is_none()
                            .then(|| t.token_activation_code.clone())
                            .flatten()
                    }) {
                        Some(code) => {
                            tally.ack("provisions");
                            token.state = TokenState::Escrowed {
                                code,
                                seed: Some(seed),
                                fact: Fact::Acked,
                            };
                            ledger.escrowed.push(serial);
                        }
                        None => {
                            tally.find(
                                Finding::Lost,
                                format!("provisioning {serial} as {owner}: refused ({answered:?}): the import was acknowledged"),
                            );
                            ledger.free.push(serial);
                        }
                    }
                }
            }
            other => {
                let what = format!(
                    "provisioning {tokens:?} as {owner}",
                    tokens = tokens.iter().map(|t| &t.0).collect::<Vec<_>>()
                );
                let outcome = not_acked(tally, &what, other);
                for (serial, seed) in tokens {
                    let Some(token) = ledger.tokens.get_mut(&serial) else {
                        continue;
                    };
                    token.busy = false;
                    match &outcome {
                        NotAcked::InDoubt => {
                            token.state = TokenState::Provisioning { seed: Some(seed) };
                        }
                        NotAcked::Refused(_) => ledger.free.push(serial),
                    }
                }
                if let NotAcked::Refused(why) = outcome {
                    tally.find(Finding::Lost, why);
                }
            }
        },
        (
            Write::ApplianceProvision {
                appliance,
                token: serial,
                ..
            },
            Sent::ApplianceProvision(answer),
        ) => {
            let Some(token) = ledger.tokens.get_mut(&serial) else {
                return;
            };
            token.busy = false;
            match answer {
                Answer::Acked(outcome) => match outcome.token.activation_code {
                    Some(code) => {
                        tally.ack("appliance provisions");
                        token.appliance_code = Some(code.clone());
                        token.state = TokenState::Escrowed {
                            code,
                            seed: None,
                            fact: Fact::Acked,
                        };
                        ledger.escrowed.push(serial);
                    }
                    None => {
                        tally.find(
                            Finding::Unexpected,
                            format!("appliance {appliance} provisioned {serial} without an activation code"),
                        );
                        token.state = TokenState::Provisioning { seed: None };
                    }
                },
                other => {
                    match not_acked(
                        tally,
                        &format!("appliance {appliance} provisioning {serial}"),
                        other,
                    ) {
                        NotAcked::InDoubt => token.state = TokenState::Provisioning { seed: None },
                        NotAcked::Refused(why) => {
                            tally.find(Finding::Lost, why);
                            ledger.free.push(serial);
                        }
                    }
                }
            }
        }
        (
            Write::Download {
                token: serial,
                code,
                seed,
                was,
                mobile_id,
                ..
            },
            Sent::Download(answer),
        ) => {
            let Some(token) = ledger.tokens.get_mut(&serial) else {
                return;
            };
            token.busy = false;
            match answer {
                Answer::Acked(response) => {
                    tally.ack("activations");
                    let decrypted = mobile_id
                        .parse::<MobileId>()
                        .ok()
                        .and_then(|id| {
                            protocol::seed::decrypt_from_server(&response.seed, &id).ok()
                        })
                        .map(|s| s.to_hex_upper());
                    let right_seed = match &seed {
                        Some(seed) => decrypted.as_deref() == Some(seed.as_str()),
                        None => decrypted.is_some(),
                    };
                    if response.token != serial || !right_seed {
                        tally.find(
                            Finding::Corrupt,
                            format!("redeeming {code} of {serial}: got token {} with a seed that is not the provisioned one", response.token),
                        );
                    }
                    token.state = TokenState::Activated {
                        code,
                        fact: Fact::Acked,
                        probed: false,
                    };
                }
                other => match not_acked(tally, &format!("redeeming {code} of {serial}"), other) {
                    NotAcked::InDoubt => {
                        token.state = TokenState::Activating {
                            code,
                            seed,
                            was,
                            phone: None,
                        };
                    }
                    NotAcked::Refused(why) => {
                        tally.find(
                            Finding::Lost,
                            format!("{why} (the code's provisioning was {was:?})"),
                        );
                        ledger.escrowed.push(serial);
                    }
                },
            }
        }
        (
            Write::PhoneActivate {
                token: serial,
                code,
                seed,
                was,
                phone,
            },
            Sent::PhoneActivate(answer),
        ) => {
            let Some(token) = ledger.tokens.get_mut(&serial) else {
                return;
            };
            token.busy = false;
            let on_phone = ledger.phones.get_mut(&phone);
            match answer {
                Answer::Acked(view) => {
                    tally.ack("phone activations");
                    if view.serial.as_str() != serial {
                        tally.find(
                            Finding::Corrupt,
                            format!(
                                "phone {phone} redeemed {code} of {serial} and got {}",
                                view.serial
                            ),
                        );
                    }
                    token.state = TokenState::Activated {
                        code,
                        fact: Fact::Acked,
                        probed: false,
                    };
                    if let Some(p) = on_phone {
                        p.tokens.insert(serial);
                    }
                }
                other => match not_acked(
                    tally,
                    &format!("phone {phone} redeeming {code} of {serial}"),
                    other,
                ) {
                    NotAcked::InDoubt => {
                        token.state = TokenState::Activating {
                            code,
                            seed,
                            was,
                            phone: Some(phone.clone()),
                        };
                    }
                    NotAcked::Refused(why) => {
                        tally.find(Finding::Lost, format!("{why} (provisioning {was:?})"));
                        ledger.escrowed.push(serial);
                    }
                },
            }
            if let Some(p) = ledger.phones.get_mut(&phone) {
                p.busy = false;
                if p.created.happened() && p.deleted.is_none() {
                    ledger.idle_phones.push(phone);
                }
            }
        }
        (Write::CreatePhone { name }, Sent::Unit(answer)) => {
            let Some(phone) = ledger.phones.get_mut(&name) else {
                return;
            };
            phone.busy = false;
            match answer {
                Answer::Acked(()) => {
                    tally.ack("phones created");
                    phone.created = Fact::Acked;
                    ledger.idle_phones.push(name);
                }
                other => {
                    if let NotAcked::Refused(why) =
                        not_acked(tally, &format!("creating phone {name}"), other)
                    {
                        tally.find(Finding::Unexpected, why);
                        ledger.phones.remove(&name);
                    }
                }
            }
        }
        (Write::DeletePhone { name }, Sent::Unit(answer)) => {
            let Some(phone) = ledger.phones.get_mut(&name) else {
                return;
            };
            phone.busy = false;
            match answer {
                Answer::Acked(()) => {
                    tally.ack("phones deleted");
                    phone.deleted = Some(Fact::Acked);
                }
                other => match not_acked(tally, &format!("deleting phone {name}"), other) {
                    NotAcked::InDoubt => phone.deleted = Some(Fact::InDoubt),
                    NotAcked::Refused(why) => {
                        tally.find(Finding::Lost, why);
                        ledger.idle_phones.push(name);
                    }
                },
            }
        }
        (Write::CreateAppliance { serial }, Sent::Unit(answer)) => match answer {
            Answer::Acked(()) => {
                tally.ack("appliances");
                ledger.appliances.insert(serial.clone(), Fact::Acked);
                ledger.live_appliances.push(serial);
            }
            other => {
                if let NotAcked::Refused(why) =
                    not_acked(tally, &format!("creating appliance {serial}"), other)
                {
                    tally.find(Finding::Unexpected, why);
                    ledger.appliances.remove(&serial);
                }
            }
        },
        (Write::RegisterDevice { id }, Sent::Unit(answer)) => match answer {
            Answer::Acked(()) => {
                tally.ack("push devices");
                if let Some(device) = ledger.devices.get_mut(&id) {
                    device.registered = Fact::Acked;
                    ledger.live_devices.push(id);
                }
            }
            other => {
                if let NotAcked::Refused(why) =
                    not_acked(tally, &format!("registering push device {id}"), other)
                {
                    tally.find(Finding::Unexpected, why);
                    ledger.devices.remove(&id);
                }
            }
        },
        (Write::DeleteDevice { id }, Sent::Unit(answer)) => {
            let Some(device) = ledger.devices.get_mut(&id) else {
                return;
            };
            device.deleting = false;
            match answer {
                Answer::Acked(()) => {
                    tally.ack("push devices deleted");
                    device.deleted = Some(Fact::Acked);
                    device.pushes.clear();
                }
                other => match not_acked(tally, &format!("deleting push device {id}"), other) {
                    NotAcked::InDoubt => device.deleted = Some(Fact::InDoubt),
                    NotAcked::Refused(why) => {
                        tally.find(Finding::Lost, why);
                        ledger.live_devices.push(id);
                    }
                },
            }
        }
        (Write::Push { id, .. }, Sent::Push(answer)) => {
            let Some(device) = ledger.devices.get_mut(&id) else {
                return;
            };
            device.in_flight = device.in_flight.saturating_sub(1);
            match answer {
                Answer::Acked(accepted) => {
                    tally.ack("pushes");
                    device.pushes.insert(accepted.message_id, Fact::Acked);
                }
                other => match not_acked(tally, &format!("pushing to {id}"), other) {
                    NotAcked::InDoubt => device.pushes_in_doubt += 1,
                    NotAcked::Refused(why) => tally.find(Finding::Lost, why),
                },
            }
        }
        (write, sent) => tally.find(
            Finding::Unexpected,
            format!("harness bug: {write:?} answered as {sent:?}"),
        ),
    }
}
