//! `push`: a bundle file (or stdin) → bundle stage → OpenCTI.

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::time::Instant;

use super::session::Session;
use super::stage;
use crate::bundle;
use crate::cli::PushArgs;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::summary::{Report, Status, reported};

pub fn run(cfg: &Config, args: &PushArgs) -> Result<()> {
    let started = Instant::now();
    let mut report = Report::new("push");
    reported(&mut report, args.json, started, |report| {
        let input = read_input(args.file.as_deref())?;
        let limits = stage::limits(cfg, &args.chunks)?;
        let parsed = bundle::parse(&input)?;
        if parsed.is_empty() {
            log::info!("nothing to push: the bundle has no objects");
            report.status = Some(Status::UpToDate);
            return Ok(());
        }
        let prepared = stage::prepare(parsed, report);
        if args.dry_run {
            stage::describe_plan(&prepared, &limits, report)?;
            report.status = Some(Status::DryRun);
            return Ok(());
        }
        let session = Session::open_for_import(cfg, args.wait.wait)?;
        // A pipeline's bundle lives nowhere else: refuse (75, retry later) rather than skip.
        if let (_, Some(why)) = session.queue_verdict(None) {
            return Err(Error::Temporary(format!(
                "{why}: not pushing now; run again once the queue is empty"
            ))
            .into());
        }
        session.push(&prepared, &limits, report)?;
        let outcome = match args.wait.wait {
            Some(budget) => session.wait(budget, report)?,
            None => Default::default(),
        };
        report.status = Some(Status::Imported);
        super::session::import_errors(&outcome, false)
    })
}

/// The whole input in one buffer: the stage borrows objects from it.
fn read_input(file: Option<&Path>) -> Result<Vec<u8>> {
    match file.filter(|p| p.as_os_str() != "-") {
        Some(path) => std::fs::read(path).map_err(|e| {
            Error::NoInput(format!("cannot read bundle file {}: {e}", path.display())).into()
        }),
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(Error::Usage(
                    "no bundle given: pass --file PATH or pipe one in (disinfox-sync fetch | disinfox-sync push)".into(),
                )
                .into());
            }
            let mut buf = Vec::new();
            stdin
                .lock()
                .read_to_end(&mut buf)
                .map_err(|e| Error::NoInput(format!("cannot read the bundle from stdin: {e}")))?;
            Ok(buf)
        }
    }
}
