//! pycti's loop settings. A pycti connector with `CONNECTOR_RUN_AND_TERMINATE=false` runs
//! forever, one import every `CONNECTOR_DURATION_PERIOD`; this CLI does one import and exits,
//! so such a configuration (a compose or Helm service with `restart: always`) would either stop
//! after one run or restart in a tight loop. One info line says so and gives the schedule
//! that runs it at that period instead.

use std::time::Duration;

use super::values::parse_bool;

const VAR: &str = super::environment::ENV_RUN_AND_TERMINATE;

/// `CONNECTOR_RUN_AND_TERMINATE`, else config.yml's `connector.run_and_terminate` (a boolean
/// or a string there), as text.
pub(super) fn run_and_terminate(
    env: &dyn Fn(&str) -> Option<String>,
    file: &serde_json::Value,
) -> Option<String> {
    env(VAR).filter(|v| !v.is_empty()).or_else(|| {
        match file.pointer("/connector/run_and_terminate")? {
            serde_json::Value::Bool(b) => Some(b.to_string()),
            serde_json::Value::String(s) => Some(s.clone()),
            _ => None,
        }
    })
}

/// The line for a configuration that asks for pycti's loop (`run_and_terminate` false).
pub(super) fn loop_warning(
    run_and_terminate: Option<&str>,
    period: Option<Duration>,
) -> Option<String> {
    if parse_bool(run_and_terminate?).ok()? {
        return None;
    }
    let head = format!(
        "{VAR}=false is ignored: each disinfox-sync run imports once and exits, and the scheduler runs the connector"
    );
    Some(match period {
        None => format!(
            "{head}: schedule it with cron, a systemd timer or a Kubernetes CronJob (not a restarting service), and set CONNECTOR_DURATION_PERIOD to its interval"
        ),
        Some(p) => {
            let every = humantime::format_duration(p);
            match equivalents(p) {
                Some((cron, calendar)) => format!(
                    "{head}; every {every} (CONNECTOR_DURATION_PERIOD) is cron `{cron}`, systemd `OnCalendar={calendar}`, CronJob `schedule: \"{cron}\"`"
                ),
                None => format!(
                    "{head}; every {every} (CONNECTOR_DURATION_PERIOD) has no cron expression: use a systemd timer with `OnUnitActiveSec={}s`, or a period that divides an hour or a day",
                    p.as_secs()
                ),
            }
        }
    })
}

/// The cron expression (also a CronJob's `schedule`) and the `OnCalendar=` value that run at
/// `period`, where one exists: minutes dividing an hour, hours dividing a day, a day, a week.
fn equivalents(period: Duration) -> Option<(String, String)> {
    let secs = period.as_secs();
    if period.subsec_nanos() != 0 || secs == 0 || !secs.is_multiple_of(60) {
        return None;
    }
    let minutes = secs / 60;
    let pair = |cron: &str, calendar: &str| Some((cron.to_owned(), calendar.to_owned()));
    match minutes {
        1 => pair("* * * * *", "*:*"),
        m if m < 60 && 60_u64.is_multiple_of(m) => {
            pair(&format!("*/{m} * * * *"), &format!("*:0/{m}"))
        }
        60 => pair("0 * * * *", "hourly"),
        1440 => pair("0 0 * * *", "daily"),
        10080 => pair("0 0 * * 1", "weekly"),
        m if m.is_multiple_of(60) && m < 1440 && 1440_u64.is_multiple_of(m) => {
            let h = m / 60;
            pair(&format!("0 */{h} * * *"), &format!("0/{h}:00"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warn(rat: &str, period: Option<u64>) -> Option<String> {
        loop_warning(Some(rat), period.map(Duration::from_secs))
    }

    #[test]
    fn only_the_loop_setting_warns() {
        assert_eq!(loop_warning(None, Some(Duration::from_secs(900))), None);
        assert_eq!(warn("true", Some(900)), None);
        assert_eq!(warn("maybe", Some(900)), None);
        let w = warn("false", Some(900)).unwrap();
        assert!(
            w.starts_with("CONNECTOR_RUN_AND_TERMINATE=false is ignored"),
            "{w}"
        );
        assert!(
            w.ends_with(
                "every 15m (CONNECTOR_DURATION_PERIOD) is cron `*/15 * * * *`, systemd `OnCalendar=*:0/15`, CronJob `schedule: \"*/15 * * * *\"`"
            ),
            "{w}"
        );
        assert!(!w.contains('\n'));
        assert!(
            warn("False", None)
                .unwrap()
                .contains("set CONNECTOR_DURATION_PERIOD")
        );
        assert!(
            warn("false", Some(420))
                .unwrap()
                .contains("OnUnitActiveSec=420s")
        );
    }

    #[test]
    fn schedules_for_each_period() {
        let e = |secs| equivalents(Duration::from_secs(secs));
        let p = |c: &str, o: &str| Some((c.to_owned(), o.to_owned()));
        assert_eq!(e(60), p("* * * * *", "*:*"));
        assert_eq!(e(300), p("*/5 * * * *", "*:0/5"));
        assert_eq!(e(3600), p("0 * * * *", "hourly"));
        assert_eq!(e(6 * 3600), p("0 */6 * * *", "0/6:00"));
        assert_eq!(e(86_400), p("0 0 * * *", "daily"));
        assert_eq!(e(7 * 86_400), p("0 0 * * 1", "weekly"));
        for none in [0, 30, 420, 90 * 60, 5 * 3600, 2 * 86_400] {
            assert_eq!(e(none), None, "{none}");
        }
    }
}
