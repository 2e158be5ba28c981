//! Shared helpers: an isolated command, synthetic DISINFOX objects, the shared fixtures.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

pub const CONNECTOR_ID: &str = "3f6e2c1a-8b4d-4e7a-9c2b-5d1f0a7e9b34";

/// What a token's user holds with OpenCTI's built-in "Connector" role: enough to register,
/// push, read works and the queue, and for the workers to import every object as that user.
pub const CONNECTOR_ROLE: &[&str] = &[
    "CONNECTORAPI",
    "MODULES_MODMANAGE",
    "KNOWLEDGE_KNUPDATE_KNDELETE",
    "KNOWLEDGE_KNUPLOAD",
    "KNOWLEDGE_KNASKIMPORT",
    "SETTINGS_SETMARKINGS",
    "SETTINGS_SETLABELS",
    "SETTINGS_SETKILLCHAINPHASES",
];

/// A stand-in whose token's user has the "Connector" role.
pub fn opencti_as_connector(
    opts: crate::support::opencti::OpenctiOptions,
) -> crate::support::opencti::OpenctiStandin {
    let octi = crate::support::opencti::OpenctiStandin::start(opts);
    octi.set_capabilities(CONNECTOR_ROLE.iter().copied());
    octi
}

/// The CLI with nothing inherited: no HOME config, no stray variables.
pub fn cli(home: &Path) -> Command {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("disinfox-sync");
    cmd.env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_DATA_HOME", home.join("data"))
        .args(["--retry-delay", "10ms", "--timeout", "5s"]);
    cmd
}

pub fn bin_path() -> PathBuf {
    assert_cmd::cargo::cargo_bin!("disinfox-sync").to_path_buf()
}

pub fn ms(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn uuid_from(n: u64, salt: u64) -> String {
    let x = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt;
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        x >> 32,
        (x >> 16) & 0xffff,
        x & 0xfff,
        (x >> 20) & 0xfff,
        n
    )
}

/// One DISINFOX incident as the real server shapes it: intrusion-set, threat-actor, location,
/// and the relationships between them, all stamped `modified`.
pub fn incident(n: u64, modified: DateTime<Utc>) -> Vec<String> {
    let at = ms(modified);
    let ident = "identity--9ac61d58-60f0-40b8-8b96-2f1f4858534b";
    let is = format!("intrusion-set--{}", uuid_from(n, 1));
    let ta = format!("threat-actor--{}", uuid_from(n, 2));
    let loc = format!("location--{}", uuid_from(n, 3));
    let rel = |k: u64, ty: &str, target: &str| {
        json!({"created": at, "created_by_ref": ident, "id": format!("relationship--{}", uuid_from(n, 10 + k)),
               "modified": at, "relationship_type": ty, "source_ref": is, "spec_version": "2.1",
               "target_ref": target, "type": "relationship"})
        .to_string()
    };
    vec![
        json!({"created": at, "created_by_ref": ident, "description": format!("Incident number {n} described at some length"),
               "first_seen": "2024-01-01T00:00:00Z", "id": is, "labels": ["incident", "disinformation"],
               "modified": at, "name": format!("Incident {n}"), "spec_version": "2.1", "type": "intrusion-set"}).to_string(),
        json!({"created": at, "created_by_ref": ident, "id": ta, "labels": ["threat-actor"], "modified": at,
               "name": format!("Actor {n}"), "spec_version": "2.1", "threat_actor_types": ["nation-state"], "type": "threat-actor"}).to_string(),
        json!({"country": format!("Country {n}"), "created": at, "created_by_ref": ident, "id": loc, "modified": at,
               "name": format!("Country {n}"), "spec_version": "2.1", "type": "location"}).to_string(),
        rel(1, "attributed-to", &ta),
        rel(2, "targets", &loc),
    ]
}

/// `count` incidents, one second apart, the last one `last` (objects per incident: 5).
pub fn incidents(count: u64, first: u64, last: DateTime<Utc>) -> Vec<String> {
    (0..count)
        .flat_map(|i| incident(first + i, last - Duration::seconds((count - 1 - i) as i64)))
        .collect()
}

/// `../shared/fixtures/disinfox`, if this checkout has it. Absent under CI is a failure.
pub fn shared_dir(sub: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("shared")
        .join(sub);
    if dir.is_dir() {
        return Some(dir);
    }
    skip_or_fail(&format!("{} is absent", dir.display()));
    None
}

/// Object ids in a bundle text, in order.
pub fn ids(bundle: &[u8]) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(bundle).expect("bundle is JSON");
    assert_eq!(v["type"], "bundle");
    v["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A bundle of `count` synthetic incidents dated `at`.
pub fn bundle_of(count: u64, at: DateTime<Utc>) -> String {
    let objects = incidents(count, 0, at);
    let refs: Vec<&str> = objects.iter().map(String::as_str).collect();
    crate::support::disinfox::render_bundle(&refs)
}

/// Every in-bundle reference of each received object points at an object received earlier.
pub fn assert_dependency_order(received: &[serde_json::Value]) {
    let mut seen = std::collections::HashSet::new();
    let all: std::collections::HashSet<&str> =
        received.iter().map(|o| o["id"].as_str().unwrap()).collect();
    for o in received {
        for r in refs_of(o) {
            if all.contains(r.as_str()) {
                assert!(
                    seen.contains(&r),
                    "{} was pushed before {r}, which it references",
                    o["id"]
                );
            }
        }
        seen.insert(o["id"].as_str().unwrap().to_owned());
    }
}

fn refs_of(o: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(map) = o.as_object() {
        for (k, v) in map {
            if k.ends_with("_ref") {
                out.extend(v.as_str().map(str::to_owned));
            } else if k.ends_with("_refs") {
                out.extend(
                    v.as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|x| x.as_str().map(str::to_owned)),
                );
            }
        }
    }
    out
}

/// Both stand-ins and an isolated home: what `sync` and `check` run against.
pub struct Peers {
    pub home: tempfile::TempDir,
    pub dx: crate::support::disinfox::DisinfoxStandin,
    pub octi: crate::support::opencti::OpenctiStandin,
}

impl Peers {
    pub fn start(opencti_version: &str) -> Peers {
        Peers {
            home: tempfile::tempdir().unwrap(),
            dx: crate::support::disinfox::DisinfoxStandin::start_default(),
            octi: opencti_as_connector(crate::support::opencti::OpenctiOptions::version(
                opencti_version,
            )),
        }
    }

    /// Both stand-ins, with this OpenCTI (a model or release `start` does not give).
    pub fn with_octi(octi: crate::support::opencti::OpenctiStandin) -> Peers {
        Peers {
            home: tempfile::tempdir().unwrap(),
            dx: crate::support::disinfox::DisinfoxStandin::start_default(),
            octi,
        }
    }

    /// Serves `count` more incidents, modified `ago` before DISINFOX's clock; every object id.
    pub fn add_incidents(&self, count: u64, first: u64, ago: chrono::Duration) -> Vec<String> {
        let objs = incidents(count, first, self.dx.server_now() - ago);
        self.dx.add_objects(&objs);
        objs.iter()
            .map(|o| {
                serde_json::from_str::<serde_json::Value>(o).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    fn vars(&self) -> [(&'static str, String); 5] {
        [
            ("DISINFOX_URL", self.dx.endpoint_url()),
            ("DISINFOX_API_KEY", self.dx.api_key()),
            ("OPENCTI_URL", self.octi.url()),
            ("OPENCTI_TOKEN", self.octi.token()),
            ("CONNECTOR_ID", CONNECTOR_ID.to_owned()),
        ]
    }

    /// The CLI configured for both stand-ins.
    pub fn cmd(&self) -> Command {
        let mut c = cli(self.home.path());
        c.envs(self.vars());
        c
    }

    /// The CLI in the background (for kills and overlapping runs), stderr discarded.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        std::process::Command::new(bin_path())
            .env_clear()
            .env("HOME", self.home.path())
            .envs(self.vars())
            .args(args)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Waits (bounded) until OpenCTI has received a bundle push.
    pub fn wait_for_a_push(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !self
            .octi
            .requests()
            .iter()
            .any(|r| r.root_fields.iter().any(|f| f == "stixBundlePush"))
        {
            assert!(std::time::Instant::now() < deadline, "the run never pushed");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Says that a check was skipped, on the real stderr: the test harness captures `eprintln!`
/// of passing tests, and a skip must be visible in the run's output.
pub fn skip(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped: {why}");
}

/// The one test policy for what the machine lacks: outside CI a check whose tool, file or
/// peer is missing is skipped with a visible notice; under `CI=true` (which `.ci/run`
/// exports) the same absence fails the test, so a missing install step cannot pass quietly.
pub fn skip_or_fail(why: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true, so this may not be skipped: {why}"
    );
    skip(why);
}

/// A loopback HTTP client for the tests' own requests. reqwest comes without a bundled TLS
/// provider (Cargo.toml); the CLI installs one, and so must every client in the tests.
pub fn http_client() -> reqwest::blocking::ClientBuilder {
    disinfox_sync::testing::install_crypto_provider();
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(10))
}

/// Longest wait for the asynchronous platform's workers to import what a test pushed.
pub const IMPORT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// Waits (bounded) until the platform's workers have taken every message pushed so far: a
/// work's status and the imported objects are what a real OpenCTI knows only after its
/// workers ran. Nothing to wait for on the instant stand-in, which imports during the push;
/// on the asynchronous one (`STANDIN_OPENCTI_IMPORT=async`) a test reads them after this.
pub fn settle(octi: &crate::support::opencti::OpenctiStandin) {
    if let Some(p) = octi.async_platform() {
        assert!(
            p.wait_drained(IMPORT_DEADLINE),
            "OpenCTI {}: the workers did not finish within {IMPORT_DEADLINE:?}: {}",
            octi.version(),
            p.summary()
        );
    }
}

/// Waits for the workers ([`settle`]), then asserts the platform dropped nothing the CLI
/// pushed, printing each drop with its reason otherwise. On the instant stand-in nothing is
/// ever dropped, so this checks nothing there; data tests call it so that the asynchronous
/// pass holds them to what a real OpenCTI keeps.
pub fn assert_nothing_dropped(octi: &crate::support::opencti::OpenctiStandin) {
    settle(octi);
    if let Some(p) = octi.async_platform() {
        let dropped = p.dropped();
        assert!(
            dropped.is_empty(),
            "OpenCTI {} dropped {} pushed object(s): {}\n{}",
            octi.version(),
            dropped.len(),
            p.summary(),
            dropped
                .iter()
                .map(|d| format!("  {} (work {:?}): {:?}", d.id, d.work_id, d.reason))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// Waits for the workers ([`settle`]), then asserts every object pushed is in the platform's
/// database in the end. For tests that abort a run on purpose (a failed push, a kill): a copy
/// that run left queued may be dropped with its work, what counts is that the next run
/// imported it again. Checks nothing on the instant stand-in, which imports every push.
pub fn assert_all_imported(octi: &crate::support::opencti::OpenctiStandin) {
    settle(octi);
    if let Some(p) = octi.async_platform() {
        let missing = p.missing();
        assert!(
            missing.is_empty(),
            "OpenCTI {} never imported {} pushed object(s) {:?}: {}",
            octi.version(),
            missing.len(),
            missing,
            p.summary()
        );
    }
}

/// A DISINFOX stand-in and an isolated home, for `fetch`.
pub struct FetchEnv {
    pub home: tempfile::TempDir,
    pub dx: crate::support::disinfox::DisinfoxStandin,
}

impl FetchEnv {
    pub fn new(dx: crate::support::disinfox::DisinfoxStandin) -> FetchEnv {
        FetchEnv {
            home: tempfile::tempdir().unwrap(),
            dx,
        }
    }

    /// `disinfox-sync fetch` configured for the stand-in.
    pub fn fetch(&self) -> Command {
        let mut c = cli(self.home.path());
        c.env("DISINFOX_URL", self.dx.endpoint_url())
            .env("DISINFOX_API_KEY", self.dx.api_key())
            .arg("fetch");
        c
    }
}
