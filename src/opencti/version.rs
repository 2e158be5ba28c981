//! OpenCTI release numbers and the features each one has. Versions come as `6.x.y`,
//! `7.YYMMDD.N` and `7.YYMMDD.N-ltsN`; the date-minor keeps tuple order equal to release order.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u64, pub u64, pub u64);

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        let core = text.trim().trim_start_matches('v');
        let core = core.split(['-', '+']).next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
        let major = parts.next()??;
        let minor = parts.next().unwrap_or(Some(0))?;
        let patch = parts.next().unwrap_or(Some(0))?;
        Some(Version(major, minor, patch))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// First release with HTTP bundle ingestion (`stixBundlePush`).
pub const MIN_SUPPORTED: Version = Version(6, 2, 6);
pub const QUEUE_DETAILS: Version = Version(6, 2, 0);
pub const CONNECTOR_INFO: Version = Version(6, 2, 12);
pub const WORK_ID: Version = Version(6, 5, 7);
pub const MULTIPART_WORK: Version = Version(7, 260422, 0);

/// What the client may send to a given release. Every optional argument is gated here and
/// nowhere else, so no document ever carries a field the server does not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Features {
    pub bundle_push: bool,
    pub queue_details: bool,
    pub connector_info: bool,
    pub work_id: bool,
    pub multipart_work: bool,
}

impl Features {
    pub fn of(v: Version) -> Features {
        Features {
            bundle_push: v >= MIN_SUPPORTED,
            queue_details: v >= QUEUE_DETAILS,
            connector_info: v >= CONNECTOR_INFO,
            work_id: v >= WORK_ID,
            multipart_work: v >= MULTIPART_WORK,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_scheme() {
        assert_eq!(Version::parse("6.9.17"), Some(Version(6, 9, 17)));
        assert_eq!(Version::parse("7.260510.0"), Some(Version(7, 260510, 0)));
        assert_eq!(
            Version::parse("7.260309.0-lts1"),
            Some(Version(7, 260309, 0))
        );
        assert_eq!(Version::parse("garbage"), None);
    }

    #[test]
    fn gates() {
        let f = |s| Features::of(Version::parse(s).unwrap());
        assert!(!f("6.2.5").bundle_push);
        assert!(f("6.2.6").bundle_push && !f("6.2.6").connector_info);
        assert!(f("6.2.12").connector_info && !f("6.2.12").work_id);
        assert!(f("6.5.7").work_id && !f("6.9.17").multipart_work);
        assert!(f("7.260422.0").multipart_work);
        assert!(Version(7, 260224, 0) > Version(6, 9, 22));
    }
}
