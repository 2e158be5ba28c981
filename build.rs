//! The long version string: `disinfox-sync 0.1.0 (commit 0123456789ab, built 2026-12-06)`.
//!
//! The commit comes from `DISINFOX_SYNC_COMMIT` when set (a build from an exported tree, such
//! as `make dist` or the image, names the commit it was exported from), else from
//! `git rev-parse` in the source directory; a build outside git says so instead. The date is
//! `SOURCE_DATE_EPOCH` when set (reproducible builds: the same sources give the same binary),
//! else today (UTC). Nothing here fails the build.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=DISINFOX_SYNC_COMMIT");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    for path in git_paths() {
        println!("cargo:rerun-if-changed={path}");
    }
    let commit = std::env::var("DISINFOX_SYNC_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit);
    let epoch = std::env::var("SOURCE_DATE_EPOCH").ok();
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    println!(
        "cargo:rustc-env=DISINFOX_SYNC_LONG_VERSION={}",
        long_version(&version, commit.as_deref(), epoch.as_deref(), now())
    );
}

/// `0.1.0 (commit C, built D)`; `commit unknown: not built from a git checkout` without one.
pub(crate) fn long_version(
    version: &str,
    commit: Option<&str>,
    epoch: Option<&str>,
    now: i64,
) -> String {
    let commit = match commit {
        Some(c) => format!("commit {}", c.trim()),
        None => "commit unknown: not built from a git checkout".to_owned(),
    };
    let secs = epoch
        .and_then(|e| e.trim().parse::<i64>().ok())
        .unwrap_or(now);
    format!("{version} ({commit}, built {})", date(secs))
}

/// The source's commit, 12 hex digits, or `None` outside a git checkout (or without git).
fn git_commit() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(std::env::var("CARGO_MANIFEST_DIR").ok()?)
        .output()
        .ok()?;
    let commit = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !commit.is_empty()).then_some(commit)
}

/// HEAD and the branch it names (a worktree keeps them apart), so a new commit rebuilds.
fn git_paths() -> Vec<String> {
    let ask = |args: &[&str]| {
        let out = Command::new("git").args(args).output().ok()?;
        let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
        (out.status.success() && !text.is_empty()).then_some(text)
    };
    let mut paths = Vec::new();
    paths.extend(ask(&["rev-parse", "--git-path", "HEAD"]));
    if let Some(branch) = ask(&["symbolic-ref", "-q", "HEAD"]) {
        paths.extend(ask(&["rev-parse", "--git-path", &branch]));
    }
    paths.extend(ask(&["rev-parse", "--git-path", "packed-refs"]));
    paths
        .into_iter()
        .filter(|p| std::path::Path::new(p).exists())
        .collect()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `YYYY-MM-DD` (UTC) of a Unix time: the civil-from-days conversion of the proleptic
/// Gregorian calendar.
fn date(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
