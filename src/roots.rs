//! The certificates an https:// peer is checked against: the system roots (or what
//! `SSL_CERT_FILE` / `SSL_CERT_DIR` name instead) and `--ca-cert`. They are read once per
//! process, on the first https:// client, and never for a run that talks plain http:// only:
//! parsing the system store costs more than a whole "nothing new" run.
//!
//! Every file read here is a local input like any other: bounded, and only a regular file
//! (`SSL_CERT_FILE=/dev/zero` or a FIFO must fail at once, not fill the memory or hang).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use reqwest::Certificate;

use crate::error::{Error, Result};
use crate::input::{Accept, ReadError};

/// Largest PEM file read (`--ca-cert`, `SSL_CERT_FILE`): Debian's whole bundle is ~220 KB.
pub(crate) const MAX_PEM: u64 = 4 << 20;

type Loaded = std::result::Result<Vec<Certificate>, String>;

/// The trusted certificates for `ca_cert` (the one `--ca-cert` of this process), loaded at the
/// first call; later calls share them.
pub(crate) fn trusted(ca_cert: Option<&Path>) -> Result<Vec<Certificate>> {
    static TRUSTED: OnceLock<Loaded> = OnceLock::new();
    TRUSTED
        .get_or_init(|| load(ca_cert.map(Path::to_path_buf)))
        .clone()
        .map_err(|message| Error::Config(message).into())
}

fn load(ca_cert: Option<PathBuf>) -> Loaded {
    let mut certs = system()?;
    if let Some(path) = ca_cert {
        certs.extend(ca_file(&path)?);
    }
    if certs.is_empty() {
        return Err("no CA certificate found in the system store: install the ca-certificates package, set SSL_CERT_FILE to a PEM bundle, or pass --ca-cert PATH".into());
    }
    Ok(certs)
}

fn ca_file(path: &Path) -> Loaded {
    let pem = read_pem(path)
        .map_err(|e| format!("cannot read --ca-cert file {}: {e}", path.display()))?;
    let certs = Certificate::from_pem_bundle(&pem).map_err(|e| {
        format!(
            "--ca-cert file {} is not PEM certificates: {e}",
            path.display()
        )
    })?;
    if certs.is_empty() {
        return Err(format!(
            "--ca-cert file {} holds no certificate: give the PEM file of your CA (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

fn read_pem(path: &Path) -> std::result::Result<Vec<u8>, ReadError> {
    crate::input::read_file(path, MAX_PEM, Accept::RegularOnly)
}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

/// The system roots. `SSL_CERT_FILE` replaces the default bundle and is read here, with a
/// bound; the directories (`SSL_CERT_DIR` or the distribution's) are rustls-native-certs'.
fn system() -> Loaded {
    let file = env_path("SSL_CERT_FILE");
    let dir = env_path("SSL_CERT_DIR");
    if let Some(dir) = &dir
        && !dir.exists()
    {
        return Err(missing("SSL_CERT_DIR", dir));
    }
    let Some(file) = file else {
        return Ok(der_certs(rustls_native_certs::load_native_certs()));
    };
    let pem = match read_pem(&file) {
        Ok(pem) => pem,
        Err(ReadError::NotFound(_)) => return Err(missing("SSL_CERT_FILE", &file)),
        Err(e) => {
            return Err(format!(
                "cannot read SSL_CERT_FILE {}: {e}; point it at a PEM file (it replaces the system roots) or unset it",
                file.display()
            ));
        }
    };
    let mut certs = Certificate::from_pem_bundle(&pem).map_err(|e| {
        format!(
            "SSL_CERT_FILE {} is not PEM certificates: {e}; point it at a PEM file or unset it",
            file.display()
        )
    })?;
    if let Some(dir) = dir {
        certs.extend(der_certs(rustls_native_certs::load_certs_from_paths(
            None,
            Some(&dir),
        )));
    }
    Ok(certs)
}

fn missing(var: &str, path: &Path) -> String {
    format!(
        "{var} names {}, which does not exist: point it at a PEM file (it replaces the system roots) or unset it",
        path.display()
    )
}

/// Certificates the store holds; unreadable entries are skipped, as every TLS stack does.
fn der_certs(result: rustls_native_certs::CertificateResult) -> Vec<Certificate> {
    for e in &result.errors {
        log::debug!("a system CA certificate was skipped: {e}");
    }
    result
        .certs
        .iter()
        .filter_map(|der| Certificate::from_der(der).ok())
        .collect()
}
