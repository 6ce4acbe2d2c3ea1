//! `fortimock demo --fac`: the FortiAuthenticator chapter, told through the public HTTP APIs: a FAC imports
//! a license over its REST API as a script would, creates alice and assigns her a token (the activation
//! message lands in its outbox), her phone activates it, `auth/` takes her code, and then she moves her
//! token to a new phone (token transfer: the code mailed by the FAC, redeemed once, the old phone emptied).

use anyhow::{Context, bail};
use protocol::admin::ErrorBody;
use protocol::appliance::{ApplianceMode, NewAppliance};
use protocol::fac_admin::FacChange;
use protocol::fac_rest::TokenPolicyChange;
use protocol::ledger::LicenseSpec;
use protocol::paths;
use protocol::phone::NewPhone;
use serde_json::{Value, json};

use crate::client::SuiteClient;

fn step(number: u32, title: &str) {
    println!();
    println!("{number}. {title}");
}

/// A script's view of the FAC: the REST API's base URL and the admin's key. Its calls stay raw on purpose:
/// they are a third-party script's requests to the FAC's REST API (JSON with no content type, HTTP Basic),
/// not fortimock's own API, which the typed clients cover.
struct Script<'a> {
    client: &'a SuiteClient,
    base: String,
    key: String,
}

impl Script<'_> {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .client
            .http()
            .request(method, &url)
            .basic_auth("admin", Some(&self.key));
        if let Some(body) = body {
            // As scripts do: JSON text with no content type.
            request = request.body(body.to_string());
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("calling {url}"))?;
        let status = response.status().as_u16();
        let value = response.json().await.unwrap_or(Value::Null);
        Ok((status, value))
    }
}

async fn newest_message(client: &SuiteClient, serial: &str) -> anyhow::Result<(String, String)> {
    let outbox = client.fac(serial).outbox().await?;
    let message = outbox.messages.last().context("the FAC sent nothing")?;
    Ok((message.to.clone(), message.code.clone()))
}

async fn new_phone(client: &SuiteClient) -> anyhow::Result<String> {
    let phone = client.phones().create(&NewPhone::default()).await?;
    Ok(phone.id.to_string())
}

async fn otp(client: &SuiteClient, phone: &str, token: &str) -> anyhow::Result<String> {
    let view = client.phones().otp(phone, Some(token)).await?;
    Ok(view.otp)
}

pub async fn run(client: &SuiteClient) -> anyhow::Result<()> {
    println!("fortimock demo --fac: a FortiAuthenticator driven through its REST API");
    let appliance_url = reqwest::Url::parse(client.url("appliance")?)?;
    let host = appliance_url
        .host_str()
        .context("the appliance URL has no host")?
        .to_owned();
    let port = appliance_url.port().unwrap_or(443);

    step(
        1,
        "FortiCare issues a license; a FortiAuthenticator gets a host name and an API key",
    );
    let spec = LicenseSpec {
        id: None,
        code: None,
        seats: 2,
        valid_until: None,
        note: Some("fortimock demo --fac".into()),
        owner: None,
        owner_peers: Vec::new(),
        shipped: None,
    };
    let license = client.licenses().create(&spec).await?;
    let code = license
        .summary
        .code
        .context("a purchased license has a code")?
        .to_string();
    let fac = client
        .appliances()
        .create(&NewAppliance {
            mode: Some(ApplianceMode::Fortiauthenticator),
            ..NewAppliance::default()
        })
        .await?;
    let serial = fac.serial.to_string();
    let named = client
        .fac(&serial)
        .change(&FacChange {
            host_name: Some(host.clone()),
            token_policy: Some(TokenPolicyChange {
                ftm_transfer_enabled: Some(true),
                ..TokenPolicyChange::default()
            }),
            ..FacChange::default()
        })
        .await;
    if let Err(e) = named {
        bail!(
            "{e:#}\n(another FortiAuthenticator answers to {host}: `fortimock reset` and run the chapter again)"
        );
    }
    let issued = client.fac(&serial).api_key(None).await?;
    let script = Script {
        client,
        base: format!("https://{host}:{port}{}", paths::FAC_API),
        key: issued.api_key,
    };
    println!("   {serial} answers {} (admin + API key)", script.base);

    step(
        2,
        "The script imports the license: POST fortitokenmobilelicenses/",
    );
    let (status, answer) = script
        .call(
            reqwest::Method::POST,
            "fortitokenmobilelicenses/",
            Some(json!({"license": code})),
        )
        .await?;
    println!("   {status} {answer}");
    let (_, page) = script
        .call(reqwest::Method::GET, "fortitokens/", None)
        .await?;
    println!(
        "   GET fortitokens/: {} tokens, meta {}",
        page["meta"]["total_count"], page["meta"]
    );

    step(
        3,
        "The script creates alice and assigns her a token; the FAC mails the activation code",
    );
    let (status, created) = script
        .call(
            reqwest::Method::POST,
            "localusers/",
            Some(json!({"username": "alice", "email": "alice@example.test", "password": "demo-Password-1"})),
        )
        .await?;
    println!(
        "   POST localusers/ → {status} with statue {}",
        created[0]["statue"]
    );
    let id = created[0]["id"].as_u64().context("the user's id")?;
    let (status, user) = script
        .call(
            reqwest::Method::PATCH,
            &format!("localusers/{id}/"),
            Some(json!({"token_auth": true, "token_type": "ftm", "ftm_act_method": "email"})),
        )
        .await?;
    let token = user["token_serial"]
        .as_str()
        .context("a token was assigned")?
        .to_owned();
    let (to, activation) = newest_message(client, &serial).await?;
    println!("   PATCH → {status}: {token} for alice; activation code {activation} mailed to {to}");

    step(
        4,
        "Alice's phone activates it; the script authenticates her with auth/",
    );
    let phone = new_phone(client).await?;
    client
        .phones()
        .activate(&phone, &activation)
        .await?
        .map_err(|refusal| anyhow::anyhow!("{} ({})", refusal.message, refusal.error_id))?;
    let code = otp(client, &phone, &token).await?;
    let (status, answer) = script
        .call(
            reqwest::Method::POST,
            "auth/",
            Some(json!({"username": "alice", "password": "demo-Password-1", "token_code": code})),
        )
        .await?;
    println!("   phone {phone} shows {code}; POST auth/ → {status} {answer}");
    if status != 200 {
        bail!("alice was refused");
    }

    step(5, "Alice moves her token to a new phone (token transfer)");
    let started = client
        .token_transfers()
        .start(&phone, &format!("{host}:{port}"), &[])
        .await?
        .map_err(refused)?;
    let (to, transfer_code) = newest_message(client, &serial).await?;
    println!(
        "   transfer {} started; the FAC sent the transfer code {transfer_code} to {to} by {}",
        started.transfer_id,
        started.method.unwrap_or_default()
    );
    let new = new_phone(client).await?;
    let transfers = client.token_transfers();
    transfers
        .complete(&new, &transfer_code)
        .await?
        .map_err(refused)?;
    let again = transfers.complete(&new, &transfer_code).await?;
    println!(
        "   phone {new} installed {token}; the same code again: {}",
        again.err().map_or_else(
            || "accepted?!".to_owned(),
            |refusal| format!("{} ({})", refusal.message, refusal.error_id)
        )
    );
    let checked = transfers
        .check(&phone, &started.transfer_id, &[token.parse()?])
        .await?
        .map_err(refused)?;
    let old = client.phones().get(&phone).await?;
    println!(
        "   the old phone sees the transfer {} and now holds {} tokens",
        checked.status,
        old.tokens.len()
    );
    let code = otp(client, &new, &token).await?;
    let (status, _) = script
        .call(
            reqwest::Method::POST,
            "auth/",
            Some(json!({"username": "alice", "password": "demo-Password-1", "token_code": code})),
        )
        .await?;
    println!("   the new phone's {code}: POST auth/ → {status}");
    println!();
    println!("Done.");
    Ok(())
}

/// A phone's refusal as the story's error.
fn refused(refusal: ErrorBody) -> anyhow::Error {
    anyhow::anyhow!("{} ({})", refusal.message, refusal.error_id)
}
