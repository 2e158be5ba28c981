//! `check`'s look at the metrics sinks, before a run relies on them: the textfile's directory
//! takes a new file (the write is a temporary file beside the target, then a rename), and the
//! Pushgateway answers the read a push starts with, credentials included.

use std::io::Write;
use std::path::Path;

use crate::config::Config;
use crate::error::{Error, Result};

/// The directory of `path` accepts a new file, and `path` itself, if present, is a regular
/// file (the write replaces nothing else).
pub(crate) fn textfile(path: &Path) -> Result<String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let io = |what: String| Error::LocalIo(what).into();
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_file() => {
            return Err(io(format!(
                "{} exists and is not a regular file; point DISINFOX_SYNC_METRICS_FILE at a file",
                path.display()
            )));
        }
        _ => {}
    }
    let probe = dir.join(format!(".disinfox-sync-check.{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|mut f| f.write_all(b"check\n"));
    let _ = std::fs::remove_file(&probe);
    written.map_err(|e| {
        io(format!(
            "cannot write the metrics file's directory {} ({e}); create it, writable by this user",
            dir.display()
        ))
    })?;
    Ok(format!(
        "textfile {}: its directory is writable",
        path.display()
    ))
}

/// The Pushgateway at `url` answers the read a push starts with (reachable, a Pushgateway,
/// the credentials accepted).
pub(crate) fn pushgateway(cfg: &Config, url: &reqwest::Url) -> Result<String> {
    let id = cfg.connector_id.as_deref().unwrap_or("");
    super::pushgateway::probe(url, &cfg.metrics, &cfg.http, id)?;
    Ok(format!(
        "Pushgateway {url} answers and accepts the push's read"
    ))
}
