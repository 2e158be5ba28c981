//! `check`: a preflight for operators and init containers. One line per check; the exit
//! status is that of the first failure, so a failing init container says what is wrong.

use std::io::IsTerminal;

use serde::Serialize;

use crate::cli::CheckArgs;
use crate::config::{Config, QueueProtocol};
use crate::disinfox::Disinfox;
use crate::error::{Outcome, Result, classify, render};
use crate::exit_codes::ExitCode;
use crate::opencti::access::{self, Access};
use crate::opencti::{self, Graphql, capabilities, version};
use crate::state::{self, FileStore, parse_state};

#[derive(Debug, Serialize)]
struct Line {
    check: &'static str,
    ok: bool,
    /// Passed, but something an import needs is missing (warn, exit status unchanged).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    warning: bool,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<u8>,
}

#[derive(Default)]
struct Report {
    lines: Vec<Line>,
}

impl Report {
    fn pass(&mut self, check: &'static str, detail: String) {
        self.lines.push(Line {
            check,
            ok: true,
            warning: false,
            detail,
            exit_code: None,
        });
    }

    fn warn(&mut self, check: &'static str, detail: String) {
        self.lines.push(Line {
            check,
            ok: true,
            warning: true,
            detail,
            exit_code: None,
        });
    }

    fn fail(&mut self, check: &'static str, err: &anyhow::Error) {
        let code = match classify(err) {
            Outcome::Fail(c) => c,
            Outcome::QuietSuccess => ExitCode::Software,
        };
        self.lines.push(Line {
            check,
            ok: false,
            warning: false,
            detail: render(err),
            exit_code: Some(code.code()),
        });
    }

    fn first_failure(&self) -> Option<u8> {
        self.lines.iter().find_map(|l| l.exit_code)
    }
}

/// Runs every check it can; `cfg` is the configuration or why it did not load.
pub(super) fn run(cfg: Result<Config>, args: &CheckArgs) -> Result<std::process::ExitCode> {
    let mut report = Report::default();
    match &cfg {
        Ok(cfg) => {
            let file = cfg.file.as_ref().map_or("no config file".to_owned(), |p| {
                format!("config file {}", p.display())
            });
            report.pass("configuration", format!("valid ({file})"));
            check_disinfox(cfg, &mut report);
            check_opencti(cfg, &mut report);
            check_staging(cfg, &mut report);
            check_metrics(cfg, &mut report);
        }
        Err(e) => report.fail("configuration", e),
    }
    print(&report, args.json)?;
    Ok(match report.first_failure() {
        Some(code) => std::process::ExitCode::from(code),
        None => std::process::ExitCode::SUCCESS,
    })
}

/// The metrics sinks configured for `sync` (settings or environment): a failure here would
/// only be a warning in a run, and its alerts would then see no metrics.
fn check_metrics(cfg: &Config, report: &mut Report) {
    use crate::metrics::preflight;
    if let Some(path) = &cfg.metrics.file {
        match preflight::textfile(path) {
            Ok(detail) => report.pass("metrics", detail),
            Err(e) => report.fail("metrics", &e),
        }
    }
    if let Some(url) = &cfg.metrics.pushgateway {
        match preflight::pushgateway(cfg, url) {
            Ok(detail) => report.pass("metrics", detail),
            Err(e) => report.fail("metrics", &e),
        }
    }
}

/// Where `sync` stages DISINFOX's answer, and how large an answer fits there.
fn check_staging(cfg: &Config, report: &mut Report) {
    match crate::spool::Spool::probe(cfg.disk_limit) {
        Ok(detail) => report.pass("staging", detail),
        Err(e) => report.fail("staging", &e),
    }
}

fn check_disinfox(cfg: &Config, report: &mut Report) {
    // A cursor in the future answers `{}`: the real data path, and nothing to download.
    let future = chrono::Utc::now() + chrono::Duration::days(3650);
    let source = cfg.disinfox();
    let result = source
        .and_then(|peer| Disinfox::new(peer, &cfg.http, 1 << 20))
        .and_then(|d| {
            let answer = d.incidents(Some(future))?;
            Ok((d.endpoint().to_string(), answer))
        });
    match result {
        Ok((url, answer)) => {
            let skew = answer
                .server_date
                .map(|d| (d - chrono::Utc::now()).num_seconds());
            let clock = skew.map_or(String::new(), |s| format!(", its clock {s:+}s from ours"));
            report.pass(
                "disinfox",
                format!("{url} answers and accepts the key{clock}"),
            );
        }
        Err(e) => report.fail("disinfox", &e),
    }
}

fn check_opencti(cfg: &Config, report: &mut Report) {
    let gql = match cfg.opencti().and_then(|peer| Graphql::new(peer, &cfg.http)) {
        Ok(g) => g,
        Err(e) => return report.fail("opencti", &e),
    };
    let platform = match opencti::connector::probe(&gql) {
        Ok(p) => p,
        Err(e) => return report.fail("opencti", &e),
    };
    report.pass(
        "opencti",
        format!(
            "OpenCTI {} at {}, token user '{}'",
            platform.version_text,
            gql.url(),
            platform.user_name
        ),
    );
    let over_amqp = cfg.queue_protocol == QueueProtocol::Amqp;
    if let Err(e) = opencti::connector::require_import(&platform, over_amqp) {
        report.fail("capability", &e);
        return;
    }
    report.pass("capability", "the token's user has CONNECTORAPI".into());
    check_import_capabilities(&gql, &platform, report);
    check_verify(&platform, report);
    let f = platform.features;
    let yes_no = |b: bool, since: version::Version| {
        if b {
            "yes".to_owned()
        } else {
            format!("no (needs {since})")
        }
    };
    report.pass(
        "features",
        format!(
            "stixBundlePush {}, work_id {}, connectorInfo {}, multi-part works {}",
            yes_no(f.bundle_push, version::MIN_SUPPORTED),
            yes_no(f.work_id, version::WORK_ID),
            yes_no(f.connector_info, version::CONNECTOR_INFO),
            yes_no(f.multipart_work, version::MULTIPART_WORK)
        ),
    );
    let works = describe_works(version::WorkPolicy::for_transport(&f, over_amqp));
    report.pass("works", works);
    check_state(cfg, &gql, &platform, report);
}

/// How `sync` and `push` treat the run's work on this release (`WorkPolicy`).
fn describe_works(policy: version::WorkPolicy) -> String {
    use version::WorkPolicy as P;
    match policy {
        P::ServerMade => "OpenCTI makes one work per push (no work_id before 6.5.7)".into(),
        P::NoSuccessClose => format!(
            "one per run, completed by OpenCTI's workers (no success toProcessed before {})",
            version::SAFE_TO_PROCESSED
        ),
        P::NeverCloseAfterPush => {
            "one per run, never closed after a push (toProcessed would drop queued pieces here)"
                .into()
        }
        P::Multipart => "one multi-part work per run, closed by one toProcessed".into(),
        // Over AMQP the run opens its work itself and counts every message before the first.
        P::CountedUpFront => {
            "one per run over AMQP, every message expected before the first is published".into()
        }
    }
}

/// What OpenCTI's workers need to import the pushed objects as the token's user: one line
/// per capability; only the knowledge one is fatal (nothing would be imported without it).
/// Then the user's draft and markings.
fn check_import_capabilities(gql: &Graphql, platform: &opencti::Platform, report: &mut Report) {
    match capabilities::require_worker_import(platform) {
        Ok(()) => report.pass(
            "import",
            format!(
                "the token's user has {} (the workers import as that user)",
                capabilities::KNOWLEDGE_UPDATE
            ),
        ),
        Err(e) => report.fail("import", &e),
    }
    for need in capabilities::settings_needs(platform) {
        let check = match need.what {
            "marking-definitions" => "markings",
            "kill-chain phases" => "kill-chains",
            _ => "labels",
        };
        if need.held {
            report.pass(
                check,
                format!("{} ({} can be imported)", need.capability, need.what),
            );
        } else {
            report.warn(
                check,
                format!(
                    "the token's user lacks {}: bundles with {} will not import fully",
                    need.capability, need.what
                ),
            );
        }
    }
    check_access(gql, platform, report);
}

/// The draft the user works in and the markings DISINFOX's data carries: `sync` and `push`
/// refuse both with the same text (`opencti/access.rs`).
fn check_access(gql: &Graphql, platform: &opencti::Platform, report: &mut Report) {
    let access = match Access::read(gql, platform) {
        Ok(a) => a,
        Err(e) => return report.fail("access", &e),
    };
    match access.require_no_draft() {
        Ok(()) if platform.version < version::DRAFT_CONTEXT => report.pass(
            "draft",
            format!("no drafts before OpenCTI {}", version::DRAFT_CONTEXT),
        ),
        Ok(()) => report.pass(
            "draft",
            "the token's user works in no draft: imports go to the knowledge base".into(),
        ),
        Err(e) => report.fail("draft", &e),
    }
    match access.require(gql, &access::carried_by_disinfox()) {
        Ok(()) => report.pass(
            "marking-use",
            "the token's user may use the DISARM marking DISINFOX's attack-patterns carry".into(),
        ),
        Err(e) => report.fail("marking-use", &e),
    }
}

/// Whether `verify` could read what OpenCTI holds (not needed by `sync`: a warning only).
fn check_verify(platform: &opencti::Platform, report: &mut Report) {
    match opencti::lookup::require_knowledge(platform) {
        Ok(()) => report.pass(
            "verify",
            format!(
                "the token's user has {} (verify can look objects up)",
                opencti::lookup::KNOWLEDGE
            ),
        ),
        Err(e) => report.warn("verify", format!("verify would exit 77: {}", render(&e))),
    }
}

/// Registration is idempotent and returns the stored state; it is how a connector reads it.
fn check_state(cfg: &Config, gql: &Graphql, platform: &opencti::Platform, report: &mut Report) {
    let id = match cfg.opencti() {
        Ok(peer) => peer.connector_id.as_str(),
        Err(e) => return report.fail("connector", &e),
    };
    let registered = if cfg.queue_protocol == QueueProtocol::Amqp {
        match crate::amqp::register(
            gql,
            platform,
            id,
            &cfg.connector_name,
            &cfg.connector_scope,
            &cfg.mq,
        ) {
            Ok((r, endpoint)) => {
                check_broker(cfg, &endpoint, report);
                r
            }
            Err(e) => return report.fail("connector", &e),
        }
    } else {
        match opencti::connector::register(
            gql,
            platform,
            id,
            &cfg.connector_name,
            &cfg.connector_scope,
        ) {
            Ok(r) => r,
            Err(e) => return report.fail("connector", &e),
        }
    };
    report.pass(
        "connector",
        format!("registered as '{}' ({})", cfg.connector_name, registered.id),
    );
    let file = match state::resolve_file(cfg.state_file.as_ref()) {
        Ok(f) => f,
        Err(e) => return report.fail("state", &e),
    };
    match file {
        Some(path) => match FileStore::open(&path).and_then(|f| f.load()) {
            Ok(s) => report.pass(
                "state",
                format!("file {}: {}", path.display(), s.describe()),
            ),
            Err(e) => report.fail("state", &e),
        },
        None => match parse_state(registered.state.as_deref()) {
            Ok(s) => report.pass("state", format!("in OpenCTI: {}", s.describe())),
            Err(why) => report.pass(
                "state",
                format!("in OpenCTI: unreadable ({why}); the next sync starts from the beginning"),
            ),
        },
    }
}

/// Connects, opens the vhost and finds the push exchange; publishes nothing.
fn check_broker(cfg: &Config, endpoint: &crate::amqp::Endpoint, report: &mut Report) {
    let result = crate::amqp::Client::connect(endpoint, &cfg.mq, cfg.http.connect_timeout)
        .and_then(|client| {
            let checked = client.check_exchange();
            client.close();
            checked
        });
    match result {
        Ok(()) => report.pass(
            "broker",
            format!("{} reachable, push exchange present", endpoint.describe()),
        ),
        Err(e) => report.fail("broker", &e),
    }
}

fn print(report: &Report, json: bool) -> Result<()> {
    let text = if json {
        let failed = report.first_failure();
        let doc = serde_json::json!({ "ok": failed.is_none(), "exit_code": failed.unwrap_or(0), "checks": report.lines });
        format!("{doc}\n")
    } else {
        let tty = std::io::stdout().is_terminal();
        let mut s = String::new();
        for l in &report.lines {
            let mark = match (l.ok, l.warning, tty) {
                (true, true, _) => "warn",
                (true, false, true) => "✓",
                (false, _, true) => "✗",
                (true, false, false) => "ok  ",
                (false, _, false) => "FAIL",
            };
            s.push_str(&format!("{mark} {:<13} {}\n", l.check, l.detail));
        }
        s
    };
    let text = crate::secret::scrub(&text);
    crate::output::write_to(None, |w| Ok(w.write_all(text.as_bytes())?))
}
