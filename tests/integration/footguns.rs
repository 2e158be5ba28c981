//! Settings copied from a sample that would quietly hurt: an example connector id (copies
//! would share one cursor), a pycti `config.yml` whose keys this tool does not use.

use predicates::str::contains;

use crate::common::cli;

/// Nobody listens there: a run that got past its configuration ends 75.
const DEAD: &str = "http://127.0.0.1:9";

/// The UUIDs on the `CONNECTOR_ID` / `id:` lines of a file of the repository.
fn printed_ids(file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(format!("{}/{file}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    text.lines()
        .filter(|l| l.contains("CONNECTOR_ID") || l.trim_start().starts_with("id:"))
        .flat_map(|l| {
            l.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
                .filter(|w| w.len() == 36 && w.matches('-').count() == 4)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn example_connector_ids_are_refused_with_78() {
    let mut ids = Vec::new();
    for file in [
        "README.md",
        "contrib/systemd/disinfox-sync.env.example",
        "k8s/base/configmap.yaml",
        "k8s/overlays/example-second-instance/configmap-patch.yaml",
    ] {
        ids.extend(printed_ids(file));
    }
    ids.sort();
    ids.dedup();
    assert!(ids.len() >= 2, "{ids:?}");
    let home = tempfile::tempdir().unwrap();
    for id in ids {
        cli(home.path())
            .env("DISINFOX_URL", format!("{DEAD}/incidents"))
            .env("DISINFOX_API_KEY", "k3y")
            .env("OPENCTI_URL", DEAD)
            .env("OPENCTI_TOKEN", "t0ken")
            .env("CONNECTOR_ID", &id)
            .args(["sync", "--retries", "0"])
            .assert()
            .code(78)
            .stderr(contains("invalid CONNECTOR_ID"))
            .stderr(contains("uuidgen"))
            .stderr(contains("/proc/sys/kernel/random/uuid"));
    }
}
