//! The alert rules and the README's metric names against what the binary writes. promtool
//! itself runs the rules' test cases in `metrics::alert_rules_pass_promtool_and_match_the_readme`.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::Duration;

use crate::common::{Peers, incidents};

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// The metric names a successful `sync`, a failed one and a `verify` write to textfiles.
fn written_names() -> BTreeSet<String> {
    let mut env = Peers::start("7.260510.0");
    let objs = incidents(2, 0, env.dx.server_now() - Duration::minutes(5));
    env.dx.add_objects(&objs);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("disinfox-sync.prom");
    env.cmd()
        .args(["sync", "--metrics-file"])
        .arg(&file)
        .assert()
        .success();
    let mut names = BTreeSet::new();
    let mut collect = |text: &str| {
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_owned());
        }
    };
    collect(&std::fs::read_to_string(&file).unwrap());
    let verified = dir.path().join("verify.prom");
    env.cmd()
        .args(["verify", "--metrics-file"])
        .arg(&verified)
        .assert()
        .success();
    collect(&std::fs::read_to_string(&verified).unwrap());
    env.dx.stop();
    env.cmd()
        .args(["sync", "--retries", "0", "--metrics-file"])
        .arg(&file)
        .assert()
        .code(75);
    collect(&std::fs::read_to_string(&file).unwrap());
    names
}

/// Every `disinfox_sync_…` name in `text` (config keys are `disinfox_sync.…`: not these).
fn our_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (at, _) in text.match_indices("disinfox_sync_") {
        let name: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        out.insert(name);
    }
    out
}

/// Backticked words of the README's Metrics section that look like a metric name (pycti's
/// `run_count_total` and the like were named there as if they were ours).
fn metric_like_words(section: &str) -> BTreeSet<String> {
    section
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|w| w.split('{').next().unwrap_or(w))
        .filter(|w| {
            w.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                && ["_total", "_seconds", "_count", "_bytes", "_status"]
                    .iter()
                    .any(|s| w.ends_with(s))
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_metric_name_in_the_rules_and_the_readme_is_written() {
    let written = written_names();
    assert!(
        written.contains("disinfox_sync_last_success_timestamp_seconds"),
        "{written:?}"
    );
    let readme = read("README.md");
    let metrics = readme
        .split("\n## Metrics\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has a Metrics section");
    let mut named = our_names(&readme);
    named.extend(metric_like_words(metrics));
    for file in [
        "contrib/prometheus/disinfox-sync.rules.yml",
        "contrib/prometheus/disinfox-sync.rules.test.yml",
    ] {
        named.extend(our_names(&read(file)));
    }
    let unknown: Vec<&String> = named.difference(&written).collect();
    assert!(
        unknown.is_empty(),
        "named but never written: {unknown:?} (written: {written:?})"
    );
}

/// The rules' test cases cover the three cases: a quiet DISINFOX fires no alert at all (every
/// rule is asserted silent there), no success for three periods fires, absent metrics fire.
#[test]
fn rules_tests_cover_a_quiet_source_no_success_and_absent_metrics() {
    let rules = read("contrib/prometheus/disinfox-sync.rules.yml");
    let tests = read("contrib/prometheus/disinfox-sync.rules.test.yml");
    let alerts: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert_eq!(
        alerts,
        ["DisinfoxSyncNoSuccess", "DisinfoxSyncMetricsAbsent"]
    );
    let cases: Vec<&str> = tests.split("\n  - interval: ").skip(1).collect();
    assert_eq!(cases.len(), 3, "three cases");
    let quiet = cases[0];
    assert!(
        quiet.contains("disinfox_sync_cursor_lag_seconds"),
        "{quiet}"
    );
    for alert in &alerts {
        assert!(
            quiet.contains(&format!("alertname: {alert}, exp_alerts: []}}")),
            "the quiet case must assert that {alert} stays silent"
        );
    }
    for (case, alert) in [(cases[1], alerts[0]), (cases[2], alerts[1])] {
        assert!(
            case.contains(&format!(
                "alertname: {alert}\n        exp_alerts:\n          - "
            )),
            "{alert} fires in its case"
        );
    }
}
