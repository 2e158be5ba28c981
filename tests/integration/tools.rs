//! External programs some tests run (Debian's packages; `.ci/run` installs them): absent
//! without `CI` is a printed skip, absent under `CI=true` a failure.

use std::path::PathBuf;

/// The program on PATH, or `None` after a skip notice.
pub fn required(program: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        crate::common::skip_or_fail(&format!(
            "{program} is not installed (apt-get install {package})"
        ));
    }
    found
}
