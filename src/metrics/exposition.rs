//! The Prometheus text exposition format (0.0.4): written for the textfile collector and the
//! Pushgateway, and read back from our own previous file to carry counters over.

use std::collections::BTreeMap;
use std::fmt::Write;

pub(super) type Labels = BTreeMap<String, String>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Gauge,
    Counter,
}

#[derive(Debug)]
pub(crate) struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub samples: Vec<(Labels, f64)>,
}

/// One sample as read back: metric name, labels, value.
pub(super) type Sample = (String, Labels, f64);

/// Renders every family that has samples; `common` labels go on every sample.
pub(crate) fn render(families: &[Family], common: &Labels) -> String {
    let mut out = String::new();
    for f in families.iter().filter(|f| !f.samples.is_empty()) {
        let kind = match f.kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        };
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {kind}", f.name);
        for (labels, value) in &f.samples {
            let mut all = common.clone();
            all.extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
            let _ = writeln!(out, "{}{} {}", f.name, label_text(&all), number(*value));
        }
    }
    out
}

fn label_text(labels: &Labels) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", parts.join(","))
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Whole numbers without a fraction; Rust's shortest round-trip form otherwise.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Reads the samples of an exposition text; lines it cannot read are skipped (the file is
/// ours, so that only happens to a hand-edited or truncated one).
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    let (labels, rest) = if line[name_end..].starts_with('{') {
        parse_labels(&line[name_end + 1..])?
    } else {
        (Labels::new(), &line[name_end..])
    };
    // A timestamp may follow the value; we never write one, but tolerate it.
    let value = rest.split_whitespace().next()?.parse().ok()?;
    Some((name.to_owned(), labels, value))
}

/// `a="x",b="y\"z"} rest` → the labels and what follows the closing brace.
fn parse_labels(mut s: &str) -> Option<(Labels, &str)> {
    let mut labels = Labels::new();
    loop {
        s = s.trim_start_matches([',', ' ']);
        if let Some(rest) = s.strip_prefix('}') {
            return Some((labels, rest));
        }
        let eq = s.find('=')?;
        let key = s[..eq].trim().to_owned();
        s = s[eq + 1..].strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(key, value);
        s = &s[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn render_then_parse_round_trips() {
        let families = vec![
            Family {
                name: "x_total",
                help: "things",
                kind: Kind::Counter,
                samples: vec![(labels(&[("type", "a\"b\\c\nd")]), 3.0)],
            },
            Family {
                name: "y_seconds",
                help: "time",
                kind: Kind::Gauge,
                samples: vec![(Labels::new(), 1.5)],
            },
            Family {
                name: "empty",
                help: "never shown",
                kind: Kind::Gauge,
                samples: vec![],
            },
        ];
        let text = render(&families, &labels(&[("connector_id", "c")]));
        assert!(text.contains("# TYPE x_total counter\n"), "{text}");
        assert!(
            text.contains("y_seconds{connector_id=\"c\"} 1.5\n"),
            "{text}"
        );
        assert!(!text.contains("empty"), "{text}");
        let back = parse(&text);
        assert_eq!(
            back,
            vec![
                (
                    "x_total".to_owned(),
                    labels(&[("connector_id", "c"), ("type", "a\"b\\c\nd")]),
                    3.0
                ),
                (
                    "y_seconds".to_owned(),
                    labels(&[("connector_id", "c")]),
                    1.5
                ),
            ]
        );
    }

    #[test]
    fn parse_skips_garbage_and_reads_bare_samples() {
        let back = parse("# c\nbroken{a=\"x\nz 7 1700000000000\nw{a=\"1\"} nope\n");
        assert_eq!(back, vec![("z".to_owned(), Labels::new(), 7.0)]);
    }

    #[test]
    fn numbers() {
        assert_eq!(number(42.0), "42");
        assert_eq!(number(1796157898.25), "1796157898.25");
        assert_eq!(number(-3.0), "-3");
    }
}
