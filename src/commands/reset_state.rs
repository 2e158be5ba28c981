//! `reset-state [--to WHEN]`: forget or set the cursor, on either backend. No confirmation:
//! scripts call it. Prints the state before and after.

use super::session::Session;
use crate::cli::ResetStateArgs;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::session::Purpose;
use crate::state::{self, FileStore, State, Store};

pub(super) fn run(cfg: &Config, args: &ResetStateArgs) -> Result<()> {
    let to = match &args.to {
        Some(text) => crate::when::parse(text, chrono::Utc::now())
            .map_err(|e| Error::Usage(format!("invalid --to: {e}")))?,
        None => None,
    };
    if let Some(at) = to.filter(|at| *at > chrono::Utc::now()) {
        log::warn!(
            "--to {} is in the future: the next sync starts from the current time instead",
            crate::when::display(at)
        );
    }
    match state::resolve_file(cfg.state_file.as_ref())? {
        Some(path) => {
            let file = FileStore::open(&path)?;
            // A corrupt file is exactly what reset-state is for: show it, then replace it.
            let before = crate::input::read_file(
                &path,
                crate::input::MAX_STATE,
                crate::input::Accept::RegularOnly,
            )
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
            let store = Store::File(file);
            let after = reset(&store, parse_lenient(&before), to)?;
            print(before.trim(), &after)
        }
        None => {
            let session = Session::open(cfg, Purpose::State)?;
            let before = session.registered.state.clone().unwrap_or_default();
            let store = session.store();
            let after = reset(&store, parse_lenient(&before), to)?;
            print(&before, &after)
        }
    }
}

fn parse_lenient(text: &str) -> State {
    state::parse_state(Some(text)).unwrap_or_default()
}

/// Keeps `last_run` (the UI shows it); replaces the cursor, and forgets the earlier runs'
/// works (the operator's cursor is not to be rolled back to where they started).
fn reset(store: &Store, old: State, to: Option<chrono::DateTime<chrono::Utc>>) -> Result<State> {
    let new = State {
        last_fetch: to,
        last_run: old.last_run,
        unconfirmed: None,
    };
    store.save(&new, None)?;
    log::info!("state in {} reset: {}", store.describe(), new.describe());
    Ok(new)
}

fn print(before: &str, after: &State) -> Result<()> {
    let before = if before.is_empty() { "(empty)" } else { before };
    let after = after.to_json();
    crate::output::write_to(None, |w| {
        Ok(writeln!(w, "before: {before}\nafter:  {after}")?)
    })
}
