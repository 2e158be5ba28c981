//! One interface over the two places the cursor can live.

use serde_json::Value;

use super::file::FileStore;
use super::parse::{State, parse_state};
use crate::error::{Error, Result};
use crate::opencti::connector::{self, Registered};
use crate::opencti::{Graphql, Platform};

pub(crate) enum Store<'a> {
    /// The connector's state in OpenCTI, as registration returned it.
    Opencti {
        gql: &'a Graphql,
        platform: &'a Platform,
        registered: Registered,
        /// What the run registers with (to read the state again before its last write).
        name: &'a str,
        scope: &'a [String],
    },
    File(FileStore),
}

impl Store<'_> {
    pub(crate) fn describe(&self) -> String {
        match self {
            Store::Opencti { registered, .. } => format!("OpenCTI connector {}", registered.id),
            Store::File(f) => format!("file {}", f.path().display()),
        }
    }

    /// A corrupt state, in OpenCTI or in a file, is the operator's to fix (78, with the
    /// command that does it): a silent full re-import would hide it, and both places must
    /// end alike.
    pub(crate) fn load(&self) -> Result<State> {
        let mut state = self.load_stored()?;
        // A cursor in the future (an older version's poisoned state, a hand edit) would make
        // every incident look "up to date" until then: it starts from now instead.
        let now = chrono::Utc::now();
        if let Some(at) = state.last_fetch.filter(|at| *at > now) {
            log::warn!(
                "the stored cursor {} is in the future; this run starts from now ({})",
                crate::when::display(at),
                crate::when::display(now)
            );
            state.last_fetch = Some(now);
        }
        Ok(state)
    }

    fn load_stored(&self) -> Result<State> {
        match self {
            Store::File(f) => f.load(),
            Store::Opencti { registered, .. } => parse_state(registered.state.as_deref()).map_err(|why| {
                Error::Config(format!(
                    "the connector state of {} in OpenCTI is corrupt ({why}); run `disinfox-sync reset-state` (optionally with --to WHEN)",
                    registered.id
                ))
                .into()
            }),
        }
    }

    /// Tells OpenCTI (where the state lives there) about a skipped run through `info`
    /// (6.2.12+; without it there is nothing to tell), leaving the stored state exactly as
    /// registration returned it.
    pub(crate) fn ping_unchanged(&self, info: Option<Value>) -> Result<()> {
        if info.is_none() {
            return Ok(());
        }
        if let Store::Opencti {
            gql,
            platform,
            registered,
            ..
        } = self
        {
            let state = registered.state.clone().unwrap_or_default();
            connector::ping(gql, platform, &registered.id, Some(&state), info)?;
        }
        Ok(())
    }

    /// A run's last write: as [`Store::save`], but on OpenCTI the connector is read again
    /// first (registering is idempotent and returns the state), and nothing is written when
    /// its state changed since the run read it — a `reset-state` or "Reset state" made during
    /// the run is kept, and the run ends with 75.
    pub(crate) fn save_run(&self, state: &State, info: Option<Value>) -> Result<()> {
        if let Store::Opencti {
            gql,
            platform,
            registered,
            name,
            scope,
        } = self
        {
            let now = connector::register(gql, platform, &registered.id, name, scope)?;
            if let Some(change) = changed(registered, &now) {
                let next = match parse_state(now.state.as_deref()).map(|s| s.last_fetch) {
                    Ok(Some(at)) => format!("from {}", crate::when::display(at)),
                    _ => "from the beginning".into(),
                };
                return Err(Error::Temporary(format!(
                    "OpenCTI's connector state was reset during this run ({change}); the reset is kept: this run's cursor was not stored, and the next run starts {next}"
                ))
                .into());
            }
        }
        self.save(state, info)
    }

    /// Writes `state`. On OpenCTI a pending UI reset swallows one ping (the platform only
    /// clears its reset flag). A reset pending since before the run is pinged again; a reset
    /// made during the run is honoured: its purge dropped queued bundles of this run, so the
    /// run's cursor must not be stored (the next run starts from the beginning).
    pub(crate) fn save(&self, state: &State, info: Option<Value>) -> Result<()> {
        match self {
            Store::File(f) => f.save(state),
            Store::Opencti {
                gql,
                platform,
                registered,
                ..
            } => {
                let sent = state.to_json();
                for attempt in 0..2 {
                    let answer =
                        connector::ping(gql, platform, &registered.id, Some(&sent), info.clone())?;
                    if same_json(answer.state.as_deref(), &sent) {
                        return Ok(());
                    }
                    if attempt == 0 && reset_during_run(platform, registered, &answer) {
                        return Err(Error::Temporary(
                            "OpenCTI's connector state was reset (\"Reset state\") during this run, which also purged its queued bundles; this run's cursor was not stored, so the next run starts from the beginning".into(),
                        )
                        .into());
                    }
                    log::debug!(
                        "OpenCTI kept state {:?} after ping {} (a reset made before this run was pending); pinging again",
                        answer.state,
                        attempt + 1
                    );
                }
                Err(Error::Protocol(
                    "OpenCTI did not store the connector state after two pings".into(),
                )
                .into())
            }
        }
    }
}

/// A ping was swallowed: was the reset made during this run (rather than before it, which
/// registration already saw)? The reset stamp (6.7.0+) says it exactly; without it, a reset
/// flag that was clear at registration time can only have been set since.
fn reset_during_run(
    platform: &Platform,
    registered: &Registered,
    answer: &connector::PingAnswer,
) -> bool {
    if platform.features.state_timestamp
        && let Some(now) = &answer.state_timestamp
    {
        return registered.state_timestamp.as_deref() != Some(now.as_str());
    }
    !registered.state_reset
}

/// How the connector changed between two reads, if it did: another state (a `reset-state`,
/// which pings), or a reset flag or stamp that moved ("Reset state").
fn changed(start: &Registered, now: &Registered) -> Option<String> {
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    let (was, is) = (text(&start.state), text(&now.state));
    if was.trim() != is.trim() && !same_json(Some(&is), &was) {
        let shown = |s: &str| match parse_state(Some(s)) {
            Ok(state) => state.describe(),
            Err(_) => "unreadable".to_owned(),
        };
        return Some(format!("state was {}, is now {}", shown(&was), shown(&is)));
    }
    if now.state_timestamp.is_some() && now.state_timestamp != start.state_timestamp {
        return Some("\"Reset state\" was pressed".into());
    }
    (now.state_reset && !start.state_reset).then(|| "\"Reset state\" was pressed".into())
}

fn same_json(stored: Option<&str>, sent: &str) -> bool {
    let parse = |s: &str| serde_json::from_str::<Value>(s).ok();
    match stored {
        Some(s) => parse(s).is_some() && parse(s) == parse(sent),
        None => false,
    }
}
