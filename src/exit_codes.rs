//! The exit-status contract. Schedulers (cron wrappers, Kubernetes `podFailurePolicy`) key on
//! these numbers, so they are defined once, in [`ROWS`]: `--help` ([`TABLE`]), the man page's
//! EXIT STATUS section and README's table are all rendered from it, and a test fails when the
//! README's copy drifts.

/// Every status the CLI can end with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    Success = 0,
    Missing = 1,
    Usage = 2,
    DataErr = 65,
    NoInput = 66,
    Unavailable = 69,
    Software = 70,
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

/// One status: what it means and what a scheduler should do about it. Text in `backticks` is
/// code in the README and plain in `--help` and the man page.
pub(crate) struct Row {
    pub code: ExitCode,
    pub meaning: &'static str,
    pub advice: &'static str,
}

/// The table, in the order it is shown.
pub(crate) const ROWS: &[Row] = &[
    Row {
        code: ExitCode::Success,
        meaning: "success, including \"nothing new\" and a `sync` deferred because OpenCTI's queue is full or, before OpenCTI 7.260510.0, is still importing an earlier run",
        advice: "nothing",
    },
    Row {
        code: ExitCode::Missing,
        meaning: "`verify` found objects DISINFOX serves that OpenCTI does not hold (listed on stdout; as `diff`)",
        advice: "alert; run `verify --repair`",
    },
    Row {
        code: ExitCode::Usage,
        meaning: "usage error: unknown flag, bad `WHEN`",
        advice: "fix the command line; retrying cannot help",
    },
    Row {
        code: ExitCode::DataErr,
        meaning: "bad data: the input file is not a valid STIX 2.1 bundle, or DISINFOX's bundle has an invalid object (an answer that is not a bundle at all is 76); with `--wait`, objects OpenCTI reported it refused for good (listed; the cursor moved past them)",
        advice: "alert; retrying cannot help",
    },
    Row {
        code: ExitCode::NoInput,
        meaning: "input file missing or unreadable",
        advice: "fix the path",
    },
    Row {
        code: ExitCode::Unavailable,
        meaning: "the peer lacks a capability (OpenCTI older than 6.2.6 over `api`; `--wait` on OpenCTI older than 6.5.7)",
        advice: "set `CONNECTOR_QUEUE_PROTOCOL=amqp` (before 6.2.6), or upgrade OpenCTI",
    },
    Row {
        code: ExitCode::Software,
        meaning: "unexpected error (a bug)",
        advice: "alert; report it",
    },
    Row {
        code: ExitCode::IoErr,
        meaning: "local I/O failure (state file, output file; a state file of another user)",
        advice: "check the disk and permissions",
    },
    Row {
        code: ExitCode::TempFail,
        meaning: "temporary failure: peer unreachable, timeout, HTTP 429/5xx after retries, lock held by another run, OpenCTI unable to queue a bundle (\"Invalid bundle\", with its cause), `--wait` past its duration, with `--wait` objects OpenCTI could not import yet (a missing reference still queued, a lock: the cursor stops before them), \"Reset state\" or `reset-state` during the run, `push` while an earlier run is still queued (before 7.260510.0)",
        advice: "retry later: the next scheduled run will",
    },
    Row {
        code: ExitCode::Protocol,
        meaning: "protocol error: a peer answered something unexpected, such as a DISINFOX answer that is not a bundle at all (empty, cut off, not UTF-8, not JSON, no `objects`)",
        advice: "alert; check the URLs and versions",
    },
    Row {
        code: ExitCode::NoPerm,
        meaning: "permission: DISINFOX key rejected, OpenCTI token rejected or lacking CONNECTORAPI or KNOWLEDGE_KNUPDATE (`--wait`: MODULES; `verify`: KNOWLEDGE)",
        advice: "fix the credentials or the role",
    },
    Row {
        code: ExitCode::Config,
        meaning: "configuration error: missing or invalid setting (also in a variable a flag reads), TLS verification failure, wrong URL (404), a redirect to another origin, a config or secret file others could change, a chunk limit an object cannot fit in (`--chunk-size`, `--chunk-objects`), OpenCTI's token user inside a draft or not allowed a marking the data carries (nothing pushed)",
        advice: "fix the configuration",
    },
];

/// `--help`'s table, rendered from [`ROWS`] when clap asks for it.
pub(crate) const TABLE: Table = Table;

/// The table as help text (see [`TABLE`]).
#[derive(Clone, Copy)]
pub struct Table;

impl From<Table> for clap::builder::StyledStr {
    fn from(_: Table) -> Self {
        help_text().into()
    }
}

const WIDTH: usize = 92;
const INDENT: &str = "      ";

/// `Exit status:` and one entry a row: the code, its meaning and the advice, wrapped.
pub fn help_text() -> String {
    let mut out = String::from("Exit status:");
    for row in ROWS {
        let text = format!("{}; what to do: {}", plain(row.meaning), plain(row.advice));
        let code = format!("  {:<4}", row.code.code());
        out.push('\n');
        out.push_str(&wrap(&code, &text));
    }
    out
}

/// README's table (Markdown), rendered from [`ROWS`].
pub fn markdown() -> String {
    let mut out = String::from("| code | meaning | what a scheduler should do |\n|---|---|---|\n");
    for row in ROWS {
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            row.code.code(),
            row.meaning,
            row.advice
        ));
    }
    out
}

/// Text without the Markdown code marks.
pub(crate) fn plain(text: &str) -> String {
    text.replace('`', "")
}

fn wrap(first: &str, text: &str) -> String {
    let mut out = String::from(first);
    let mut line = first.len();
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 && line + 1 + word.len() > WIDTH {
            out.push('\n');
            out.push_str(INDENT);
            line = INDENT.len();
        } else if i > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += word.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_once_in_order() {
        let codes: Vec<u8> = ROWS.iter().map(|r| r.code.code()).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(codes, sorted);
        assert_eq!(codes, [0, 1, 2, 65, 66, 69, 70, 74, 75, 76, 77, 78]);
    }

    #[test]
    fn help_lines_fit_and_name_every_code() {
        let help = help_text();
        assert!(help.lines().all(|l| l.chars().count() <= WIDTH), "{help}");
        for row in ROWS {
            assert!(
                help.contains(&format!("\n  {:<4}", row.code.code())),
                "{help}"
            );
        }
        assert!(!help.contains('`'));
    }
}
