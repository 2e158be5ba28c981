//! One interface over the two places the cursor can live.

use serde_json::Value;

use super::file::FileStore;
use super::parse::{State, parse_state};
use crate::error::{Error, Result};
use crate::opencti::{Graphql, Platform, connector};

pub enum Store<'a> {
    /// The connector's state in OpenCTI, as registration returned it.
    Opencti {
        gql: &'a Graphql,
        platform: &'a Platform,
        connector_id: &'a str,
        registered: Option<String>,
    },
    File(FileStore),
}

impl Store<'_> {
    pub fn describe(&self) -> String {
        match self {
            Store::Opencti { connector_id, .. } => format!("OpenCTI connector {connector_id}"),
            Store::File(f) => format!("file {}", f.path().display()),
        }
    }

    /// A corrupt state, in OpenCTI or in a file, is the operator's to fix (78, with the
    /// command that does it): a silent full re-import would hide it, and both places must
    /// end alike.
    pub fn load(&self) -> Result<State> {
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
            Store::Opencti {
                registered,
                connector_id,
                ..
            } => parse_state(registered.as_deref()).map_err(|why| {
                Error::Config(format!(
                    "the connector state of {connector_id} in OpenCTI is corrupt ({why}); run `disinfox-sync reset-state` (optionally with --to WHEN)"
                ))
                .into()
            }),
        }
    }

    /// Writes `state`. On OpenCTI a pending UI reset swallows one ping (the platform only
    /// clears its reset flag), so the answer is compared and the ping sent once more.
    pub fn save(&self, state: &State, info: Option<Value>) -> Result<()> {
        match self {
            Store::File(f) => f.save(state),
            Store::Opencti {
                gql,
                platform,
                connector_id,
                ..
            } => {
                let sent = state.to_json();
                for attempt in 0..2 {
                    let stored = connector::ping(gql, platform, connector_id, &sent, info.clone())?;
                    if same_json(stored.as_deref(), &sent) {
                        return Ok(());
                    }
                    log::debug!(
                        "OpenCTI kept state {stored:?} after ping {} (a reset was pending); pinging again",
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

fn same_json(stored: Option<&str>, sent: &str) -> bool {
    let parse = |s: &str| serde_json::from_str::<Value>(s).ok();
    match stored {
        Some(s) => parse(s).is_some() && parse(s) == parse(sent),
        None => false,
    }
}
