//! `push`: a bundle file (or stdin) → bundle stage → OpenCTI.

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::time::Instant;

use super::session::Session;
use super::stage;
use crate::bundle;
use crate::bundle::Staged;
use crate::cli::PushArgs;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::opencti::facts::{FactScan, Facts};
use crate::session::Purpose;
use crate::spool::Spool;
use crate::summary::{Report, Status, reported};

pub(super) fn run(cfg: &Config, args: &PushArgs) -> Result<()> {
    let started = Instant::now();
    let mut report = Report::new("push");
    reported(&mut report, args.json, started, |report| {
        let limits = stage::limits(cfg)?;
        let input = open_input(args.file.as_deref(), cfg.max_bundle_size)?;
        let Some((staged, facts)) = stage_input(input, cfg.max_bundle_size, report)? else {
            log::info!("nothing to push: the bundle has no objects");
            report.status = Some(Status::UpToDate);
            return Ok(());
        };
        if args.dry_run {
            stage::describe_plan(&staged, &limits, report)?;
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
        session.push((&staged, &facts), &limits, report)?;
        let outcome = match args.wait.wait {
            Some(budget) => session.wait(budget, report)?,
            None => Default::default(),
        };
        report.status = Some(Status::Imported);
        super::session::import_errors(&outcome, false)
    })
}

/// The bundle to push, unread: where it comes from (for messages) and its size when known.
struct Input {
    reader: Box<dyn Read>,
    source: String,
    size: Option<u64>,
}

/// Opens the file, or stdin. Devices and directories are refused before reading; a FIFO or
/// pipe is read with the bound.
fn open_input(file: Option<&Path>, max: u64) -> Result<Input> {
    use crate::input::{Accept, open_file};
    let Some(path) = file.filter(|p| p.as_os_str() != "-") else {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            return Err(Error::Usage(
                "no bundle given: pass --file PATH or pipe one in (disinfox-sync fetch | disinfox-sync push)".into(),
            )
            .into());
        }
        return Ok(Input {
            reader: Box::new(OpensAnObject::new(stdin.lock())),
            source: "the bundle from stdin".to_owned(),
            size: None,
        });
    };
    let source = format!("bundle file {}", path.display());
    match open_file(path, max, Accept::RegularOrPipe) {
        Ok((file, size)) => Ok(Input {
            reader: Box::new(file),
            source,
            size,
        }),
        Err(e) => Err(read_failure(&source, e)),
    }
}

fn read_failure(source: &str, e: crate::input::ReadError) -> anyhow::Error {
    use crate::input::ReadError;
    match e {
        ReadError::TooLarge { limit } => Error::Config(format!(
            "{source} is larger than --max-bundle-size ({limit} bytes); raise --max-bundle-size or split the bundle"
        ))
        .into(),
        ReadError::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            Error::BadData(format!("{source} is not a bundle: {e}")).into()
        }
        e => Error::NoInput(format!("cannot read {source}: {e}")).into(),
    }
}

/// Validates and stages the input on disk as it is read, as `sync` does with DISINFOX's
/// answer: memory does not grow with the bundle. `None` when it has no objects.
fn stage_input(input: Input, max: u64, report: &mut Report) -> Result<Option<(Staged, Facts)>> {
    use crate::bundle::stream::StreamError;
    let (spool, answer, index) = Spool::open(crate::spool::BUNDLE, input.size, None)?;
    spool.announce(input.size);
    let mut seen = FactScan::default();
    let mut reader = Counted::new(input.reader);
    let staged = bundle::stage(
        &mut reader,
        (answer, index),
        (max, u64::MAX),
        &mut |k, i, r| {
            seen.observe(k, i, r);
        },
    );
    let staged = match staged {
        Ok(staged) => staged,
        Err(StreamError::Read(e)) => {
            return Err(read_failure(&input.source, crate::input::ReadError::Io(e)));
        }
        Err(StreamError::Write(e)) => return Err(spool.write_failure(e, reader.total)),
        Err(StreamError::TooLarge(_)) => {
            let limit = crate::input::ReadError::TooLarge { limit: max };
            return Err(read_failure(&input.source, limit));
        }
        Err(StreamError::Bundle(e)) => return Err(stage::refused(e)),
    };
    if staged.is_empty() {
        return Ok(None);
    }
    Ok(Some(stage::staged(staged, seen, report)))
}

/// Counts the bytes read, for the message of a full disk.
struct Counted<R> {
    inner: R,
    total: u64,
}

impl<R> Counted<R> {
    fn new(inner: R) -> Self {
        Counted { inner, total: 0 }
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.total += n as u64;
        Ok(n)
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
