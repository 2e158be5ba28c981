//! Value parsers shared by the command line and the settings reader: each error says what a
//! valid value looks like. A leaf: it imports nothing of the crate but `secret`, so `cli` and
//! `config` both use it without either importing the other.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;

use crate::secret::Secret;

/// A path that may be empty: the bare `--state-file` stands for the default location, and
/// clap's own path parser refuses the empty value it is given then.
pub(crate) fn optional_path(text: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(text))
}

/// The longest duration any setting takes: more is a typo, and far more (10^11 years) would
/// overflow the clock arithmetic of a run.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let d =
        humantime::parse_duration(text).map_err(|e| format!("{e} (examples: 30s, 2m, 1h30m)"))?;
    if d > MAX_DURATION {
        return Err(format!(
            "'{text}' is longer than a year, the most any duration here may be; give e.g. 30s, 2m or 1h30m"
        ));
    }
    Ok(d)
}

/// A timeout: a duration above zero (zero would fail every request at once).
pub(crate) fn parse_timeout(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        d if d.is_zero() => Err(format!("'{text}' is no time at all; give e.g. 30s")),
        d => Ok(d),
    }
}

/// A positive, finite number of megabytes (NaN or a negative value would defer every run).
pub(crate) fn parse_megabytes(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok(n),
        _ => Err(format!(
            "'{text}' is not a positive number of megabytes, e.g. 500"
        )),
    }
}

/// Byte sizes as plain numbers or with a binary suffix (K, M, G; optional trailing B/iB).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let upper = t.to_ascii_uppercase();
    let digits_end = upper
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(upper.len());
    let (num, unit) = upper.split_at(digits_end);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{text}' is not a size (examples: 10485760, 10M, 1G)"))?;
    let mult: u64 = match unit.trim_end_matches("IB").trim_end_matches('B') {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => return Err(format!("'{text}' has an unknown unit (use K, M or G)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("'{text}' is too large"))
}

/// Credentials in the URL would show in logs and in `ps`: they have their own settings.
pub(crate) fn parse_pushgateway(v: &str) -> Result<Url, String> {
    let url = parse_url(v)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("remove the user and password from the URL; set DISINFOX_SYNC_PUSHGATEWAY_USER and DISINFOX_SYNC_PUSHGATEWAY_PASSWORD_FILE instead".into());
    }
    Ok(url)
}
/// An http(s) URL. Credentials in it (`https://user:pw@host`) are registered as secrets at
/// once, so no log line, error or summary shows them; a URL that does not parse is echoed
/// without its user part.
pub(crate) fn parse_url(v: &str) -> Result<Url, String> {
    let shown = without_userinfo(v);
    let url = Url::parse(v)
        .map_err(|e| format!("'{shown}' is not a URL ({e}); use e.g. https://host:port/path"))?;
    register_credentials(&url);
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        _ => Err(format!(
            "'{shown}' must be an http:// or https:// URL with a host"
        )),
    }
}

fn register_credentials(url: &Url) {
    // A user name alone is often a token (https://TOKEN@host); next to a password it is not.
    let secret = match url.password() {
        Some(pw) => pw,
        None => url.username(),
    };
    if !secret.is_empty() {
        let _ = Secret::new(secret.to_owned());
        let _ = Secret::new(percent_decoded(secret));
        // What goes on the wire: `Authorization: Basic base64(user:password)`, which a proxy
        // page may echo back.
        let pair = format!(
            "{}:{}",
            percent_decoded(url.username()),
            url.password().map(percent_decoded).unwrap_or_default()
        );
        let _ = Secret::new(base64(pair.as_bytes()));
    }
}

pub(crate) fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).and_then(|&c| hex(c)),
            b.get(i + 2).and_then(|&c| hex(c)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `scheme://user:pw@rest` → `scheme://…@rest`, for messages about a URL that did not parse.
fn without_userinfo(v: &str) -> String {
    match v.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://…{}", &rest[at..]),
                None => v.to_owned(),
            }
        }
        None => v.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_bounded() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("366days"), Ok(MAX_DURATION));
        for absurd in ["367days", "100000000000y", "9999999999999999999s"] {
            assert!(parse_duration(absurd).is_err(), "{absurd}");
            assert!(parse_timeout(absurd).is_err(), "{absurd}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10"), Ok(10));
        assert_eq!(parse_size("10M"), Ok(10 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2kb"), Ok(2048));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5X").is_err());
    }

    #[test]
    fn base64_of_basic_credentials() {
        assert_eq!(base64(b"user:pw"), "dXNlcjpwdw==");
        assert_eq!(
            base64(b"Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }
}
