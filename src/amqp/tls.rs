//! TLS to the broker with rustls, as pycti's `create_mq_ssl_context` sets it up: the system's
//! roots (or `MQ_USE_SSL_CA` alone), an optional client certificate, and verification that
//! `MQ_USE_SSL_REJECT_UNAUTHORIZED=false` turns off.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_platform_verifier::BuilderVerifierExt;

use crate::config::MqSettings;
use crate::error::{Error, Result};

pub(super) fn client_config(mq: &MqSettings) -> Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("broker TLS: {e}")))?;
    let builder = if !mq.reject_unauthorized {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(
                provider.signature_verification_algorithms,
            )))
    } else if let Some(ca) = &mq.ca {
        let mut roots = RootCertStore::empty();
        for cert in read_certs(ca, "MQ_USE_SSL_CA")? {
            roots
                .add(cert)
                .map_err(|e| Error::Config(format!("MQ_USE_SSL_CA {}: {e}", ca.display())))?;
        }
        builder.with_root_certificates(roots)
    } else {
        builder
            .with_platform_verifier()
            .map_err(|e| Error::Config(format!("broker TLS: system roots: {e}")))?
    };
    match (&mq.cert, &mq.key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert, "MQ_USE_SSL_CERT")?;
            let key = PrivateKeyDer::from_pem_slice(&read_local(key, "MQ_USE_SSL_KEY")?).map_err(
                |e| {
                    Error::Config(format!(
                        "MQ_USE_SSL_KEY {}: not a PEM private key ({e})",
                        key.display()
                    ))
                },
            )?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| Error::Config(format!("MQ_USE_SSL_CERT / MQ_USE_SSL_KEY: {e}")).into())
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        _ => Err(Error::Config(
            "MQ_USE_SSL_CERT and MQ_USE_SSL_KEY go together: set both or neither".into(),
        )
        .into()),
    }
}

fn read_certs(path: &Path, var: &str) -> Result<Vec<CertificateDer<'static>>> {
    let bad = |why: String| Error::Config(format!("{var} {}: {why}", path.display()));
    let pem = read_local(path, var)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not PEM certificates ({e})")))?;
    if certs.is_empty() {
        return Err(bad("holds no PEM certificate".into()).into());
    }
    Ok(certs)
}

/// A PEM file named by `var`, read with a bound: a regular file only (a FIFO nobody writes to
/// would hang the run, `/dev/zero` would fill the memory).
fn read_local(path: &Path, var: &str) -> Result<Vec<u8>> {
    use crate::input::{Accept, MAX_CONFIG, ReadError, read_file};
    read_file(path, MAX_CONFIG, Accept::RegularOnly).map_err(|e| {
        let fix = match e {
            ReadError::NotFound(_) | ReadError::Io(_) => "check the path and its permissions",
            ReadError::NotAFile(_) | ReadError::TooLarge { .. } => "point it at a PEM file",
        };
        Error::Config(format!(
            "{var} {}: cannot read it ({e}): {fix}",
            path.display()
        ))
        .into()
    })
}

/// `MQ_USE_SSL_REJECT_UNAUTHORIZED=false`: any certificate, any name (signatures on the
/// handshake are still checked, so the session is at least bound to the certificate shown).
#[derive(Debug)]
struct AcceptAny(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
