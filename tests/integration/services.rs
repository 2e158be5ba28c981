//! Where connectors run as services (compose, Helm): pycti's loop settings are answered with
//! the schedule that replaces them, and the compose example is a one-shot service run by a
//! host schedule.

use std::path::Path;

use crate::common::{CONNECTOR_ID, Peers};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `CONNECTOR_RUN_AND_TERMINATE=false` with a period: one warning line, the run goes on.
#[test]
fn pycti_loop_settings_get_one_line_with_the_schedule() {
    let env = Peers::start("7.260510.0");
    let out = env
        .cmd()
        .arg("sync")
        .env("CONNECTOR_RUN_AND_TERMINATE", "false")
        .env("CONNECTOR_DURATION_PERIOD", "PT15M")
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("CONNECTOR_RUN_AND_TERMINATE"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    for part in [
        "the scheduler runs the connector",
        "cron `*/15 * * * *`",
        "`OnCalendar=*:0/15`",
        "CronJob `schedule: \"*/15 * * * *\"`",
    ] {
        assert!(lines[0].contains(part), "{part}: {}", lines[0]);
    }
    // The same from a pycti config.yml (a boolean there), with an hourly period.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "connector:\n  id: '{CONNECTOR_ID}'\n  run_and_terminate: false\n  duration_period: 'PT1H'\n"
        ),
    )
    .unwrap();
    let out = env
        .cmd()
        .arg("sync")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("cron `0 * * * *`, systemd `OnCalendar=hourly`"),
        "{stderr}"
    );
    // run-and-terminate true (or unset): what this CLI does anyway, nothing to say.
    let out = env
        .cmd()
        .arg("sync")
        .env("CONNECTOR_RUN_AND_TERMINATE", "true")
        .env("CONNECTOR_DURATION_PERIOD", "PT15M")
        .output()
        .unwrap();
    assert!(!stderr_of(&out).contains("CONNECTOR_RUN_AND_TERMINATE"));
}

/// The compose service is one-shot: never restarted by the engine, bounded in memory, on a
/// network of its own, and run by the shipped host cron line with `docker compose run --rm`.
#[test]
fn compose_service_is_one_shot_with_its_own_network_and_a_memory_limit() {
    let text = std::fs::read_to_string(root().join("k8s/docker-compose.yml")).unwrap();
    let doc: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let services = doc["services"].as_object().unwrap();
    assert_eq!(services.len(), 1);
    let (name, svc) = services.iter().next().unwrap();
    assert_eq!(svc["restart"], "no", "a restarting service loops");
    assert_eq!(svc["command"], serde_json::json!(["sync"]));
    let limit = svc["mem_limit"].as_str().expect("mem_limit");
    assert!(limit.ends_with('g') || limit.ends_with('m'), "{limit}");
    assert!(svc.get("network_mode").is_none());
    let networks = svc["networks"].as_array().expect("networks");
    for n in networks {
        let n = n.as_str().unwrap();
        let defined = &doc["networks"][n];
        assert!(defined.is_object(), "network {n} is defined here");
        assert!(
            defined.get("external").is_none(),
            "{n}: its own, not another project's"
        );
    }
    let env = svc["environment"].as_array().unwrap();
    assert!(
        env.iter().any(|e| e == "CONNECTOR_DURATION_PERIOD=PT15M"),
        "{env:?}"
    );
    assert!(!env.iter().any(|e| {
        e.as_str()
            .unwrap()
            .starts_with("CONNECTOR_RUN_AND_TERMINATE")
    }));
    // The host schedule that runs it: every 15 minutes, matching the period above.
    let cron = std::fs::read_to_string(root().join("contrib/cron/disinfox-sync-compose")).unwrap();
    let line = cron
        .lines()
        .find(|l| l.starts_with("*/15 "))
        .expect("a 15-minute line");
    assert!(
        line.ends_with(&format!("docker compose run --rm {name} sync")),
        "{line}"
    );
    let compose = cron
        .lines()
        .find_map(|l| l.strip_prefix("COMPOSE_FILE="))
        .expect("COMPOSE_FILE=");
    assert_eq!(
        compose.strip_prefix("/opt/disinfox-sync/"),
        Some("k8s/docker-compose.yml")
    );
}

/// The CronJob's ConfigMap carries the Pushgateway setting, empty (no push) until set, and
/// the NetworkPolicy lets the pods reach the Pushgateway its comment names, on that port.
#[test]
fn k8s_wires_an_optional_pushgateway() {
    let read = |rel: &str| std::fs::read_to_string(root().join(rel)).unwrap();
    let configmap = read("k8s/base/configmap.yaml");
    let doc: serde_json::Value = serde_saphyr::from_str(&configmap).unwrap();
    let data = doc["data"].as_object().unwrap();
    assert_eq!(data["DISINFOX_SYNC_PUSHGATEWAY_URL"], "", "optional: empty");
    let example = configmap
        .split('"')
        .find(|s| s.starts_with("http://") && s.contains("pushgateway"))
        .expect("an example Pushgateway URL in the comment");
    let url = reqwest::Url::parse(example).unwrap();
    let host = url.host_str().unwrap();
    let (service, namespace) = host
        .strip_suffix(".svc")
        .and_then(|h| h.split_once('.'))
        .expect("SERVICE.NAMESPACE.svc");
    let policy: serde_json::Value =
        serde_saphyr::from_str(&read("k8s/base/networkpolicy.yaml")).unwrap();
    let allowed = policy["spec"]["egress"]
        .as_array()
        .unwrap()
        .iter()
        .any(|rule| {
            let to = &rule["to"][0];
            to["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] == namespace
                && to["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == service
                && rule["ports"][0]["port"] == url.port().unwrap()
        });
    assert!(allowed, "no egress rule for {example}");

    // Empty is no push and no complaint; the CronJob's environment is the ConfigMap's.
    let env = Peers::start("7.260510.0");
    let mut cmd = env.cmd();
    cmd.arg("sync");
    for (k, v) in data {
        if k.starts_with("DISINFOX_SYNC_") || k == "CONNECTOR_DURATION_PERIOD" {
            cmd.env(k, v.as_str().unwrap());
        }
    }
    let out = cmd.output().unwrap();
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.to_lowercase().contains("pushgateway"), "{stderr}");
}
