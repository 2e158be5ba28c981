//! `OPENCTI_CUSTOM_HEADERS`: extra headers on every OpenCTI request, for an authenticating
//! proxy in front of the platform. The format is pycti's: `Name: value` pairs separated by
//! `;`, each split at its first `:`, name and value trimmed, empty pairs skipped. The values
//! are often credentials, so each one is a `Secret` and never printed.

use reqwest::header::{HeaderName, HeaderValue};

use crate::secret::Secret;

/// One parsed header: the name is plain text (it shows in messages), the value a secret.
#[derive(Clone, Debug)]
pub(crate) struct CustomHeader {
    pub name: HeaderName,
    pub value: Secret,
}

impl CustomHeader {
    /// The value for the wire, marked sensitive so the HTTP stack never prints it either.
    pub(crate) fn header_value(&self) -> HeaderValue {
        let mut v = HeaderValue::from_str(self.value.expose())
            .expect("validated when the configuration was read");
        v.set_sensitive(true);
        v
    }
}

/// Parses pycti's format. Unlike pycti, which skips a malformed pair with a warning, a
/// malformed pair is an error: a proxy credential silently not sent fails later and less
/// clearly. Messages name the pair by position, never by content.
pub(super) fn parse_custom_headers(text: &str) -> Result<Vec<CustomHeader>, String> {
    let mut out = Vec::new();
    let pairs = text.trim().split(';').filter(|p| !p.trim().is_empty());
    for (i, pair) in pairs.enumerate() {
        let n = i + 1;
        let (name, value) = pair
            .split_once(':')
            .ok_or_else(|| format!("pair {n} has no ':'; use 'Name: value;Other-Name: value'"))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("pair {n} has no valid header name before its ':'"))?;
        if name == reqwest::header::AUTHORIZATION {
            return Err(format!(
                "pair {n} sets Authorization, which carries OPENCTI_TOKEN; set the token there instead"
            ));
        }
        let value = value.trim();
        if HeaderValue::from_str(value).is_err() {
            return Err(format!(
                "the value of header {name} (pair {n}) has characters a header cannot carry"
            ));
        }
        out.push(CustomHeader {
            name,
            value: Secret::new(value.to_owned()),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse_custom_headers(text)
            .unwrap()
            .into_iter()
            .map(|h| (h.name.to_string(), h.value.expose().to_owned()))
            .collect()
    }

    #[test]
    fn pycti_format() {
        assert_eq!(
            pairs(" X-Proxy-Auth: abc:def ; cf-access-client-id:id-1;; "),
            vec![
                ("x-proxy-auth".into(), "abc:def".into()),
                ("cf-access-client-id".into(), "id-1".into()),
            ]
        );
        assert!(pairs("").is_empty());
    }

    #[test]
    fn malformed_pairs_are_refused_without_their_value() {
        let err = parse_custom_headers("X-A: 1;no-colon-secret-value").unwrap_err();
        assert!(err.contains("pair 2"), "{err}");
        assert!(!err.contains("no-colon-secret-value"), "{err}");
        assert!(parse_custom_headers("bad name: v").is_err());
        assert!(parse_custom_headers("X-A: line\nbreak").is_err());
        assert!(parse_custom_headers("Authorization: Bearer x").is_err());
    }
}
