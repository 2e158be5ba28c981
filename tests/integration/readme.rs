//! Commands the README prints, run as printed.
//!
//! Which blocks are commands: a fenced block whose info string is `sh`, `bash`, `console`,
//! `shell`, `zsh` or `cron` shows commands to type (or a crontab to install), and every one of
//! them is listed in [`RUN`] with the test that runs it; `readme_every_command_block_is_run`
//! fails on one that is not. `yaml`, `ini` and `dotenv` blocks are files to write, and the
//! untagged block is a diagram: data, never run. Any other info string fails that test too,
//! until someone decides which kind it is.
//!
//! How they run: each block's text, unchanged, by `sh -e -c` (`bash -e -c` for a `bash`
//! block; `-e` stops at the first failing line, as an operator would), in a sandbox
//! (`readme/sandbox.rs`): its own HOME and XDG directories, a copy of the repository files
//! the commands name as the working directory, the built binary first on PATH, the settings
//! pointing at the DISINFOX and OpenCTI stand-ins. A crontab's schedule line runs as cron runs
//! it: `sh -c` with what follows the five schedule fields (six in `/etc/cron.d`, whose sixth
//! names the user), in HOME, with cron's environment (HOME, LOGNAME, SHELL, PATH=/usr/bin:/bin)
//! and the block's `NAME=value` lines. The sandbox maps what it cannot provide where the
//! README says: `/usr/local/bin` on a crontab's PATH is the built binary's directory, `/etc`
//! is a temporary directory (`DISINFOX_SYNC_SYSCONFDIR`), and `/opt/disinfox-sync` the copy.
//! Exceptions to "one block, one shell": the Kubernetes credential lines read the terminal, so
//! each runs alone with its credential on stdin; the Usage block's `disinfox-sync.env` is the
//! README's `dotenv` block with each value replaced by the stand-ins' (same keys).
//! The metrics commands push to a real Pushgateway (Debian's `prometheus-pushgateway`).
//!
//! Programs that need root, a cluster or a daemon are recording stand-ins first on PATH (they
//! log their arguments and run nothing; the tests in `readme/recorded.rs`): `sudo`, `sudoedit`, `systemctl`, `journalctl`,
//! `docker`, and `kubectl` except `kubectl kustomize`, which is the real kubectl where one is
//! installed. The tests then check the recorded arguments and that every file, unit, make
//! target, Kubernetes object and compose service they name exists; for `docker run … IMAGE
//! ARGS` the test also runs the image's entry point (the built binary) with ARGS and the
//! `--env-file`'s settings, against the stand-ins. `cargo` is a recording
//! stand-in under `make build` and `make test` (the real cargo is the one running this test;
//! `make test` itself is what `.ci/run` runs, checked below); `make demo` runs for real, its
//! `cargo build` answered with the binaries this test run already built.

mod install;
mod recorded;
pub(crate) mod sandbox;

use std::path::Path;

use chrono::Duration;

use crate::common::{CONNECTOR_ID, Peers, bin_path, incidents};
use sandbox::{Sandbox, block, blocks, cron_block, run_block};

/// The command blocks, by heading and info string, in README order; each is run by a test
/// below (named in the comment).
const RUN: &[(&str, &str)] = &[
    ("disinfox-sync", "sh"),                     // readme_make_commands
    ("Install", "sh"),                           // install::readme_archive_install
    ("Install", "sh"),                           // install::readme_cargo_install
    ("From source with make", "sh"),             // readme_make_commands
    ("Tests", "sh"),                             // readme_make_commands
    ("Usage", "bash"),                           // readme_usage_commands
    ("From cron", "cron"),                       // readme_crontabs
    ("From a systemd timer", "sh"),              // readme_systemd_commands
    ("From a systemd timer", "cron"),            // readme_crontabs
    ("Auditing and recovery: `verify`", "bash"), // verify::readme_verify_commands
    ("Pushing over AMQP (`CONNECTOR_QUEUE_PROTOCOL=amqp`)", "sh"), // amqp::…_real_rabbitmq
    ("Metrics", "sh"),                           // readme_metrics_commands
    ("Kubernetes quick start", "sh"),            // readme_kubernetes_commands (secrets)
    ("Kubernetes quick start", "sh"),            // readme_kubernetes_commands (kubectl)
    ("Container image", "sh"),                   // readme_container_commands
    ("Container image", "cron"),                 // readme_container_commands
    ("Several DISINFOX instances", "sh"),        // readme_kubernetes_commands (overlay)
];

const COMMAND_LANGS: &[&str] = &["sh", "bash", "console", "shell", "zsh", "cron"];
const DATA_LANGS: &[&str] = &["yaml", "ini", "dotenv", ""];

#[test]
fn readme_every_command_block_is_run() {
    let mut found = Vec::new();
    for b in blocks() {
        if COMMAND_LANGS.contains(&b.lang.as_str()) {
            found.push((b.section, b.lang));
        } else {
            assert!(
                DATA_LANGS.contains(&b.lang.as_str()),
                "README block `{}` under \"{}\": neither a command nor a data language here",
                b.lang,
                b.section
            );
            // A diagram or a file, not a command someone would type.
            for line in b.text.lines() {
                let first = line.split_whitespace().next().unwrap_or("");
                assert!(
                    !["$", "disinfox-sync", "make", "sudo", "kubectl", "docker"].contains(&first),
                    "a command in a `{}` block under \"{}\": {line}",
                    b.lang,
                    b.section
                );
            }
        }
    }
    let expected: Vec<(String, String)> = RUN
        .iter()
        .map(|(s, l)| (s.to_string(), l.to_string()))
        .collect();
    assert_eq!(
        found, expected,
        "the README's command blocks changed: run the new one in a test and list it in RUN"
    );
}

/// Peers with three incidents from five minutes ago.
fn peers() -> Peers {
    let env = Peers::start("7.260510.0");
    let objs = incidents(3, 0, env.dx.server_now() - Duration::minutes(5));
    env.dx.add_objects(&objs);
    env
}

fn write_secret(path: &Path, value: &str) -> String {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("{value}\n")).unwrap();
    path.to_str().unwrap().to_owned()
}

/// The README's `disinfox-sync.env` with each value replaced by the stand-ins' (the keys as
/// printed; a key this test does not know fails).
pub(crate) fn env_file(sb: &Sandbox, env: &Peers) -> String {
    let mut out = String::new();
    for line in block("Usage", "dotenv", 0).lines() {
        let (key, printed) = line.split_once('=').expect("KEY=value");
        assert!(
            !printed.contains(['"', '\'']) && !key.starts_with("export"),
            "{line}"
        );
        let value = match key {
            "DISINFOX_URL" => env.dx.endpoint_url(),
            "DISINFOX_API_KEY_FILE" => {
                write_secret(&sb.path("secrets/disinfox"), &env.dx.api_key())
            }
            "OPENCTI_URL" => env.octi.url(),
            "OPENCTI_TOKEN_FILE" => write_secret(&sb.path("secrets/opencti"), &env.octi.token()),
            "CONNECTOR_ID" => CONNECTOR_ID.to_owned(),
            other => panic!("the README's disinfox-sync.env sets {other}: map it here"),
        };
        out.push_str(&format!("{key}={value}\n"));
    }
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn readme_usage_commands() {
    let env = peers();
    let sb = Sandbox::new();
    let repo = sb.path("repo");
    std::fs::write(repo.join("disinfox-sync.env"), env_file(&sb, &env)).unwrap();
    let out = run_block(sb.shell("bash", &repo), &block("Usage", "bash", 0));
    let stdout = text(&out.stdout);
    // check, sync, sync --json, the pipeline's push: all against the stand-ins.
    assert!(stdout.contains("\"status\""), "sync --json: {stdout}");
    assert!(env.octi.is_registered(CONNECTOR_ID));
    let bundle_ids = |name: &str| crate::common::ids(&std::fs::read(repo.join(name)).unwrap());
    assert_eq!(bundle_ids("week.json").len(), 3 * 5, "week.json");
    assert_eq!(bundle_ids("nov.json"), bundle_ids("week.json"));
    // The sync and the piped push each sent every incident object.
    let received = env.octi.received_ids();
    let first = &bundle_ids("week.json")[5];
    assert!(
        received.iter().filter(|id| *id == first).count() >= 2,
        "{received:?}"
    );
    let state = env.octi.state(CONNECTOR_ID).expect("a stored state");
    assert!(
        state.contains("2026-11-01T00:00:00"),
        "reset-state --to: {state}"
    );
}

/// The stand-ins' settings as a `config.yml`, with no retries (a failing run ends at once).
fn config_yml(env: &Peers) -> String {
    format!(
        "opencti:\n  url: '{}'\n  token: '{}'\nconnector:\n  id: '{CONNECTOR_ID}'\n\
         disinfox:\n  url: '{}'\n  api_key: '{}'\ndisinfox_sync:\n  retries: 0\n",
        env.octi.url(),
        env.octi.token(),
        env.dx.endpoint_url(),
        env.dx.api_key()
    )
}

fn write_private(path: &Path, content: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
    let mut perm = std::fs::metadata(path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o600);
    std::fs::set_permissions(path, perm).unwrap();
}

/// Runs a crontab block's line as cron would, in `home`, with `extra` added to cron's
/// environment (the sandbox's stand-ins for /etc and /opt).
fn run_cron(
    sb: &Sandbox,
    cron: &sandbox::CronBlock,
    home: &Path,
    extra: &[(&str, String)],
) -> std::process::Output {
    let mut cmd = std::process::Command::new("sh");
    cmd.current_dir(home)
        .env_clear()
        .env("HOME", home)
        .env("LOGNAME", cron.user.as_deref().unwrap_or("operator"))
        .env("SHELL", "/bin/sh")
        .env("PATH", sb.search_path("/usr/bin:/bin"))
        .env("SANDBOX_CALLS", sb.path("calls"));
    for (name, value) in &cron.env {
        match name.as_str() {
            "PATH" => {
                let rest = value
                    .strip_prefix("/usr/local/bin:")
                    .expect("a crontab PATH starting with /usr/local/bin");
                cmd.env("PATH", sb.search_path(rest))
            }
            _ => cmd.env(name, value),
        };
    }
    cmd.envs(extra.iter().map(|(k, v)| (k, v)));
    cmd.arg("-c").arg(&cron.command).output().unwrap()
}

#[test]
fn readme_crontabs() {
    let mut env = peers();
    let sb = Sandbox::new();
    // A user's crontab: its settings in the user's config.yml.
    let user = cron_block(&block("From cron", "cron", 0), false);
    let home = sb.path("home");
    write_private(
        &home.join(".config/disinfox-sync/config.yml"),
        &config_yml(&env),
    );
    let out = run_cron(&sb, &user, &home, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout) + &text(&out.stderr),
        "",
        "cron would mail this"
    );
    // The cursor in OpenCTI, where the Python connector keeps it; nothing on disk.
    let cursor = env.octi.state(CONNECTOR_ID).expect("a state in OpenCTI");
    assert!(cursor.contains("last_fetch"), "{cursor}");
    assert!(!home.join(".local/state").exists());
    let imported = env.octi.received_ids().len();
    assert!(imported >= 15, "{imported} objects imported");

    // /etc/cron.d: the sixth field is the user; settings in /etc/disinfox-sync/config.yml.
    let system = cron_block(&block("From a systemd timer", "cron", 0), true);
    assert_eq!(system.user.as_deref(), Some("disinfox-sync"));
    let home = sb.path("var/lib/disinfox-sync");
    std::fs::create_dir_all(&home).unwrap();
    write_private(&sb.path("etc/disinfox-sync/config.yml"), &config_yml(&env));
    let etc = (
        "DISINFOX_SYNC_SYSCONFDIR",
        sb.path("etc").display().to_string(),
    );
    let out = run_cron(&sb, &system, &home, std::slice::from_ref(&etc));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout) + &text(&out.stderr),
        "",
        "cron would mail this"
    );
    assert!(!home.join(".local/state").exists());
    // It carried on from the cursor the first crontab left in OpenCTI: nothing new to send.
    assert_eq!(env.octi.received_ids().len(), imported, "no second import");

    // A failing run is what cron mails: an error line, a failure status.
    env.octi.stop();
    let out = run_cron(&sb, &system, &home, &[etc]);
    let mail = text(&out.stdout) + &text(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{mail}");
    assert!(mail.contains("disinfox-sync: error: "), "{mail}");
}

#[test]
fn readme_metrics_commands() {
    let Some(pg) = crate::metrics::Pushgateway::start() else {
        return;
    };
    let env = peers();
    let sb = Sandbox::new();
    let textfile = sb.path("textfile");
    std::fs::create_dir_all(&textfile).unwrap();
    let mut cmd = sb.shell("sh", &sb.path("repo"));
    cmd.env("TEXTFILE_DIR", &textfile)
        .env("PUSHGATEWAY_URL", pg.url())
        .env("DISINFOX_URL", env.dx.endpoint_url())
        .env("DISINFOX_API_KEY", env.dx.api_key())
        .env("OPENCTI_URL", env.octi.url())
        .env("OPENCTI_TOKEN", env.octi.token())
        .env("CONNECTOR_ID", CONNECTOR_ID);
    run_block(cmd, &block("Metrics", "sh", 0));
    let prom = std::fs::read_to_string(textfile.join("disinfox-sync.prom")).unwrap();
    assert!(prom.contains("disinfox_sync_runs_total{"), "{prom}");
    let scraped = pg.get("/metrics").unwrap().text().unwrap();
    assert!(
        scraped
            .lines()
            .any(|l| l.starts_with("disinfox_sync_runs_total{") && l.contains(CONNECTOR_ID)),
        "{scraped}"
    );
}

/// An empty variable is an unset one: no complaint about a flag nobody typed.
#[test]
fn empty_variables_mean_unset() {
    let env = Peers::start("6.9.17");
    let out = env
        .cmd()
        .args(["sync", "--json"])
        .env("DISINFOX_SYNC_STATE_FILE", "")
        .env("DISINFOX_SYNC_CONFIG", "")
        .env("CONNECTOR_QUEUE_THRESHOLD", "")
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(!stderr.contains("--state-file"), "{stderr}");
    // The cursor went to OpenCTI, not to a default state file.
    assert!(
        !env.home
            .path()
            .join("state/disinfox-sync/state.json")
            .exists()
    );
}

/// The CronJob's bounds hold together: the disk a run may take (DISINFOX_SYNC_DISK_LIMIT) is
/// enough to stage the largest answer it accepts (--max-bundle-size, default 1G) and stays
/// within the emptyDir's sizeLimit and the container's ephemeral-storage limit, so the run says
/// 74 before the kubelet would evict it; and the memory limit keeps the 64 MiB that `make bench`
/// checks sync's peak against.
#[test]
fn cronjob_disk_limit_fits_its_empty_dir_and_the_largest_answer() {
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/k8s/base/cronjob.yaml"
    ))
    .unwrap();
    let after = |key: &str, from: &str| -> String {
        from.split(key)
            .nth(1)
            .unwrap_or_else(|| panic!("{key} in the CronJob"))
            .split_whitespace()
            .next()
            .unwrap()
            .trim_matches('"')
            .to_owned()
    };
    let kubernetes = |q: String| -> u64 {
        let (n, unit) = q.split_at(q.find(|c: char| !c.is_ascii_digit()).unwrap_or(q.len()));
        let n: u64 = n.parse().unwrap();
        n << match unit {
            "Mi" => 20,
            "Gi" => 30,
            other => panic!("unit {other}"),
        }
    };
    let parse = disinfox_sync::testing::parse_size;
    let args = yaml
        .lines()
        .find(|l| l.trim_start().starts_with("args:"))
        .unwrap();
    let max_answer = match args.split("\"--max-bundle-size\", \"").nth(1) {
        Some(size) => parse(size.split('"').next().unwrap()).unwrap(),
        None => 1 << 30,
    };
    let disk = parse(&after(
        "DISINFOX_SYNC_DISK_LIMIT\n                  value:",
        &yaml,
    ))
    .unwrap();
    let size_limit = kubernetes(after("sizeLimit:", &yaml));
    let limits = yaml.split("limits:").nth(1).unwrap();
    let storage = kubernetes(after("ephemeral-storage:", limits));
    let memory = kubernetes(after("memory:", limits));
    let need = max_answer + max_answer * 3 / 4;
    assert!(
        need <= disk,
        "{need} needed for a {max_answer}-byte answer, {disk} allowed"
    );
    assert!(
        disk < size_limit,
        "{disk} against a sizeLimit of {size_limit}"
    );
    assert!(
        size_limit <= storage,
        "sizeLimit {size_limit} over the limit {storage}"
    );
    assert!(memory >= 64 << 20, "memory limit {memory}");
}

/// README's exit table is the one `src/exit_codes.rs` defines, as `--help` shows it.
#[test]
fn readme_exit_table_is_the_one_definition() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## Exit status\n")
        .nth(1)
        .expect("README has an Exit status section");
    let table: String = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        table,
        disinfox_sync::testing::markdown(),
        "README's exit table drifted from src/exit_codes.rs"
    );
    let help = std::process::Command::new(bin_path())
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(
        help.contains(&disinfox_sync::testing::help_text()),
        "{help}"
    );
}

/// Every `disinfox-sync …` the README shows, in a command block or inline, and the arguments a
/// `docker run` hands the image, use only flags that command has (`--help` lists them), and
/// `docker run`'s own flags are ones docker has.
#[test]
fn readme_commands_use_only_flags_that_exist() {
    const DOCKER_RUN: &[&str] = &[
        "--rm",
        "--env-file",
        "--user",
        "-v",
        "--volume",
        "-e",
        "--env",
    ];
    let mut lines: Vec<String> = sandbox::blocks()
        .into_iter()
        .filter(|b| COMMAND_LANGS.contains(&b.lang.as_str()))
        .flat_map(|b| b.text.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    lines.extend(
        sandbox::README
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned),
    );
    let mut checked = 0;
    for line in &lines {
        let line = line.split(" #").next().unwrap();
        for segment in line.split(['|', ';']).map(str::trim) {
            let words = shell_words(segment);
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let args = match words.as_slice() {
                ["disinfox-sync", args @ ..] => args,
                ["docker", "run", rest @ ..] => {
                    let mut i = 0;
                    while i < rest.len() && rest[i].starts_with('-') {
                        assert!(
                            DOCKER_RUN.contains(&rest[i]),
                            "docker run {}: {line}",
                            rest[i]
                        );
                        i += if ["--rm"].contains(&rest[i]) { 1 } else { 2 };
                    }
                    // The image, then the CLI's arguments.
                    rest.get(i + 1..).unwrap_or_default()
                }
                _ => continue,
            };
            check_flags(args, line);
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked} commands checked");
}

/// Words as the shell splits them, for the quoting the README uses (`"…"`, `'…'`).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (_, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// `args` (a subcommand and its flags) against that subcommand's `--help`.
fn check_flags(args: &[&str], line: &str) {
    let sub = args.iter().find(|a| !a.starts_with('-'));
    let mut help = std::process::Command::new(bin_path());
    if let Some(sub) = sub.filter(|s| s.chars().all(|c| c.is_ascii_lowercase() || c == '-')) {
        help.arg(sub);
    }
    let out = help.arg("--help").output().unwrap();
    assert!(out.status.success(), "{line}: {}", text(&out.stderr));
    let help = text(&out.stdout);
    for flag in args.iter().filter(|a| a.starts_with('-')) {
        let flag = flag.split(['=', '[']).next().unwrap();
        assert!(
            help.split(|c: char| c.is_whitespace() || c == ',')
                .any(|w| w == flag
                    || w.starts_with(&format!("{flag}["))
                    || w.starts_with(&format!("{flag}="))),
            "`{line}`: {flag} is not a flag of that command"
        );
    }
}
