//! One error type for every failure the CLI expects, each variant carrying its exit status.
//! Code deep in the stack returns `Error::Temporary(..)` and friends; `classify` at the top is
//! the only place that turns an error chain into an exit status.

use crate::exit_codes::ExitCode;

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("{0}")]
    Usage(String),
    /// `verify` found objects missing in OpenCTI: a finding, not a failure of the run.
    #[error("{0}")]
    Missing(String),
    #[error("{0}")]
    BadData(String),
    #[error("{0}")]
    NoInput(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    LocalIo(String),
    #[error("{0}")]
    Temporary(String),
    #[error("{0}")]
    Protocol(String),
    #[error("{0}")]
    Permission(String),
    #[error("{0}")]
    Config(String),
}

impl Error {
    pub(crate) fn code(&self) -> ExitCode {
        match self {
            Error::Usage(_) => ExitCode::Usage,
            Error::Missing(_) => ExitCode::Missing,
            Error::BadData(_) => ExitCode::DataErr,
            Error::NoInput(_) => ExitCode::NoInput,
            Error::Unavailable(_) => ExitCode::Unavailable,
            Error::LocalIo(_) => ExitCode::IoErr,
            Error::Temporary(_) => ExitCode::TempFail,
            Error::Protocol(_) => ExitCode::Protocol,
            Error::Permission(_) => ExitCode::NoPerm,
            Error::Config(_) => ExitCode::Config,
        }
    }
}

pub(crate) type Result<T, E = anyhow::Error> = std::result::Result<T, E>;

/// How a failed run ends.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// stdout was closed by the reader (`fetch | head`): not a failure, nothing to say.
    QuietSuccess,
    Fail(ExitCode),
}

/// Walks the chain once: a broken pipe anywhere wins, then our own typed error, then the
/// library errors we can still read something from. Everything else is a bug (70).
pub(crate) fn classify(err: &anyhow::Error) -> Outcome {
    for cause in err.chain() {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::BrokenPipe
        {
            return Outcome::QuietSuccess;
        }
    }
    for cause in err.chain() {
        if let Some(ours) = cause.downcast_ref::<Error>() {
            return Outcome::Fail(ours.code());
        }
        if let Some(http) = cause.downcast_ref::<reqwest::Error>()
            && (http.is_timeout() || http.is_connect())
        {
            return Outcome::Fail(ExitCode::TempFail);
        }
        if cause.downcast_ref::<std::io::Error>().is_some() {
            return Outcome::Fail(ExitCode::IoErr);
        }
    }
    Outcome::Fail(ExitCode::Software)
}

/// The message printed for a failure: the whole chain on one line per problem, scrubbed of
/// secrets.
pub(crate) fn render(err: &anyhow::Error) -> String {
    crate::secret::scrub(&format!("{err:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn typed_error_anywhere_in_chain_decides() {
        let err = anyhow::Error::new(Error::Permission("key rejected".into())).context("fetching");
        assert_eq!(classify(&err), Outcome::Fail(ExitCode::NoPerm));
        assert_eq!(render(&err), "fetching: key rejected");
    }

    #[test]
    fn broken_pipe_is_quiet() {
        let io = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "pipe");
        let err = Err::<(), _>(io).context("writing").unwrap_err();
        assert_eq!(classify(&err), Outcome::QuietSuccess);
    }

    #[test]
    fn other_io_is_local_failure_and_unknown_is_bug() {
        let io = std::io::Error::other("disk");
        assert_eq!(
            classify(&anyhow::Error::new(io)),
            Outcome::Fail(ExitCode::IoErr)
        );
        assert_eq!(
            classify(&anyhow::anyhow!("??")),
            Outcome::Fail(ExitCode::Software)
        );
    }
}
