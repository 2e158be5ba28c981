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
use crate::opencti::facts::Facts;
use crate::session::Purpose;
use crate::summary::{Report, Status, reported};

pub(super) fn run(cfg: &Config, args: &PushArgs) -> Result<()> {
    let started = Instant::now();
    let mut report = Report::new("push");
    reported(&mut report, args.json, started, |report| {
        let input = read_input(args.file.as_deref(), cfg.max_bundle_size)?;
        let limits = stage::limits(cfg)?;
        let parsed = bundle::parse(&input).map_err(stage::refused)?;
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
        let session = Session::open(
            cfg,
            Purpose::Import {
                wait: args.wait.wait,
            },
        )?;
        // A pipeline's bundle lives nowhere else: refuse (75, retry later) rather than skip.
        if let (_, Some(why)) = session.queue_verdict(None, true) {
            return Err(Error::Temporary(format!(
                "{why}: not pushing now; run again once the queue is empty"
            ))
            .into());
        }
        session.push((&prepared, &Facts::of(&prepared)), &limits, report)?;
        let outcome = match args.wait.wait {
            Some(budget) => session.wait(budget, report)?,
            None => Default::default(),
        };
        report.status = Some(Status::Imported);
        super::session::import_errors(&outcome, false)
    })
}

/// The whole input in one buffer (the stage borrows objects from it), at most `max` bytes.
/// Devices and directories are refused before reading; a FIFO or pipe is read with the bound.
fn read_input(file: Option<&Path>, max: u64) -> Result<Vec<u8>> {
    use crate::input::{Accept, ReadError, read_bounded, read_file};
    let (read, source) = match file.filter(|p| p.as_os_str() != "-") {
        Some(path) => (
            read_file(path, max, Accept::RegularOrPipe),
            format!("bundle file {}", path.display()),
        ),
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(Error::Usage(
                    "no bundle given: pass --file PATH or pipe one in (disinfox-sync fetch | disinfox-sync push)".into(),
                )
                .into());
            }
            (
                read_bounded(OpensAnObject::new(stdin.lock()), max),
                "the bundle from stdin".to_owned(),
            )
        }
    };
    match read {
        Ok(bytes) => Ok(bytes),
        Err(ReadError::TooLarge { limit }) => Err(Error::Config(format!(
            "{source} is larger than --max-bundle-size ({limit} bytes); raise --max-bundle-size or split the bundle"
        ))
        .into()),
        Err(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
            Err(Error::BadData(format!("{source} is not a bundle: {e}")).into())
        }
        Err(e) => Err(Error::NoInput(format!("cannot read {source}: {e}")).into()),
    }
}

/// Fails the read as soon as the first byte that is not white space shows the input is not
/// a JSON object: endless junk on stdin (`push < /dev/zero`) ends at once, not at the size cap.
struct OpensAnObject<R> {
    inner: R,
    decided: bool,
}

impl<R> OpensAnObject<R> {
    fn new(inner: R) -> Self {
        OpensAnObject {
            inner,
            decided: false,
        }
    }
}

impl<R: Read> Read for OpensAnObject<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if !self.decided
            && let Some(&first) = buf[..n].iter().find(|b| !b.is_ascii_whitespace())
        {
            self.decided = true;
            // `{`, or the first byte of a UTF-8 byte-order mark (reported by the parser).
            if first != b'{' && first != 0xEF {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("it starts with byte 0x{first:02x}, not with '{{'"),
                ));
            }
        }
        Ok(n)
    }
}
