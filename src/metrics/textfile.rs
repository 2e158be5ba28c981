//! The node_exporter textfile collector's format: one `.prom` file, replaced atomically (a
//! temp file beside it, then a rename) so the collector never reads half of one. The temp
//! file's name does not end in `.prom`, so the collector skips it.

use std::path::Path;

use super::exposition::Labels;
use super::{Previous, Run, families};
use crate::error::{Error, Result};

pub(super) fn write(path: &Path, run: &Run) -> Result<()> {
    let previous = Previous::of(super::parse(&read_previous(path)?), run.connector_id);
    // Every sample names its connector: node_exporter merges all files of its directory.
    let common = Labels::from([("connector_id".to_owned(), run.connector_id.to_owned())]);
    let text = super::render(&families(run, &previous), &common);
    crate::output::write_atomically(path, crate::output::Mode::KeepOrDefault, |w| {
        Ok(w.write_all(text.as_bytes())?)
    })
}

/// The previous file's text; none yet is the first run.
fn read_previous(path: &Path) -> Result<String> {
    use crate::input::{Accept, ReadError, read_file};
    match read_file(path, MAX_PREVIOUS, Accept::RegularOnly) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(ReadError::NotFound(_)) => Ok(String::new()),
        Err(e) => Err(Error::LocalIo(format!(
            "cannot read the previous metrics in {}: {e}",
            path.display()
        ))
        .into()),
    }
}

/// A metrics file of ours is a few kilobytes; anything far larger is not ours to parse.
const MAX_PREVIOUS: u64 = 1 << 20;
