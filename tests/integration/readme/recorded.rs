//! The README's commands that involve programs needing root, a cluster, a daemon, or the cargo
//! running this test: run as printed with those programs as recording stand-ins (see the
//! parent module's documentation), then what they recorded is checked against the repository.

use std::path::Path;

use super::sandbox::{Sandbox, block, command_lines, cron_block, run_block};
use super::{env_file, peers, run_cron, text, write_private};
use crate::common::bin_path;

/// What `make test` runs: the whole suite, then the data tests on the asynchronous OpenCTI
/// model (`make test-async`).
const MAKE_TEST: [&str; 2] = [
    "cargo test --locked --all-targets",
    "cargo test --locked --test integration -- push:: sync:: ledger:: fixtures:: scale:: flags:: check:: hostile:: metrics:: pycti:: readme::",
];

/// The `examples/standins` binary `make test` (`--all-targets`) built beside this one.
fn standins_bin() -> Option<std::path::PathBuf> {
    // `cargo test --all-targets` compiles the example under a hashed name and may leave an
    // older `examples/standins` in place: build it the way `make demo` does (a no-op when it
    // is current). The test run holds no build lock while tests run.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = std::process::Command::new(cargo)
        .args(["build", "--locked", "--quiet", "--example", "standins"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .is_ok_and(|s| s.success());
    let path = bin_path().parent().unwrap().join("examples/standins");
    if built && path.is_file() {
        return Some(path);
    }
    crate::common::skip_or_fail("make demo: examples/standins could not be built");
    None
}

#[test]
fn readme_make_commands() {
    let sb = Sandbox::new();
    let repo = sb.path("repo");
    // cargo answers `make demo`'s build with the binaries this run built.
    sb.record(
        "cargo",
        r#"case " $* " in *" --message-format=json-render-diagnostics "*)
  printf '{"reason":"compiler-artifact","executable":"%s"}\n' "$DEMO_CLI" "$DEMO_STANDINS";;
esac"#,
    );
    sb.record("sudo", "");
    let mut expected = run_demo_and_make_test(&sb);
    // What `make build` would have left for `make install`.
    let release = repo.join("target/release/disinfox-sync");
    std::fs::create_dir_all(release.parent().unwrap()).unwrap();
    std::fs::copy(bin_path(), &release).unwrap();
    let pkg = sb.path("pkg");
    let mut cmd = sb.shell("sh", &repo);
    cmd.env("pkgdir", &pkg);
    run_block(cmd, &block("From source with make", "sh", 0));
    expected.extend(["cargo build --release --locked", "sudo make install"]);
    run_block(sb.shell("sh", &repo), &block("Tests", "sh", 0));
    expected.extend(MAKE_TEST);
    let calls: Vec<String> = sb.calls().iter().map(|c| c.join(" ")).collect();
    assert_eq!(calls, expected);
    check_packaged_tree(&pkg);
    // `make test` is CI's test command: .ci/run runs it as printed.
    let ci = std::fs::read_to_string(repo.join(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l == "make test"),
        ".ci/run runs make test"
    );
}

/// The README's first block (`make demo`, `make test`), and the cargo calls it made.
fn run_demo_and_make_test(sb: &Sandbox) -> Vec<&'static str> {
    let Some(standins) = standins_bin() else {
        return Vec::new();
    };
    let mut cmd = sb.shell("sh", &sb.path("repo"));
    cmd.env("DEMO_CLI", bin_path())
        .env("DEMO_STANDINS", standins);
    let out = run_block(cmd, &block("disinfox-sync", "sh", 0));
    let shown = text(&out.stdout);
    assert_eq!(shown.matches("exit status: 0").count(), 3, "{shown}");
    assert!(shown.contains("demo finished"), "{shown}");
    let mut calls = vec![
        "cargo build --locked --quiet --bin disinfox-sync --example standins --message-format=json-render-diagnostics",
    ];
    calls.extend(MAKE_TEST);
    calls
}

/// The packager's tree, installed for real by `make install PREFIX=/usr DESTDIR="$pkgdir"`.
fn check_packaged_tree(pkg: &Path) {
    let installed = pkg.join("usr/bin/disinfox-sync");
    let version = std::process::Command::new(&installed)
        .arg("--version")
        .output()
        .unwrap();
    assert!(version.status.success());
    assert!(pkg.join("usr/share/man/man1/disinfox-sync.1").is_file());
    assert!(
        pkg.join("usr/share/bash-completion/completions/disinfox-sync")
            .is_file()
    );
    let unit =
        std::fs::read_to_string(pkg.join("usr/lib/systemd/system/disinfox-sync.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/bin/disinfox-sync sync"),
        "{unit}"
    );
    assert!(
        pkg.join("usr/lib/systemd/system/disinfox-sync.timer")
            .is_file()
    );
}

#[test]
fn readme_systemd_commands() {
    let sb = Sandbox::new();
    let repo = sb.path("repo");
    for tool in ["sudo", "sudoedit", "systemctl", "journalctl"] {
        sb.record(tool, "");
    }
    let script = block("From a systemd timer", "sh", 0);
    run_block(sb.shell("sh", &repo), &script);
    let calls = sb.calls();
    // One recorded call per line: nothing in the block ran for real.
    assert_eq!(calls.len(), command_lines(&script).len(), "{calls:?}");
    for call in &calls {
        let argv: Vec<&str> = call.iter().map(String::as_str).collect();
        let argv = if argv[0] == "sudo" {
            &argv[1..]
        } else {
            &argv[..]
        };
        check_systemd_call(&repo, argv);
    }
}

/// What one line of the systemd block names exists: the make target, the unit, the
/// credential and environment files the service reads.
fn check_systemd_call(repo: &Path, argv: &[&str]) {
    let service =
        std::fs::read_to_string(repo.join("contrib/systemd/disinfox-sync.service")).unwrap();
    let makefile = std::fs::read_to_string(repo.join("Makefile")).unwrap();
    match argv {
        ["make", "install"] => assert!(makefile.contains("\ninstall:")),
        ["mkdir", "-p", dir] => assert!(service.contains(&format!(":{dir}/")), "{dir}"),
        ["sh", "-c", script] => {
            let file = script.rsplit("> ").next().unwrap().trim();
            let name = file.rsplit('/').next().unwrap();
            assert!(
                service.contains(&format!("LoadCredential={name}:{file}\n")),
                "{file}"
            );
        }
        ["install", "-m", "600", from, to] => {
            assert!(repo.join(from).is_file(), "{from}");
            assert!(
                service.contains(&format!("EnvironmentFile=-{to}\n")),
                "{to}"
            );
        }
        ["sudoedit", file] => assert!(service.contains(&format!("EnvironmentFile=-{file}\n"))),
        ["systemctl", "daemon-reload"] => {}
        ["systemctl", .., unit] | ["journalctl", "-u", unit] => {
            assert!(repo.join("contrib/systemd").join(unit).is_file(), "{unit}");
            assert!(
                makefile.contains(&format!("contrib/systemd/{unit}")),
                "make install installs {unit}"
            );
        }
        other => panic!("a command the test does not check: {other:?}"),
    }
}

/// The real kubectl, when installed (it is no Debian package).
fn real_kubectl() -> Option<std::path::PathBuf> {
    let found = ["/usr/local/bin/kubectl", "/usr/bin/kubectl"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file());
    if found.is_none() {
        crate::common::skip("kubectl is not installed: `kubectl kustomize` only recorded");
    }
    found
}

#[test]
fn readme_kubernetes_commands() {
    let sb = Sandbox::new();
    let repo = sb.path("repo");
    write_credentials_as_printed(&sb);
    let real = real_kubectl();
    let hand_over = real
        .as_ref()
        .map(|k| {
            format!(
                "[ \"$1\" = kustomize ] && exec {} \"$@\"; exit 0",
                k.display()
            )
        })
        .unwrap_or_default();
    sb.record("kubectl", &hand_over);
    let out = run_block(
        sb.shell("sh", &repo),
        &block("Kubernetes quick start", "sh", 1),
    );
    let rendered = text(&out.stdout);
    // The second instance's credentials, written as in step 3.
    let overlay = "k8s/overlays/example-second-instance";
    for name in ["opencti-token", "disinfox-api-key"] {
        write_private(&repo.join(overlay).join("secrets").join(name), "second");
    }
    let out2 = run_block(
        sb.shell("sh", &repo),
        &block("Several DISINFOX instances", "sh", 0),
    );
    if real.is_some() {
        assert!(
            rendered.contains("kind: CronJob") && rendered.contains("kind: Secret"),
            "{rendered}"
        );
        assert!(text(&out2.stdout).contains("name: disinfox-sync-second"));
    }
    check_kubectl_calls(&sb);
}

/// Step 3: each line reads a credential from the terminal; here from its stdin.
fn write_credentials_as_printed(sb: &Sandbox) {
    let repo = sb.path("repo");
    for (line, value) in command_lines(&block("Kubernetes quick start", "sh", 0))
        .into_iter()
        .zip(["octi-token-value", "dx-key-value"])
    {
        let mut cmd = sb.shell("sh", &repo);
        cmd.stdin(std::process::Stdio::piped());
        let mut child = cmd.arg("-e").arg("-c").arg(line).spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(value.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success(), "{line}");
    }
    for (name, value) in [
        ("opencti-token", "octi-token-value"),
        ("disinfox-api-key", "dx-key-value"),
    ] {
        let path = repo.join("k8s/base/secrets").join(name);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), value);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
}

/// What the kubectl lines name exists: kustomizations, the CronJob in its namespace, the Job
/// whose log is followed being the one just created.
fn check_kubectl_calls(sb: &Sandbox) {
    let repo = sb.path("repo");
    let cronjob = std::fs::read_to_string(repo.join("k8s/base/cronjob.yaml")).unwrap();
    let mut job = None;
    for call in sb.calls() {
        let argv: Vec<&str> = call.iter().map(String::as_str).collect();
        match argv.as_slice() {
            ["kubectl", "kustomize", dir] | ["kubectl", "apply", "-k", dir] => {
                assert!(repo.join(dir).join("kustomization.yaml").is_file(), "{dir}");
            }
            ["kubectl", "-n", ns, "create", "job", from, name] => {
                let cron = from
                    .strip_prefix("--from=cronjob/")
                    .expect("--from=cronjob/NAME");
                assert!(cronjob.contains("kind: CronJob"));
                assert!(
                    cronjob.contains(&format!("\n  name: {cron}\n  namespace: {ns}\n")),
                    "{cron} in {ns}"
                );
                job = Some(name.to_string());
            }
            ["kubectl", "-n", _, "logs", "-f", target] => {
                assert_eq!(
                    Some(format!("job/{}", job.as_deref().unwrap_or("?"))).as_deref(),
                    Some(*target)
                );
            }
            other => panic!("a command the test does not check: {other:?}"),
        }
    }
    assert!(job.is_some(), "the README starts a Job");
}

#[test]
fn readme_container_commands() {
    let env = peers();
    let sb = Sandbox::new();
    let repo = sb.path("repo");
    std::fs::write(
        repo.join("disinfox-sync.env"),
        container_env_file(&sb, &env),
    )
    .unwrap();
    sb.record(
        "docker",
        r#"[ "$1" != compose ] || [ -f "$COMPOSE_FILE" ] || { echo "no compose file $COMPOSE_FILE" >&2; exit 1; }"#,
    );
    run_block(sb.shell("sh", &repo), &block("Container image", "sh", 0));
    // The compose cron line, its checkout in /opt/disinfox-sync being the sandbox's copy.
    // /etc/cron.d's format (a user after the schedule), as contrib/cron ships it.
    let printed = block("Container image", "cron", 0);
    let shipped = std::fs::read_to_string(repo.join("contrib/cron/disinfox-sync-compose")).unwrap();
    assert_eq!(command_lines(&printed), command_lines(&shipped));
    let cron = cron_block(&printed, true);
    let compose = cron
        .env
        .iter()
        .find(|(k, _)| k == "COMPOSE_FILE")
        .expect("COMPOSE_FILE")
        .1
        .clone();
    let rel = compose
        .strip_prefix("/opt/disinfox-sync/")
        .expect("a checkout in /opt/disinfox-sync");
    let home = sb.path("home");
    let out = run_cron(
        &sb,
        &cron,
        &home,
        &[("COMPOSE_FILE", repo.join(rel).display().to_string())],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    check_docker_calls(&sb, &repo.join(rel));
}

/// What the docker lines name exists (Dockerfile, env file, compose service), `docker run`
/// runs the image just built, and its entry point runs with those arguments and settings.
fn check_docker_calls(sb: &Sandbox, compose: &Path) {
    let repo = sb.path("repo");
    let home = sb.path("home");
    let compose_yml = std::fs::read_to_string(compose).unwrap();
    let dockerfile = std::fs::read_to_string(repo.join("k8s/Dockerfile")).unwrap();
    let mut tag = None;
    for call in sb.calls() {
        let argv: Vec<&str> = call.iter().map(String::as_str).collect();
        match argv.as_slice() {
            ["docker", "build", "-f", file, "-t", t, "."] => {
                assert!(repo.join(file).is_file() && repo.join(".dockerignore").is_file());
                tag = Some(t.to_string());
            }
            [
                "docker",
                "run",
                "--rm",
                "--env-file",
                file,
                "--user",
                user,
                "-v",
                mount,
                image,
                args @ ..,
            ] => {
                assert_eq!(Some(*image), tag.as_deref(), "runs the image just built");
                assert!(repo.join(file).is_file(), "{file}");
                assert!(dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/disinfox-sync\"]"));
                assert_eq!(*user, own_ids(), "the container runs as the secrets' owner");
                let settings = std::fs::read_to_string(repo.join(file)).unwrap();
                let mut cmd = std::process::Command::new(bin_path());
                cmd.env_clear().env("HOME", &home).args(args);
                for (k, v) in settings.lines().filter_map(|l| l.split_once('=')) {
                    cmd.env(k, in_container(mount, k, v));
                }
                // The image's entry point with those arguments, settings and mounted files.
                let out = cmd.output().unwrap();
                assert!(out.status.success(), "{}", text(&out.stderr));
            }
            ["docker", "compose", "run", "--rm", service, args @ ..] => {
                assert!(
                    compose_yml.contains(&format!("\nservices:\n  {service}:\n")),
                    "{service}"
                );
                assert_eq!(args, ["sync"]);
            }
            other => panic!("a command the test does not check: {other:?}"),
        }
    }
    assert!(tag.is_some());
}

/// The README's `disinfox-sync.env` as printed for its `*_FILE` paths (which the container
/// sees under its mount), the stand-ins' addresses for the rest; the secrets are written where
/// the README says, `./secrets/` beside it.
fn container_env_file(sb: &Sandbox, env: &crate::common::Peers) -> String {
    let mut out = String::new();
    for line in env_file(sb, env).lines() {
        let (key, value) = line.split_once('=').unwrap();
        let value = match key {
            "OPENCTI_TOKEN_FILE" | "DISINFOX_API_KEY_FILE" => {
                let printed = block("Usage", "dotenv", 0)
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_owned))
                    .unwrap();
                let name = Path::new(&printed).file_name().unwrap();
                let secret = sb.path("repo/secrets").join(name);
                std::fs::create_dir_all(secret.parent().unwrap()).unwrap();
                std::fs::copy(value, &secret).unwrap();
                printed
            }
            _ => value.to_owned(),
        };
        out.push_str(&format!("{key}={value}\n"));
    }
    out
}

/// A `*_FILE` setting's path inside the container, as the host file the `-v SRC:DST:ro` mount
/// shows there; it must be under the mount and exist.
fn in_container(mount: &str, key: &str, value: &str) -> String {
    if !key.ends_with("_FILE") {
        return value.to_owned();
    }
    let mut parts = mount.split(':');
    let (src, dst) = (parts.next().unwrap(), parts.next().unwrap());
    assert_eq!(parts.next(), Some("ro"), "a read-only mount: {mount}");
    let rel = value
        .strip_prefix(&format!("{dst}/"))
        .unwrap_or_else(|| panic!("{key}={value} is not under the mount {mount}"));
    let host = Path::new(src).join(rel);
    assert!(host.is_file(), "{key}: {} is missing", host.display());
    host.display().to_string()
}

fn own_ids() -> String {
    // SAFETY: getuid and getgid only read the process's credentials.
    unsafe { format!("{}:{}", libc::getuid(), libc::getgid()) }
}
