//! Typed clients on [`SuiteClient`] for the appliance service: the virtual FortiGates, FortiAuthenticators,
//! FortiPAMs and FortiProxies (`/appliances`: cloud operations, logins, ftm-push, hardware tokens), a
//! FortiAuthenticator's own features (`/appliances/{serial}/fac`, API keys, LDAP users, outbox, offline
//! activation, the Windows agent) and the activation messages the suite captured (`/__admin/messages`).
//! Each answer is decoded into its `protocol` type; a refusal fails the call with a
//! [`Refusal`](crate::client::Refusal).

use protocol::appliance::{
    ApplianceChange, ApplianceList, ApplianceView, DebugLog, FtmPushChange, FtmPushSettings,
    ImportOutcome, ImportRequest, LoginOutcome, LoginRequest, NewAppliance, OperationFailure,
    PollOutcome, ProvisionOutcome, ProvisionTokenRequest, UserView,
};
use protocol::fac_admin::{
    ActivationPage, AgentCacheView, AgentLogin, AgentLoginOutcome, AgentSync, ApiKeyIssued,
    ApiKeyRequest, FacChange, FacView, LdapUserCreated, NewLdapUser, Outbox, TokenLockChange,
    TokenLockView,
};
use protocol::hardware::{
    FortitokenInfo, HardwareActivate, HardwareAssign, HardwareOutcome, HardwareTokenRow,
    SeedFileImport,
};
use protocol::messages::{MessageList, MessageQuery, MessageView, MessagesCleared};
use protocol::paths;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::SuiteClient;
use crate::typed::{post_either, with_query};

impl SuiteClient {
    /// The virtual FortiGates and FortiAuthenticators (`/appliances`); operations ask for FortiOS's debug
    /// lines (`?debug=true`) unless [`Appliances::debug`] says otherwise.
    pub fn appliances(&self) -> Appliances<'_> {
        Appliances {
            client: self,
            debug: None,
        }
    }

    /// The features of virtual FortiAuthenticator `serial` that fortimock's own API drives.
    pub fn fac<'a>(&'a self, serial: &'a str) -> Fac<'a> {
        Fac {
            client: self,
            serial,
        }
    }

    /// The activation messages the suite captured (emails and SMS, `/__admin/messages` on the appliance
    /// service).
    pub fn messages(&self) -> Messages<'_> {
        Messages { client: self }
    }
}

/// The virtual appliances' API.
pub struct Appliances<'a> {
    client: &'a SuiteClient,
    /// `?debug=…` on operations and logins: `None` asks for the lines on operations (`true`) and leaves
    /// logins at the service's default.
    debug: Option<bool>,
}

impl Appliances<'_> {
    /// These calls with FortiOS's debug lines asked for (`true`) or not (`false`).
    pub fn debug(self, debug: bool) -> Self {
        Appliances {
            debug: Some(debug),
            ..self
        }
    }

    /// `path` with `?debug=…` (operations ask for the lines unless told otherwise).
    fn debugged(&self, path: String) -> String {
        format!("{path}?debug={}", self.debug.unwrap_or(true))
    }

    /// `POST /appliances`: a new virtual FortiGate (or FortiAuthenticator).
    pub async fn create(&self, spec: &NewAppliance) -> anyhow::Result<ApplianceView> {
        self.client
            .post(appliance::NAME, paths::APPLIANCES, spec)
            .await
    }

    /// `GET /appliances`.
    pub async fn list(&self) -> anyhow::Result<ApplianceList> {
        self.client.get(appliance::NAME, paths::APPLIANCES).await
    }

    /// `GET /appliances/{serial}`: the unit with its token table and users.
    pub async fn get(&self, serial: &str) -> anyhow::Result<ApplianceView> {
        self.client
            .get(appliance::NAME, &paths::fill(paths::APPLIANCE, &[serial]))
            .await
    }

    /// An operation (`POST /appliances/{serial}/<operation>?debug=…`, `template` one of `protocol::paths`'
    /// `APPLIANCE_*` operation paths): its outcome, or the failure the cloud caused (FortiOS's message and
    /// debug lines).
    pub async fn operation<B: Serialize, T: DeserializeOwned>(
        &self,
        template: &str,
        serial: &str,
        body: &B,
    ) -> anyhow::Result<Result<T, OperationFailure>> {
        let path = self.debugged(paths::fill(template, &[serial]));
        self.client.post_outcome(appliance::NAME, &path, body).await
    }

    /// `execute fortitoken-mobile import <code>`.
    pub async fn import(
        &self,
        serial: &str,
        code: &str,
    ) -> anyhow::Result<Result<ImportOutcome, OperationFailure>> {
        let body = ImportRequest {
            code: code.to_owned(),
        };
        self.operation(paths::APPLIANCE_IMPORT, serial, &body).await
    }

    /// Assigning a token (a serial, or `any`) to a user: the appliance generates the seed and provisions it.
    pub async fn provision(
        &self,
        serial: &str,
        request: &ProvisionTokenRequest,
    ) -> anyhow::Result<Result<ProvisionOutcome, OperationFailure>> {
        self.operation(paths::APPLIANCE_PROVISION, serial, request)
            .await
    }

    /// Provisioning a token again (a fresh seed and activation code).
    pub async fn renew(
        &self,
        serial: &str,
        request: &ProvisionTokenRequest,
    ) -> anyhow::Result<Result<ProvisionOutcome, OperationFailure>> {
        self.operation(paths::APPLIANCE_RENEW, serial, request)
            .await
    }

    /// `execute fortitoken-mobile poll`.
    pub async fn poll(
        &self,
        serial: &str,
    ) -> anyhow::Result<Result<PollOutcome, OperationFailure>> {
        self.operation(paths::APPLIANCE_POLL, serial, &serde_json::json!({}))
            .await
    }

    /// A user logging in (with an OTP, or a push): the HTTP status (200, or 401 when refused) and the
    /// outcome.
    pub async fn login(
        &self,
        serial: &str,
        request: &LoginRequest,
    ) -> anyhow::Result<(u16, LoginOutcome)> {
        let path = paths::fill(paths::APPLIANCE_LOGIN, &[serial]);
        let path = match self.debug {
            Some(debug) => format!("{path}?debug={debug}"),
            None => path,
        };
        post_either(self.client, appliance::NAME, &path, request).await
    }

    /// `PATCH /appliances/{serial}`: the unit's FortiToken server and FortiGuard address set again, or
    /// settings put back on the running suite's.
    pub async fn change(
        &self,
        serial: &str,
        change: &ApplianceChange,
    ) -> anyhow::Result<ApplianceView> {
        self.client
            .patch(
                appliance::NAME,
                &paths::fill(paths::APPLIANCE, &[serial]),
                change,
            )
            .await
    }

    /// `config system ftm-push`.
    pub async fn ftm_push(
        &self,
        serial: &str,
        change: &FtmPushChange,
    ) -> anyhow::Result<FtmPushSettings> {
        self.client
            .patch(
                appliance::NAME,
                &paths::fill(paths::APPLIANCE_FTM_PUSH, &[serial]),
                change,
            )
            .await
    }

    /// `POST /appliances/{serial}/users/{user}/unlock`: a locked-out user unlocked.
    pub async fn unlock(&self, serial: &str, user: &str) -> anyhow::Result<UserView> {
        self.client
            .post(
                appliance::NAME,
                &paths::fill(paths::APPLIANCE_UNLOCK, &[serial, user]),
                &serde_json::json!({}),
            )
            .await
    }

    /// `DELETE /appliances/{serial}/tokens/{token}`: `config user fortitoken` / `delete`.
    pub async fn delete_token(&self, serial: &str, token: &str) -> anyhow::Result<()> {
        self.client
            .delete(
                appliance::NAME,
                &paths::fill(paths::APPLIANCE_TOKEN, &[serial, token]),
            )
            .await
    }

    /// `GET /appliances/{serial}/debug`: the appliance's recent FortiOS-style debug lines.
    pub async fn debug_log(&self, serial: &str) -> anyhow::Result<DebugLog> {
        self.client
            .get(
                appliance::NAME,
                &paths::fill(paths::APPLIANCE_DEBUG, &[serial]),
            )
            .await
    }

    /// `POST /appliances/{serial}/hardware/activate?debug=…`: `execute fortitoken activate <serials>`.
    pub async fn hardware_activate(
        &self,
        serial: &str,
        serials: &[String],
    ) -> anyhow::Result<HardwareOutcome> {
        let path = self.debugged(paths::fill(paths::APPLIANCE_HARDWARE_ACTIVATE, &[serial]));
        self.client
            .post(
                appliance::NAME,
                &path,
                &HardwareActivate {
                    serials: serials.to_vec(),
                },
            )
            .await
    }

    /// `POST /appliances/{serial}/hardware/import-seed-file`: a seed file imported offline.
    pub async fn import_seed_file(
        &self,
        serial: &str,
        zip: &[u8],
        password: &str,
    ) -> anyhow::Result<HardwareOutcome> {
        use base64::Engine as _;
        self.client
            .post(
                appliance::NAME,
                &paths::fill(paths::APPLIANCE_HARDWARE_IMPORT, &[serial]),
                &SeedFileImport {
                    file: base64::engine::general_purpose::STANDARD.encode(zip),
                    password: password.to_owned(),
                },
            )
            .await
    }

    /// `POST /appliances/{serial}/hardware/assign`: a hardware token (or `any`) given to `user`.
    pub async fn hardware_assign(
        &self,
        serial: &str,
        token: &str,
        user: &str,
    ) -> anyhow::Result<HardwareTokenRow> {
        self.client
            .post(
                appliance::NAME,
                &paths::fill(paths::APPLIANCE_HARDWARE_ASSIGN, &[serial]),
                &HardwareAssign {
                    token: token.to_owned(),
                    user: user.to_owned(),
                },
            )
            .await
    }

    /// `GET /appliances/{serial}/fortitoken-info`: `diagnose fortitoken info`.
    pub async fn fortitoken_info(&self, serial: &str) -> anyhow::Result<FortitokenInfo> {
        self.client
            .get(
                appliance::NAME,
                &paths::fill(paths::APPLIANCE_FORTITOKEN_INFO, &[serial]),
            )
            .await
    }
}

/// fortimock's own API for one virtual FortiAuthenticator.
pub struct Fac<'a> {
    client: &'a SuiteClient,
    serial: &'a str,
}

impl Fac<'_> {
    fn path(&self, template: &str, more: &[&str]) -> String {
        let mut values = vec![self.serial];
        values.extend_from_slice(more);
        paths::fill(template, &values)
    }

    /// `POST /appliances/{serial}/api-keys`: an API key for the REST API (for `admin`, or the default admin).
    pub async fn api_key(&self, admin: Option<&str>) -> anyhow::Result<ApiKeyIssued> {
        self.client
            .post(
                appliance::NAME,
                &self.path(paths::APPLIANCE_API_KEYS, &[]),
                &ApiKeyRequest {
                    admin: admin.map(str::to_owned),
                },
            )
            .await
    }

    /// `GET /appliances/{serial}/fac`: its host name, provisioning settings, token policy and admins.
    pub async fn view(&self) -> anyhow::Result<FacView> {
        self.client
            .get(appliance::NAME, &self.path(paths::APPLIANCE_FAC, &[]))
            .await
    }

    /// `PATCH /appliances/{serial}/fac`.
    pub async fn change(&self, change: &FacChange) -> anyhow::Result<FacView> {
        self.client
            .patch(
                appliance::NAME,
                &self.path(paths::APPLIANCE_FAC, &[]),
                change,
            )
            .await
    }

    /// `POST /appliances/{serial}/ldap-users`: a user as the FAC's LDAP synchronisation would bring it.
    pub async fn ldap_user(&self, user: &NewLdapUser) -> anyhow::Result<LdapUserCreated> {
        self.client
            .post(
                appliance::NAME,
                &self.path(paths::APPLIANCE_LDAP_USERS, &[]),
                user,
            )
            .await
    }

    /// `PATCH /appliances/{serial}/fac/tokens/{token}`: a token locked (it cannot be assigned) or unlocked.
    pub async fn lock_token(&self, token: &str, locked: bool) -> anyhow::Result<TokenLockView> {
        self.client
            .patch(
                appliance::NAME,
                &self.path(paths::APPLIANCE_FAC_TOKEN, &[token]),
                &TokenLockChange { locked },
            )
            .await
    }

    /// `GET /appliances/{serial}/outbox`: the activation, token and transfer codes the FAC sent.
    pub async fn outbox(&self) -> anyhow::Result<Outbox> {
        self.client
            .get(appliance::NAME, &self.path(paths::APPLIANCE_OUTBOX, &[]))
            .await
    }

    /// `GET /appliances/{serial}/activation/{token}`: the offline activation page.
    pub async fn activation(&self, token: &str) -> anyhow::Result<ActivationPage> {
        self.client
            .get(
                appliance::NAME,
                &self.path(paths::APPLIANCE_ACTIVATION, &[token]),
            )
            .await
    }

    /// `GET /appliances/{serial}/activation/{token}?format=png`: its QR code, as a PNG.
    pub async fn activation_png(&self, token: &str) -> anyhow::Result<Vec<u8>> {
        let path = with_query(
            &self.path(paths::APPLIANCE_ACTIVATION, &[token]),
            &[("format", "png")],
        )?;
        self.client.get_bytes(appliance::NAME, &path).await
    }

    /// `POST /appliances/{serial}/agents/{agent}/sync`: the Windows agent caches `user`'s codes.
    pub async fn agent_sync(&self, agent: &str, user: &str) -> anyhow::Result<AgentCacheView> {
        self.client
            .post(
                appliance::NAME,
                &self.path(paths::APPLIANCE_AGENT_SYNC, &[agent]),
                &AgentSync {
                    user: user.to_owned(),
                },
            )
            .await
    }

    /// `POST /appliances/{serial}/agents/{agent}/login`: an offline login at the agent; the HTTP status and
    /// the outcome (a refused login is an outcome too).
    pub async fn agent_login(
        &self,
        agent: &str,
        login: &AgentLogin,
    ) -> anyhow::Result<(u16, AgentLoginOutcome)> {
        post_either(
            self.client,
            appliance::NAME,
            &self.path(paths::APPLIANCE_AGENT_LOGIN, &[agent]),
            login,
        )
        .await
    }
}

/// The activation messages the suite captured.
pub struct Messages<'a> {
    client: &'a SuiteClient,
}

impl Messages<'_> {
    /// `GET /__admin/messages?…`: the captured messages `query` selects, oldest first.
    pub async fn list(&self, query: &MessageQuery) -> anyhow::Result<MessageList> {
        let path = with_query(paths::ADMIN_MESSAGES, query)?;
        self.client.get(appliance::NAME, &path).await
    }

    /// `GET /__admin/messages/{id}`.
    pub async fn get(&self, id: &str) -> anyhow::Result<MessageView> {
        self.client
            .get(appliance::NAME, &paths::fill(paths::ADMIN_MESSAGE, &[id]))
            .await
    }

    /// `DELETE /__admin/messages/{id}`: the message removed.
    pub async fn remove(&self, id: &str) -> anyhow::Result<MessageView> {
        self.client
            .delete_json(appliance::NAME, &paths::fill(paths::ADMIN_MESSAGE, &[id]))
            .await
    }

    /// `GET /__admin/messages/{id}/message.eml`: the raw email.
    pub async fn eml(&self, id: &str) -> anyhow::Result<Vec<u8>> {
        self.client
            .get_bytes(
                appliance::NAME,
                &paths::fill(paths::ADMIN_MESSAGE_EML, &[id]),
            )
            .await
    }

    /// `GET /__admin/messages/{id}/qr.png`: the QR code the message carries.
    pub async fn qr(&self, id: &str) -> anyhow::Result<Vec<u8>> {
        self.client
            .get_bytes(
                appliance::NAME,
                &paths::fill(paths::ADMIN_MESSAGE_QR, &[id]),
            )
            .await
    }

    /// `DELETE /__admin/messages`: every captured message removed.
    pub async fn clear(&self) -> anyhow::Result<MessagesCleared> {
        self.client
            .delete_json(appliance::NAME, paths::ADMIN_MESSAGES)
            .await
    }
}
