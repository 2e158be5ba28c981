//! The connector ids printed in the documentation and samples (README, `config.yml` sample,
//! `contrib/systemd/disinfox-sync.env.example`, `k8s/`). Two deployments copied from the same
//! sample would share one connector in OpenCTI, and so one cursor: each would skip what the
//! other imported. So an example id is refused, with the way to make one's own.

use super::values::parse_uuid;

/// Every connector id the repository prints as an example (lower case).
pub(crate) const EXAMPLE_IDS: &[&str] = &[
    // README (environment file and config.yml sample), contrib/systemd env example.
    "6a2a1c5e-0b0c-4c4c-9f9f-0123456789ab",
    // k8s/base/configmap.yaml and its second-instance overlay.
    "00000000-0000-4000-8000-000000000000",
    "00000000-0000-4000-8000-000000000002",
];

/// `CONNECTOR_ID`: a UUID, kept exactly as configured (OpenCTI names the connector's queue
/// from this string), and not one of the examples.
pub(super) fn parse_connector_id(v: &str) -> Result<String, String> {
    parse_uuid(v)?;
    if EXAMPLE_IDS.contains(&v.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "'{v}' is the example id from the documentation, and copies that keep it share one \
             cursor in OpenCTI; generate an id of your own with `uuidgen` or \
             `cat /proc/sys/kernel/random/uuid` (migrating? reuse the Python connector's id)"
        ));
    }
    Ok(v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_ids_are_refused_in_any_case() {
        for id in EXAMPLE_IDS {
            let why = parse_connector_id(&id.to_ascii_uppercase()).unwrap_err();
            assert!(why.contains("uuidgen"), "{why}");
        }
        let own = "3f6e2c1a-8b4d-4e7a-9c2b-5d1f0a7e9b34";
        assert_eq!(parse_connector_id(own).as_deref(), Ok(own));
        assert!(parse_connector_id("nope").is_err());
    }

    /// The samples still print exactly the ids refused here: a new example id elsewhere must
    /// be added to the list.
    #[test]
    fn the_samples_print_only_listed_ids() {
        let root = env!("CARGO_MANIFEST_DIR");
        for file in [
            "README.md",
            "contrib/systemd/disinfox-sync.env.example",
            "k8s/base/configmap.yaml",
            "k8s/overlays/example-second-instance/configmap-patch.yaml",
        ] {
            let Ok(text) = std::fs::read_to_string(format!("{root}/{file}")) else {
                continue;
            };
            for line in text
                .lines()
                .filter(|l| l.contains("CONNECTOR_ID") || l.contains("id:"))
            {
                for word in line.split(|c: char| !(c.is_ascii_hexdigit() || c == '-')) {
                    if word.len() == 36 && parse_uuid(word).is_ok() {
                        let listed = EXAMPLE_IDS.contains(&word.to_ascii_lowercase().as_str());
                        assert!(listed, "{file}: example id {word} is not in EXAMPLE_IDS");
                    }
                }
            }
        }
    }
}
