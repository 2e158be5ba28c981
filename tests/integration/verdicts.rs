//! One validator: the same bytes get the same verdict, with the same message, whether `push`
//! reads them from a file, `sync` parses DISINFOX's answer whole or `fetch` streams it.
//! A local file that is not a bundle is bad input data (65); the same bytes from DISINFOX are
//! a broken answer of the peer (76) unless the bundle itself is sound and one object in it is
//! bad (65), as the exit table says.

use std::sync::{Arc, Mutex};

use crate::support::bad_bundles;
use crate::support::http::{Response, Server};

/// The line of stderr that holds the verdict.
fn verdict(output: &std::process::Output, words: &str) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    stderr
        .lines()
        .find(|l| l.contains(words))
        .unwrap_or_else(|| panic!("no {words:?} in {stderr}"))
        .to_owned()
}

/// The bundle stage's own words in a line: what follows the source's prefix, up to the
/// preview of what was received.
fn stage_words(line: &str) -> &str {
    let start = ["is unusable: ", "invalid bundle: ", "error: "]
        .iter()
        .filter_map(|p| line.find(p).map(|i| i + p.len()))
        .max()
        .unwrap_or(0);
    let rest = &line[start..];
    rest.split("; received ").next().unwrap_or(rest)
}

#[test]
fn push_sync_and_fetch_give_every_bad_input_the_same_verdict() {
    let answer = Arc::new(Mutex::new(Vec::new()));
    let served = Arc::clone(&answer);
    let server = Server::start(move |_req: &crate::support::http::Request| {
        Response::json(200, served.lock().unwrap().clone())
    });
    let peers = crate::common::Peers::start("6.9.17");
    let table = bad_bundles::table();
    assert!(table.len() >= 20, "a table of at least 20 inputs");
    for (name, input, words, structural) in table {
        let file = peers.home.path().join("bad.json");
        std::fs::write(&file, &input).unwrap();
        *answer.lock().unwrap() = input;
        let push = peers
            .cmd()
            .args(["push", "--dry-run", "--file", file.to_str().unwrap()])
            .output()
            .unwrap();
        let sync = peers
            .cmd()
            .env("DISINFOX_URL", server.url())
            .args(["sync", "--dry-run", "--retries", "0"])
            .output()
            .unwrap();
        let fetch = peers
            .cmd()
            .env("DISINFOX_URL", server.url())
            .args(["fetch", "--retries", "0", "-o", "out.json"])
            .current_dir(peers.home.path())
            .output()
            .unwrap();
        let peer_code = if structural { 76 } else { 65 };
        assert_eq!(push.status.code(), Some(65), "{name}: push {push:?}");
        assert_eq!(sync.status.code(), Some(peer_code), "{name}: sync {sync:?}");
        assert_eq!(
            fetch.status.code(),
            Some(peer_code),
            "{name}: fetch {fetch:?}"
        );
        let push = verdict(&push, words);
        let sync = verdict(&sync, words);
        let fetch = verdict(&fetch, words);
        assert_eq!(stage_words(&sync), stage_words(&push), "{name}");
        assert_eq!(stage_words(&fetch), stage_words(&push), "{name}");
        // The whole line is the same for the two readers of one DISINFOX answer.
        assert_eq!(sync, fetch, "{name}");
    }
}
