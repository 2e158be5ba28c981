//! The cursor and where it is kept: in OpenCTI's connector state (default, so a pod keeps
//! nothing on disk and the UI's "reset state" works) or in a local file.

mod file;
mod parse;
mod store;

pub(crate) use file::{FileStore, default_path};
pub(crate) use parse::{State, Unconfirmed, parse_state};
pub(crate) use store::Store;

use std::path::PathBuf;

/// `--state-file` without a value (or an empty one) means the default location; `chosen` is
/// the flag or the setting (`Config::state_file`).
pub(crate) fn resolve_file(chosen: Option<&PathBuf>) -> crate::error::Result<Option<PathBuf>> {
    match chosen {
        None => Ok(None),
        Some(p) if p.as_os_str().is_empty() => default_path().map(Some).ok_or_else(|| {
            crate::error::Error::Config(
                "no home directory for the default state file: pass --state-file PATH".into(),
            )
            .into()
        }),
        Some(p) => Ok(Some(p.clone())),
    }
}
