//! Where a run's metrics go: a textfile-collector file, a Pushgateway, or both. The flags of
//! `sync` override these; the password is a secret (`*_FILE` works, never printed).

use std::path::PathBuf;

use reqwest::Url;

use super::keys;
use super::reader::Reader;
use super::values::base64;
use crate::parsers::parse_pushgateway;
use crate::secret::Secret;

#[derive(Clone, Debug, Default)]
pub(crate) struct MetricsOptions {
    pub file: Option<PathBuf>,
    pub pushgateway: Option<Url>,
    pub user: Option<String>,
    pub password: Option<Secret>,
}

impl MetricsOptions {
    /// The subcommand's `--metrics-file` and `--pushgateway` win over the settings.
    pub(super) fn overridden(self, o: &super::Overrides) -> MetricsOptions {
        let configured = self.file.filter(|_| !o.metrics_file_from_flag_only);
        MetricsOptions {
            file: o.metrics_file.clone().or(configured),
            pushgateway: o.pushgateway.clone().or(self.pushgateway),
            ..self
        }
    }
}

pub(crate) fn options(r: &mut Reader) -> MetricsOptions {
    let options = MetricsOptions {
        file: r.text(keys::DISINFOX_SYNC_METRICS_FILE).map(PathBuf::from),
        pushgateway: r.parse(keys::DISINFOX_SYNC_PUSHGATEWAY_URL, None, parse_pushgateway),
        user: r.text(keys::DISINFOX_SYNC_PUSHGATEWAY_USER),
        password: r.secret(keys::DISINFOX_SYNC_PUSHGATEWAY_PASSWORD),
    };
    if let (Some(user), Some(password)) = (&options.user, &options.password) {
        // What goes on the wire, `Authorization: Basic base64(user:password)`, which an
        // error page may echo back.
        let _ = Secret::new(base64(format!("{user}:{}", password.expose()).as_bytes()));
    }
    if options.user.is_some() != options.password.is_some() {
        r.errors.push(
            "Pushgateway basic auth needs both DISINFOX_SYNC_PUSHGATEWAY_USER and DISINFOX_SYNC_PUSHGATEWAY_PASSWORD (or its _FILE); set both or neither".into(),
        );
    }
    options
}
