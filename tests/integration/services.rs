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
