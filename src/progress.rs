//! Progress of a long download on a terminal: a bar with the bytes so far, the size when the
//! peer announced one, and the rate. Off a terminal (cron mail, Kubernetes logs) nothing is
//! drawn: the commands log one line saying what is being fetched instead.

use std::io::{IsTerminal, Read};

use indicatif::{ProgressBar, ProgressStyle};

/// A reader that advances a bar as bytes go through it.
pub(crate) struct Download<R> {
    inner: R,
    bar: ProgressBar,
}

/// `what` names the download (`DISINFOX`); `total` is the announced size, if any.
pub(crate) fn download<R: Read>(inner: R, what: &str, total: Option<u64>) -> Download<R> {
    let bar = if std::io::stderr().is_terminal() {
        bar(what, total)
    } else {
        ProgressBar::hidden()
    };
    Download { inner, bar }
}

fn bar(what: &str, total: Option<u64>) -> ProgressBar {
    let (bar, template) = match total {
        Some(n) => (
            ProgressBar::new(n),
            "{spinner} fetching {msg}: {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} {elapsed}",
        ),
        None => (
            ProgressBar::no_length(),
            "{spinner} fetching {msg}: {bytes} {bytes_per_sec} {elapsed}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar
}

impl<R: Read> Read for Download<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            // Left on screen: its last state says how much came.
            self.bar.finish();
        } else {
            self.bar.inc(n as u64);
        }
        Ok(n)
    }
}

impl<R> Drop for Download<R> {
    fn drop(&mut self) {
        if !self.bar.is_finished() {
            self.bar.abandon();
        }
    }
}
