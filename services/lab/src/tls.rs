//! HTTPS as the real services speak it: the lab CA, the one leaf certificate covering every emulated host
//! name, rustls server and client configs, and client-certificate checking.
//!
//! On first start the lab CA and the leaf are generated into `<data-dir>/tls/` (in memory when ephemeral)
//! and reused afterwards, so a CA that users trusted once stays trusted. Users may bring their own
//! certificate and key instead. Clients that present a certificate are accepted and recorded; a
//! certificate is required only when configured, and checked against a CA only when one is given. A
//! configured client CA never shuts fortimock out of its own lab: the certificates fortimock issues (its
//! services' calls to each other, the virtual phones) chain to the lab CA, which is trusted alongside.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::{Context, bail};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{DigitallySignedStruct, DistinguishedName as TlsName, RootCertStore, SignatureScheme};

/// The loopback names the leaf certificate covers besides every emulated host name
/// ([`protocol::hosts::EMULATED_HOSTS`]).
pub const LOOPBACK_NAMES: &[&str] = &["localhost", "127.0.0.1", "::1"];

/// Every host name fortimock emulates, plus loopback: what the leaf certificate covers at least.
pub fn lab_host_names() -> impl Iterator<Item = &'static str> {
    protocol::hosts::EMULATED_HOSTS
        .iter()
        .map(|host| host.name)
        .chain(LOOPBACK_NAMES.iter().copied())
}

const CA_COMMON_NAME: &str = "fortimock lab CA";

/// The lab's certificates: the CA users trust and the server identity every service presents.
pub struct LabTls {
    ca_pem: String,
    ca_path: Option<PathBuf>,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivateKeyDer<'static>,
    /// The CA's private key, to issue client certificates; absent for a brought-in certificate.
    ca_key_pem: Option<String>,
    names: Vec<String>,
    /// The server certificate with its signing key, made once for every service's server config (making
    /// it derives the key's public half, an elliptic-curve multiplication).
    certified: OnceLock<Arc<CertifiedKey>>,
}

/// A client identity (certificate and key) issued by the lab CA, e.g. for a virtual phone.
pub struct ClientIdentity {
    pub cert_pem: String,
    pub key_pem: String,
}

/// Who must present a client certificate, and which CA it must chain to.
#[derive(Clone, Default)]
pub struct ClientAuth {
    /// Refuse handshakes without a client certificate.
    pub required: bool,
    /// When set, presented certificates must chain to one of these or to the lab CA (see
    /// [`LabTls::server_config`]); otherwise any certificate is accepted.
    pub trusted_cas: Vec<CertificateDer<'static>>,
}

impl LabTls {
    /// Loads the lab CA and leaf from `<data_dir>/tls/`, generating what is missing. With `data_dir`
    /// `None` everything is generated in memory. The leaf is re-issued (by the same CA) when it does
    /// not cover every name in [`lab_host_names`] and `extra_names`.
    pub fn load_or_generate(
        data_dir: Option<&Path>,
        extra_names: &[String],
    ) -> anyhow::Result<LabTls> {
        LabTls::load_or_generate_in(data_dir.map(|dir| dir.join("tls")).as_deref(), extra_names)
    }

    /// [`LabTls::load_or_generate`] with the CA and leaf in `tls_dir` itself (`--tls-dir`: one lab CA
    /// shared by services that keep their data apart). A directory that already holds a leaf covering
    /// every name is only read, so it may be mounted read-only.
    pub fn load_or_generate_in(
        tls_dir: Option<&Path>,
        extra_names: &[String],
    ) -> anyhow::Result<LabTls> {
        let mut names: Vec<String> = lab_host_names().map(str::to_owned).collect();
        for name in extra_names {
            let name = name.trim().to_ascii_lowercase();
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
        let Some(dir) = tls_dir else {
            let ca_key = KeyPair::generate().context("generating the lab CA key")?;
            let ca_pem = ca_params()
                .self_signed(&ca_key)
                .context("signing the lab CA")?
                .pem();
            return LabTls::issue_server(ca_pem, None, ca_key.serialize_pem(), names);
        };
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let (ca_path, ca_key_path) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
        let (ca_pem, ca_key_pem) = if ca_path.exists() && ca_key_path.exists() {
            (read(&ca_path)?, read(&ca_key_path)?)
        } else {
            let ca_key = KeyPair::generate().context("generating the lab CA key")?;
            let ca_pem = ca_params()
                .self_signed(&ca_key)
                .context("signing the lab CA")?
                .pem();
            write_private(&ca_key_path, &ca_key.serialize_pem())?;
            write_atomically(&ca_path, &ca_pem)?;
            // A new CA invalidates any leaf signed by an older one.
            let _ = fs::remove_file(dir.join("server.pem"));
            (ca_pem, ca_key.serialize_pem())
        };
        let (leaf_path, leaf_key_path, names_path) = (
            dir.join("server.pem"),
            dir.join("server-key.pem"),
            dir.join("server-names.txt"),
        );
        if leaf_path.exists() && leaf_key_path.exists() && names_path.exists() {
            let stored: Vec<String> = read(&names_path)?.lines().map(str::to_owned).collect();
            if names.iter().all(|n| stored.contains(n)) {
                let mut tls =
                    LabTls::from_pem(&read(&leaf_path)?, &read(&leaf_key_path)?, Some(ca_pem))?;
                tls.ca_path = Some(ca_path);
                tls.ca_key_pem = Some(ca_key_pem);
                tls.names = stored;
                return Ok(tls);
            }
            for name in stored {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        let tls = LabTls::issue_server(ca_pem, Some(ca_path), ca_key_pem, names)?;
        write_private(&leaf_key_path, &tls.server_key_pem())?;
        write_atomically(&leaf_path, &tls.server_chain_pem())?;
        write_atomically(&names_path, &tls.names.join("\n"))?;
        Ok(tls)
    }

    /// A brought-in server certificate (chain) and key, in PEM files. `ca` is what fortimock's own
    /// clients trust when the services call each other; without it they trust the chain's last certificate.
    pub fn from_files(cert: &Path, key: &Path, ca: Option<&Path>) -> anyhow::Result<LabTls> {
        let chain_pem = read(cert)?;
        let ca_pem = match ca {
            Some(path) => read(path)?,
            None => {
                let chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .with_context(|| format!("reading certificates from {}", cert.display()))?;
                let last = chain
                    .last()
                    .with_context(|| format!("{} holds no certificate", cert.display()))?;
                pem_encode("CERTIFICATE", last)
            }
        };
        let mut tls = LabTls::from_pem(&chain_pem, &read(key)?, Some(ca_pem))?;
        tls.ca_path = ca.map(Path::to_path_buf);
        Ok(tls)
    }

    fn from_pem(chain_pem: &str, key_pem: &str, ca_pem: Option<String>) -> anyhow::Result<LabTls> {
        let server_chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .context("reading the server certificate chain")?;
        if server_chain.is_empty() {
            bail!("the server certificate file holds no certificate");
        }
        let server_key =
            PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).context("reading the server key")?;
        Ok(LabTls {
            ca_pem: ca_pem.unwrap_or_default(),
            ca_path: None,
            server_chain,
            server_key,
            ca_key_pem: None,
            names: Vec::new(),
            certified: OnceLock::new(),
        })
    }

    fn issue_server(
        ca_pem: String,
        ca_path: Option<PathBuf>,
        ca_key_pem: String,
        names: Vec<String>,
    ) -> anyhow::Result<LabTls> {
        let ca_key = KeyPair::from_pem(&ca_key_pem).context("reading the lab CA key")?;
        let ca = ca_params()
            .self_signed(&ca_key)
            .context("rebuilding the lab CA")?;
        let mut params = CertificateParams::default();
        params.distinguished_name = common_name("fortimock lab server");
        params.subject_alt_names = names
            .iter()
            .map(|name| match name.parse::<IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok(SanType::DnsName(
                    name.clone()
                        .try_into()
                        .with_context(|| format!("host name `{name}`"))?,
                )),
            })
            .collect::<anyhow::Result<_>>()?;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        params.not_after = rcgen::date_time_ymd(2049, 12, 31);
        let key = KeyPair::generate().context("generating the server key")?;
        let leaf = params
            .signed_by(&key, &ca, &ca_key)
            .context("signing the server certificate")?;
        let server_key = PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes())
            .context("reading the server key")?;
        Ok(LabTls {
            ca_pem,
            ca_path,
            server_chain: vec![leaf.der().clone()],
            server_key,
            ca_key_pem: Some(ca_key_pem),
            names,
            certified: OnceLock::new(),
        })
    }

    /// The CA certificate clients should trust, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Where the CA certificate is on disk; `None` when ephemeral.
    pub fn ca_path(&self) -> Option<&Path> {
        self.ca_path.as_deref()
    }

    /// The names the server certificate covers (empty for a brought-in certificate).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The server certificate chain, PEM.
    pub fn server_chain_pem(&self) -> String {
        self.server_chain
            .iter()
            .map(|c| pem_encode("CERTIFICATE", c))
            .collect()
    }

    fn server_key_pem(&self) -> String {
        let label = match &self.server_key {
            PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
            PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
            _ => "PRIVATE KEY",
        };
        pem_encode(label, self.server_key.secret_der())
    }

    /// The rustls server config every service listens with. When `client_auth` names client CAs, the lab CA
    /// is trusted too if fortimock issues client certificates from it (it has its key, so not with a
    /// brought-in certificate): its services' calls to each other and the virtual phones present those.
    pub fn server_config(
        &self,
        client_auth: &ClientAuth,
    ) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let provider = provider();
        let issuing_ca = match self.ca_key_pem {
            Some(_) => CertificateDer::pem_slice_iter(self.ca_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .context("reading the lab CA certificate")?,
            None => Vec::new(),
        };
        let verifier = RecordingVerifier::new(client_auth, &issuing_ca, provider.clone())?;
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("choosing TLS versions")?
            .with_client_cert_verifier(Arc::new(verifier))
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(self.certified_key()?)));
        Ok(Arc::new(config))
    }

    /// The server certificate and its signing key, checked to match.
    fn certified_key(&self) -> anyhow::Result<Arc<CertifiedKey>> {
        if let Some(certified) = self.certified.get() {
            return Ok(certified.clone());
        }
        let certified = CertifiedKey::from_der(
            self.server_chain.clone(),
            self.server_key.clone_key(),
            &provider(),
        )
        .context("loading the server certificate")?;
        Ok(self.certified.get_or_init(|| Arc::new(certified)).clone())
    }

    /// A rustls client config that trusts the lab CA and presents `identity` when given.
    pub fn client_config(
        &self,
        identity: Option<&ClientIdentity>,
    ) -> anyhow::Result<rustls::ClientConfig> {
        client_config_trusting(&self.ca_pem, identity)
    }

    /// Issues a client certificate signed by the lab CA (the virtual phone presents one, like the real app).
    pub fn issue_client_identity(&self, common: &str) -> anyhow::Result<ClientIdentity> {
        let ca_key_pem = self
            .ca_key_pem
            .as_deref()
            .context("a brought-in certificate has no CA key to issue client certificates")?;
        let ca_key = KeyPair::from_pem(ca_key_pem).context("reading the lab CA key")?;
        let ca = ca_params()
            .self_signed(&ca_key)
            .context("rebuilding the lab CA")?;
        let mut params = CertificateParams::default();
        params.distinguished_name = common_name(common);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        params.not_after = rcgen::date_time_ymd(2049, 12, 31);
        let key = KeyPair::generate().context("generating a client key")?;
        let cert = params
            .signed_by(&key, &ca, &ca_key)
            .context("signing a client certificate")?;
        Ok(ClientIdentity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// A server config with a fresh self-signed certificate that chains to no CA anyone trusts: what an
/// appliance's ftm-push listener presents when its `server-cert` is unusable, so phones refuse it.
pub fn untrusted_server_config(names: &[&str]) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .context("naming the untrusted certificate")?;
    params.distinguished_name = common_name("untrusted appliance certificate");
    let key = KeyPair::generate().context("generating a key")?;
    let cert = params
        .self_signed(&key)
        .context("self-signing a certificate")?;
    let key =
        PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).context("reading the key")?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("choosing TLS versions")?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .context("loading the untrusted certificate")?;
    Ok(Arc::new(config))
}

/// A rustls client config trusting the CA certificates in `ca_pem`.
pub fn client_config_trusting(
    ca_pem: &str,
    identity: Option<&ClientIdentity>,
) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(cert.context("reading the CA certificate")?)
            .context("trusting the CA certificate")?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("choosing TLS versions")?
        .with_root_certificates(roots);
    Ok(match identity {
        None => builder.with_no_client_auth(),
        Some(identity) => {
            let chain = CertificateDer::pem_slice_iter(identity.cert_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .context("reading the client certificate")?;
            let key = PrivateKeyDer::from_pem_slice(identity.key_pem.as_bytes())
                .context("reading the client key")?;
            builder
                .with_client_auth_cert(chain, key)
                .context("loading the client certificate")?
        }
    })
}

/// The crypto provider fortimock uses everywhere: ring, which builds without cmake.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Lowercase hex SHA-256 of a certificate's DER bytes.
pub fn fingerprint(der: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(der))
}

/// The subject common name of a DER certificate (its first, when there are several); `None` when there is
/// none or `der` is not a certificate.
pub fn subject_common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let name = cert.subject().iter_common_name().next()?;
    name.as_str().ok().map(str::to_owned)
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = common_name(CA_COMMON_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2049, 12, 31);
    params
}

fn common_name(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "fortimock");
    dn.push(DnType::CommonName, name);
    dn
}

/// PEM with Unix line endings, as fortimock writes its files.
fn pem_encode(label: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(label, der), config)
}

fn read(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn write_atomically(path: &Path, contents: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, contents).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    write_atomically(path, contents)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {}", path.display()))?;
    }
    Ok(())
}

/// Accepts any client certificate (so it can be recorded) unless CAs are configured, in which case it
/// must chain to one of them or to the lab CA that issues fortimock's own; asks every client for one,
/// requires it only when configured.
#[derive(Debug)]
struct RecordingVerifier {
    required: bool,
    chained: Option<Arc<dyn ClientCertVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl RecordingVerifier {
    /// `issuing_ca` is the lab CA when fortimock issues client certificates from it, trusted alongside
    /// `auth`'s CAs when there are any.
    fn new(
        auth: &ClientAuth,
        issuing_ca: &[CertificateDer<'static>],
        provider: Arc<CryptoProvider>,
    ) -> anyhow::Result<RecordingVerifier> {
        let algorithms = provider.signature_verification_algorithms;
        let chained = if auth.trusted_cas.is_empty() {
            None
        } else {
            let mut roots = RootCertStore::empty();
            for ca in &auth.trusted_cas {
                roots.add(ca.clone()).context("trusting the client CA")?;
            }
            for ca in issuing_ca {
                roots
                    .add(ca.clone())
                    .context("trusting the lab CA for client certificates")?;
            }
            let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let builder = if auth.required {
                builder
            } else {
                builder.allow_unauthenticated()
            };
            Some(
                builder
                    .build()
                    .context("building the client certificate verifier")?,
            )
        };
        Ok(RecordingVerifier {
            required: auth.required,
            chained,
            algorithms,
        })
    }
}

impl ClientCertVerifier for RecordingVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.required
    }

    fn root_hint_subjects(&self) -> &[TlsName] {
        match &self.chained {
            Some(chained) => chained.root_hint_subjects(),
            None => &[],
        }
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match &self.chained {
            Some(chained) => chained.verify_client_cert(end_entity, intermediates, now),
            None => Ok(ClientCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persisted_ca_is_reused_and_leaf_grows_with_names() {
        let dir = tempfile::tempdir().unwrap();
        let first = LabTls::load_or_generate(Some(dir.path()), &[]).unwrap();
        let again = LabTls::load_or_generate(Some(dir.path()), &[]).unwrap();
        assert_eq!(first.ca_pem(), again.ca_pem());
        assert_eq!(first.server_chain_pem(), again.server_chain_pem());
        let wider =
            LabTls::load_or_generate(Some(dir.path()), &["lab.example.test".into()]).unwrap();
        assert_eq!(first.ca_pem(), wider.ca_pem());
        assert_ne!(first.server_chain_pem(), wider.server_chain_pem());
        assert!(wider.names().iter().any(|n| n == "lab.example.test"));
        assert!(wider.names().iter().any(|n| n == "globalftm.fortinet.net"));
        assert_eq!(
            first.ca_path(),
            Some(dir.path().join("tls/ca.pem").as_path())
        );
    }

    #[test]
    fn issued_client_certificates_carry_their_name() {
        let tls = LabTls::load_or_generate(None, &[]).unwrap();
        let identity = tls.issue_client_identity("virtual phone 1").unwrap();
        let der = CertificateDer::from_pem_slice(identity.cert_pem.as_bytes()).unwrap();
        assert_eq!(
            subject_common_name(&der).as_deref(),
            Some("virtual phone 1")
        );
        assert_eq!(fingerprint(&der).len(), 64);
        assert!(tls.client_config(Some(&identity)).is_ok());
        assert!(tls.server_config(&ClientAuth::default()).is_ok());
    }

    #[test]
    fn pem_is_written_with_unix_line_endings_and_reads_back() {
        assert_eq!(
            pem_encode("CERTIFICATE", b"fortimock"),
            "-----BEGIN CERTIFICATE-----\nZm9ydGltb2Nr\n-----END CERTIFICATE-----\n"
        );
        let der: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let pem = pem_encode("CERTIFICATE", &der);
        assert!(!pem.contains('\r'));
        assert!(pem.lines().all(|line| line.len() <= 64), "{pem}");
        let read = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
        assert_eq!(read.as_ref(), der.as_slice());
    }

    #[test]
    fn a_certificate_without_a_common_name_has_none() {
        let key = KeyPair::generate().unwrap();
        let der = |common: Option<&str>| {
            let mut params = CertificateParams::default();
            params.distinguished_name = DistinguishedName::new();
            params
                .distinguished_name
                .push(DnType::OrganizationName, "fortimock");
            if let Some(common) = common {
                params.distinguished_name.push(DnType::CommonName, common);
            }
            params.self_signed(&key).unwrap().der().clone()
        };
        assert_eq!(subject_common_name(&der(None)), None);
        assert_eq!(
            subject_common_name(&der(Some("named"))).as_deref(),
            Some("named")
        );
    }

    #[test]
    fn certificates_that_cannot_be_read_have_no_common_name() {
        assert_eq!(subject_common_name(b""), None);
        assert_eq!(
            subject_common_name(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
            None
        );
        assert_eq!(subject_common_name(&[0x30, 0x03, 0x30, 0x01, 0x02]), None);
    }
}
