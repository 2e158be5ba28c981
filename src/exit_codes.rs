//! The exit-status contract. Schedulers (cron wrappers, Kubernetes `podFailurePolicy`) key on
//! these numbers, so they live in one place and `--help`, the man page and the README all quote
//! [`TABLE`].

/// Every status the CLI can end with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    Success = 0,
    Failure = 1,
    Usage = 2,
    DataErr = 65,
    NoInput = 66,
    Unavailable = 69,
    IoErr = 74,
    TempFail = 75,
    Protocol = 76,
    NoPerm = 77,
    Config = 78,
}

impl ExitCode {
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}

/// Shown by `--help` and rendered into the man page's EXIT STATUS section.
pub const TABLE: &str = "\
Exit status:
  0   success, including \"nothing new\" and a sync deferred because OpenCTI's queue is full
      or (before 7.260510.0) still holds an earlier run's messages
  1   unexpected error (a bug: please report it)
  2   usage error: unknown flag, bad WHEN value
  65  bad data: the input or DISINFOX's bundle is not a valid STIX 2.1 bundle; with --wait,
      objects OpenCTI could not import (listed; the cursor moved past them)
  66  input file missing or unreadable
  69  the peer lacks a required capability (OpenCTI older than 6.2.6 without
      CONNECTOR_QUEUE_PROTOCOL=amqp; --wait before 6.5.7 over the API)
  74  local I/O failure (state file, output file)
  75  temporary failure: peer unreachable, timeout, HTTP 429/5xx after retries, lock held
      by another run, OpenCTI unable to queue a bundle (\"Invalid bundle\"), --wait past its
      duration, \"Reset state\" during the run; run again later
  76  protocol error: a peer answered something unexpected
  77  permission: DISINFOX key rejected, OpenCTI token rejected or lacking CONNECTORAPI or
      KNOWLEDGE_KNUPDATE (--wait: MODULES)
  78  configuration error: missing or invalid setting, TLS verification failure, wrong URL";
