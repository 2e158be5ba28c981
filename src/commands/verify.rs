//! `verify`: proof that OpenCTI holds what DISINFOX serves. Fetches as a first `sync` would
//! (or from `--since`), asks OpenCTI in batches which of those objects it holds, lists the
//! missing ones on stdout and exits 1 when there are any, as `diff` does. `--repair` pushes
//! only the missing objects, with the objects they reference, through the same stage and push
//! path as `sync`, then looks again. The cursor is never read nor written.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Instant, SystemTime};

use serde_json::Value;

use super::session::Session;
use super::stage;
use crate::bundle::{self, Object};
use crate::cli::VerifyArgs;
use crate::config::Config;
use crate::disinfox::Disinfox;
use crate::error::{Error, Result};
use crate::opencti::facts::Facts;
use crate::opencti::lookup::{self, Family};
use crate::opencti::{Graphql, connector};
use crate::session::Purpose;
use crate::summary::{Report, Status, VerifyCounts};

pub(super) fn run(cfg: &Config, args: &VerifyArgs) -> Result<()> {
    let started = Instant::now();
    let started_at = SystemTime::now();
    let mut report = Report::new("verify");
    let result = audit(cfg, args, &mut report);
    report.duration_seconds = started.elapsed().as_secs_f64();
    match &result {
        Ok(()) => report.status = Some(Status::UpToDate),
        Err(e) => report.fail(e),
    }
    crate::metrics::publish(cfg, &report, started_at);
    result
}

/// What one look-up pass found.
#[derive(Default)]
struct Findings<'a> {
    checked: usize,
    /// Objects of types OpenCTI keeps outside its knowledge (markings, …).
    skipped: usize,
    missing: Vec<Object<'a>>,
    requests: usize,
}

fn audit(cfg: &Config, args: &VerifyArgs, report: &mut Report) -> Result<()> {
    let since = crate::when::parse(&args.since, chrono::Utc::now())
        .map_err(|e| Error::Usage(format!("invalid --since: {e}")))?;
    if args.wait.wait.is_some() && !args.repair {
        return Err(Error::Usage(
            "--wait follows the work of a repair: add --repair, or drop --wait".into(),
        )
        .into());
    }
    let limits = stage::limits(cfg)?;
    let source = Disinfox::new(cfg.disinfox()?, &cfg.http, cfg.max_bundle_size)?;
    // The capability is checked before DISINFOX is asked for anything.
    let (session, probed) = if args.repair {
        let session = Session::open(
            cfg,
            Purpose::Import {
                wait: args.wait.wait,
            },
        )?;
        lookup::require_knowledge(&session.platform)?;
        (Some(session), None)
    } else {
        let gql = Graphql::new(cfg.opencti()?, &cfg.http)?;
        let platform = connector::probe(&gql)?;
        lookup::require_knowledge(&platform)?;
        (None, Some(gql))
    };
    let gql = match (&session, &probed) {
        (Some(s), _) => &s.gql,
        (None, Some(g)) => g,
        (None, None) => unreachable!("either a session or a probed client"),
    };
    log::info!(
        "verifying what DISINFOX serves newer than {} against OpenCTI",
        crate::when::newer_than(since)
    );
    let answer = source.incidents(since)?;
    let Some(parsed) = answer.objects()? else {
        log::info!("verify: DISINFOX serves nothing to check");
        return Ok(());
    };
    let objects = parsed.objects();
    let found = look_up(gql, objects.iter().copied())?;
    summarize(&found, "");
    let still = match (&session, found.missing.is_empty()) {
        (Some(session), false) => repair(session, &limits, args, objects, &found, report)?,
        _ => found,
    };
    set_counts(report, &still);
    print_missing(&still.missing, args.json)?;
    verdict(&still.missing, args.repair)
}

/// Asks OpenCTI which of `objects` it holds, one family at a time, in batches.
fn look_up<'a>(gql: &Graphql, objects: impl Iterator<Item = Object<'a>>) -> Result<Findings<'a>> {
    let mut found = Findings::default();
    let mut by_family: BTreeMap<Family, Vec<Object<'a>>> = BTreeMap::new();
    for o in objects {
        match Family::of(o.kind) {
            Some(f) => by_family.entry(f).or_default().push(o),
            None => found.skipped += 1,
        }
    }
    for (family, objects) in by_family {
        let ids: Vec<&str> = objects.iter().map(|o| o.id).collect();
        let held = lookup::held(gql, family, &ids, &mut found.requests)?;
        found.checked += objects.len();
        found
            .missing
            .extend(objects.into_iter().filter(|o| !held.contains(o.id)));
    }
    Ok(found)
}

/// Pushes the missing objects and what they reference, follows the work with `--wait`, then
/// looks the missing ones up again: what is still missing.
fn repair<'a>(
    session: &Session,
    limits: &bundle::Limits,
    args: &VerifyArgs,
    objects: &[Object<'a>],
    found: &Findings<'a>,
    report: &mut Report,
) -> Result<Findings<'a>> {
    if let (_, Some(why)) = session.queue_verdict(None, true) {
        return Err(Error::Temporary(format!(
            "{why}: not repairing now; run again once the queue is empty"
        ))
        .into());
    }
    let text = closure_bundle(objects, &found.missing);
    let parsed = bundle::parse(text.as_bytes()).map_err(stage::refused)?;
    let prepared = stage::prepare(parsed, report);
    log::info!(
        "repair: pushing the {} missing object(s) with what they reference ({} in all)",
        found.missing.len(),
        prepared.len()
    );
    session.push((&prepared, &Facts::of(&prepared)), limits, report)?;
    let outcome = match args.wait.wait {
        Some(budget) => session.wait(budget, report)?,
        None => Default::default(),
    };
    super::session::import_errors(&outcome, false)?;
    report.status = Some(Status::Imported);
    let mut again = look_up(&session.gql, found.missing.iter().copied())?;
    again.requests += found.requests;
    summarize(&again, "after the repair, ");
    if !again.missing.is_empty() && args.wait.wait.is_none() {
        log::info!(
            "OpenCTI's workers may not have imported the repair yet: add --wait to follow its work"
        );
    }
    Ok(again)
}

/// A bundle of the missing objects and, transitively, every object of DISINFOX's answer they
/// reference, in the answer's order; the stage adds the well-known objects and cuts chunks.
fn closure_bundle(objects: &[Object<'_>], missing: &[Object<'_>]) -> String {
    let index: HashMap<&str, usize> = objects.iter().enumerate().map(|(i, o)| (o.id, i)).collect();
    let mut wanted: HashSet<usize> = HashSet::new();
    let mut todo: Vec<usize> = missing
        .iter()
        .filter_map(|o| index.get(o.id).copied())
        .collect();
    while let Some(i) = todo.pop() {
        if !wanted.insert(i) {
            continue;
        }
        let Ok(value) = serde_json::from_str::<Value>(objects[i].raw) else {
            continue;
        };
        let mut refs = Vec::new();
        references(&value, &mut refs);
        todo.extend(refs.iter().filter_map(|r| index.get(r.as_str()).copied()));
    }
    let mut chosen: Vec<usize> = wanted.into_iter().collect();
    chosen.sort_unstable();
    let body: Vec<&str> = chosen.iter().map(|&i| objects[i].raw).collect();
    format!(
        "{{\"type\":\"bundle\",\"id\":\"bundle--{}\",\"objects\":[{}]}}",
        uuid::Uuid::new_v4(),
        body.join(",")
    )
}

/// The values of every `*_ref` and `*_refs` key, at any depth (as the bundle stage reads them).
fn references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::String(s) if k.ends_with("_ref") => out.push(s.clone()),
                    Value::Array(items) if k.ends_with("_refs") => {
                        out.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
                    }
                    _ => references(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

fn missing_by_type<'a>(missing: &[Object<'a>]) -> BTreeMap<&'a str, usize> {
    let mut counts = BTreeMap::new();
    for o in missing {
        *counts.entry(o.kind).or_insert(0) += 1;
    }
    counts
}

/// The summary line on stderr: checked, present, missing by type, look-ups.
fn summarize(found: &Findings<'_>, when: &str) {
    let missing = found.missing.len();
    let by_type: Vec<String> = missing_by_type(&found.missing)
        .iter()
        .map(|(t, n)| format!("{n} {t}"))
        .collect();
    let detail = if by_type.is_empty() {
        String::new()
    } else {
        format!(" ({})", by_type.join(", "))
    };
    let skipped = match found.skipped {
        0 => String::new(),
        n => format!(", {n} not looked up (markings and other objects outside the knowledge)"),
    };
    log::info!(
        "verify: {when}{} object(s) checked, {} present, {missing} missing{detail}{skipped}, in {} look-up(s)",
        found.checked,
        found.checked - missing,
        found.requests
    );
}

fn set_counts(report: &mut Report, found: &Findings<'_>) {
    report.verify = Some(VerifyCounts {
        checked: found.checked,
        missing: missing_by_type(&found.missing)
            .into_iter()
            .map(|(k, n)| (k.to_owned(), n))
            .collect(),
    });
}

/// One line per missing object on stdout: `ID TYPE`, or a JSON document with `--json`.
fn print_missing(missing: &[Object<'_>], json: bool) -> Result<()> {
    if missing.is_empty() {
        return Ok(());
    }
    crate::output::write_to(None, |w| {
        for o in missing {
            if json {
                let doc = serde_json::json!({ "id": o.id, "type": o.kind, "modified": o.modified });
                writeln!(w, "{doc}")?;
            } else {
                writeln!(w, "{} {}", o.id, o.kind)?;
            }
        }
        Ok(())
    })
}

fn verdict(missing: &[Object<'_>], repaired: bool) -> Result<()> {
    if missing.is_empty() {
        return Ok(());
    }
    let fix = if repaired {
        "run verify --repair --wait again, and read OpenCTI's work errors"
    } else {
        "push them again with verify --repair"
    };
    Err(Error::Missing(format!(
        "{} object(s) DISINFOX serves are missing in OpenCTI (listed on stdout): {fix}",
        missing.len()
    ))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_at_any_depth() {
        let v: Value = serde_json::from_str(
            r#"{"source_ref":"a--1","object_marking_refs":["m--1"],"x":{"granular_markings":[{"marking_ref":"m--2"}]},"name":"n"}"#,
        )
        .unwrap();
        let mut out = Vec::new();
        references(&v, &mut out);
        out.sort();
        assert_eq!(out, ["a--1", "m--1", "m--2"]);
    }
}
