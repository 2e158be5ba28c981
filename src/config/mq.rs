//! The transport for bundles (`CONNECTOR_QUEUE_PROTOCOL`) and, for `amqp`, pycti's broker
//! settings. Each one that is set overrides what `registerConnector` answers: the platform
//! reports the broker as it sees it, often a cluster-internal name the job cannot resolve.

use std::path::PathBuf;

use super::keys;
use super::reader::Reader;
use super::values::parse_bool;
use crate::secret::Secret;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum QueueProtocol {
    /// `stixBundlePush` over GraphQL (6.2.6+).
    #[default]
    Api,
    /// Straight to the platform's RabbitMQ, as pycti connectors do by default.
    Amqp,
}

/// `MQ_*`: only the settings given; the rest comes from the platform.
#[derive(Clone, Debug, Default)]
pub(crate) struct MqSettings {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub vhost: Option<String>,
    pub use_ssl: Option<bool>,
    pub user: Option<String>,
    pub pass: Option<Secret>,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// pycti's default is to verify the broker's certificate.
    pub reject_unauthorized: bool,
}

/// `MQ_USE_SSL_PASSPHRASE` (pycti's `create_mq_ssl_context` hands it to `load_cert_chain` to
/// decrypt `MQ_USE_SSL_KEY`): rustls reads unencrypted PKCS#8, PKCS#1 and SEC1 keys only. So
/// an encrypted key is refused over AMQP, naming the one-off `openssl` command that decrypts
/// it, rather than failing later as "not a PEM private key" or the setting being ignored.
pub(super) fn check_key_encryption(r: &mut Reader, mq: &MqSettings, protocol: QueueProtocol) {
    let passphrase = r.secret(keys::MQ_USE_SSL_PASSPHRASE);
    let Some(path) = &mq.key else { return };
    // An unreadable file is reported where the key is loaded, with the reason.
    let Ok(pem) = crate::input::read_file(
        path,
        crate::input::MAX_CONFIG,
        crate::input::Accept::RegularOnly,
    ) else {
        return;
    };
    if !is_encrypted_pem(&pem) {
        return;
    }
    let given = if passphrase.is_some() {
        " (MQ_USE_SSL_PASSPHRASE is its passphrase)"
    } else {
        ""
    };
    let message = format!(
        "MQ_USE_SSL_KEY {} is an encrypted private key{given}, which the TLS library here          cannot use: decrypt it once with `openssl pkey -in {0} -out key.pem` (asks for the          passphrase), keep key.pem private (chmod 600), point MQ_USE_SSL_KEY at it and unset          MQ_USE_SSL_PASSPHRASE",
        path.display()
    );
    if protocol == QueueProtocol::Amqp {
        r.report(keys::MQ_USE_SSL_KEY.group, message);
    } else {
        r.warnings.push(format!(
            "{message} (used only with CONNECTOR_QUEUE_PROTOCOL=amqp)"
        ));
    }
}

/// PKCS#8 `ENCRYPTED PRIVATE KEY`, or a traditional key with `Proc-Type: 4,ENCRYPTED`.
fn is_encrypted_pem(pem: &[u8]) -> bool {
    let text = String::from_utf8_lossy(pem);
    text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || text.contains("Proc-Type: 4,ENCRYPTED")
}

pub(super) fn queue_protocol(r: &mut Reader) -> QueueProtocol {
    r.parse(keys::CONNECTOR_QUEUE_PROTOCOL, None, parse_protocol)
        .unwrap_or_default()
}

fn parse_protocol(v: &str) -> Result<QueueProtocol, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "api" => Ok(QueueProtocol::Api),
        "amqp" => Ok(QueueProtocol::Amqp),
        _ => Err(format!("unknown queue protocol '{v}'; use api or amqp")),
    }
}

pub(super) fn mq_settings(r: &mut Reader) -> MqSettings {
    MqSettings {
        host: r.text(keys::MQ_HOST).filter(|h| !h.trim().is_empty()),
        port: r.parse(keys::MQ_PORT, None, |v| {
            v.trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("'{v}' is not a TCP port; use e.g. 5672"))
        }),
        vhost: r.text(keys::MQ_VHOST),
        use_ssl: r.parse(keys::MQ_USE_SSL, None, parse_bool),
        user: r.text(keys::MQ_USER),
        pass: r.secret(keys::MQ_PASS),
        ca: r.text(keys::MQ_USE_SSL_CA).map(PathBuf::from),
        cert: r.text(keys::MQ_USE_SSL_CERT).map(PathBuf::from),
        key: r.text(keys::MQ_USE_SSL_KEY).map(PathBuf::from),
        reject_unauthorized: r
            .parse(keys::MQ_USE_SSL_REJECT_UNAUTHORIZED, None, parse_bool)
            .unwrap_or(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_names() {
        assert_eq!(parse_protocol("AMQP"), Ok(QueueProtocol::Amqp));
        assert_eq!(parse_protocol("api"), Ok(QueueProtocol::Api));
        assert!(parse_protocol("http").unwrap_err().contains("api or amqp"));
    }

    #[test]
    fn encrypted_keys_are_recognised() {
        let pkcs8 =
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let legacy =
            b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n";
        let plain = b"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n";
        assert!(is_encrypted_pem(pkcs8) && is_encrypted_pem(legacy));
        assert!(!is_encrypted_pem(plain));
    }
}
