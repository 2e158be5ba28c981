//! Chunk planning and rendering. A chunk travels as a GraphQL `String` variable, i.e. a JSON
//! string inside the request body, so its cost is its length *after* JSON-string escaping.

use super::Prepared;
use super::escape::{HEAD, MID, TAIL, UUID_LEN, write_escaped};

/// Objects of [`Prepared::objects`] that form one bundle: closed under references (see
/// [`super::closure`]), so an object shared by several chunks is in each of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkPlan {
    /// Indices into [`Prepared::objects`], ascending (dependency order).
    pub objects: Vec<u32>,
    /// Length of the rendered bundle as a JSON string literal (escaped, quotes included):
    /// what [`Prepared::render_escaped_into`] appends, and what `max_bytes` bounds.
    pub escaped_bytes: usize,
    /// Length of [`Prepared::render`]'s output.
    pub raw_bytes: usize,
}

impl ChunkPlan {
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

/// Objects in all the chunks, copies included: what OpenCTI has to import.
pub fn pushed_objects(plans: &[ChunkPlan]) -> usize {
    plans.iter().map(ChunkPlan::len).sum()
}

impl Prepared<'_> {
    /// Append the chunk's bundle text as a JSON string literal (quotes included) to `out`, for
    /// building a GraphQL request body without an intermediate copy. Appends exactly
    /// `plan.escaped_bytes` bytes.
    pub fn render_escaped_into(&self, plan: &ChunkPlan, out: &mut Vec<u8>) {
        out.reserve(plan.escaped_bytes);
        out.push(b'"');
        write_escaped(out, HEAD.as_bytes());
        out.extend_from_slice(new_uuid().as_bytes());
        write_escaped(out, MID.as_bytes());
        for (n, &i) in plan.objects.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            write_escaped(out, self.objects[i as usize].raw.as_bytes());
        }
        write_escaped(out, TAIL.as_bytes());
        out.push(b'"');
    }
}

fn new_uuid() -> String {
    let id = uuid::Uuid::new_v4().hyphenated().to_string();
    debug_assert_eq!(id.len(), UUID_LEN);
    id
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::escape::{envelope_escaped, escaped_extra};
    use super::super::testutil::{bundle, id, obj};
    use super::super::{BundleError, Limits, Object, Prepared, WELL_KNOWN, parse, prepare};
    use super::*;
    use std::collections::{HashMap, HashSet};

    // Bundle text of a chunk, unescaped: what the escaped rendering must decode to.
    impl Prepared<'_> {
        /// The chunk as one bundle with a fresh id; objects byte for byte as in the input.
        pub(super) fn render(&self, plan: &ChunkPlan) -> String {
            let mut out = String::with_capacity(plan.raw_bytes);
            self.render_into(plan, &mut out);
            out
        }

        /// Append the chunk's bundle text to `out`.
        pub(super) fn render_into(&self, plan: &ChunkPlan, out: &mut String) {
            out.reserve(plan.raw_bytes);
            out.push_str(HEAD);
            out.push_str(new_uuid().as_str());
            out.push_str(MID);
            for (n, &i) in plan.objects.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                out.push_str(self.objects[i as usize].raw);
            }
            out.push_str(TAIL);
        }
    }

    fn escaped_len(s: &str) -> usize {
        2 + s.len() + escaped_extra(s.as_bytes())
    }

    #[test]
    fn escaping_math_matches_serde_json() {
        let mut samples: Vec<String> = vec![
            String::new(),
            "plain".into(),
            r#"{"a":"b\"c\\d"}"#.into(),
            "tab\tnew\nline\r\u{8}\u{c}\u{0}\u{1f}\u{7f} é ü 😀 \\u00e9".into(),
            "\"".repeat(600),
            "\\".repeat(300) + &"\u{1}".repeat(300),
        ];
        samples.push((0u8..128).map(char::from).collect());
        for s in &samples {
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(escaped_len(s), json.len(), "{s:?}");
            let mut out = Vec::new();
            out.push(b'"');
            write_escaped(&mut out, s.as_bytes());
            out.push(b'"');
            assert_eq!(String::from_utf8(out).unwrap(), json);
        }
    }

    /// Objects with strings that need escaping, some pretty-printed, a dependency chain and
    /// references to the well-known objects.
    pub(crate) fn varied_bundle(n: u32) -> String {
        let mut objects = Vec::new();
        for i in 0..n {
            let mut extra = format!(
                r#""description":"{} \"quoted\" back\\slash \\n \u00e9","created_by_ref":"identity--9ac61d58-60f0-40b8-8b96-2f1f4858534b""#,
                "x".repeat((i as usize * 37) % 900)
            );
            if i > 0 {
                extra.push_str(&format!(
                    r#","object_refs":["{}"]"#,
                    id("note", (i * 7) % i)
                ));
            }
            if i % 5 == 0 {
                extra.push_str(
                    r#","object_marking_refs":["marking-definition--f79f25d2-8b96-4580-b169-eb7b613a7c31"]"#,
                );
            }
            let o = obj("note", i, &extra);
            objects.push(if i % 3 == 0 {
                o.replace(",\"", ",\n\t\"")
            } else {
                o
            });
        }
        // Reverse so that references point forward in the input.
        objects.reverse();
        bundle(&objects)
    }

    /// Every plan within the limits, rendering to what it says; every chunk closed under
    /// references and in dependency order; the chunks together hold exactly the input plus the
    /// added well-known objects.
    pub(crate) fn check_plans(
        p: &Prepared<'_>,
        plans: &[ChunkPlan],
        limits: &Limits,
        input_raws: &[&str],
    ) {
        let mut seen: HashSet<&str> = HashSet::new();
        let all: HashSet<&str> = p.objects.iter().map(|o| o.id).collect();
        for plan in plans {
            assert!(!plan.is_empty());
            assert!(plan.len() <= limits.max_objects);
            assert!(
                plan.escaped_bytes <= limits.max_bytes,
                "{} bytes over {limits:?}",
                plan.escaped_bytes
            );

            let text = p.render(plan);
            assert_eq!(text.len(), plan.raw_bytes);
            assert_eq!(
                serde_json::to_string(&text).unwrap().len(),
                plan.escaped_bytes
            );
            let mut escaped = b"prefix".to_vec();
            p.render_escaped_into(plan, &mut escaped);
            assert_eq!(escaped.len() - 6, plan.escaped_bytes);
            let unescaped: String = serde_json::from_slice(&escaped[6..]).unwrap();
            assert_eq!(unescaped.len(), plan.raw_bytes);

            for text in [text, unescaped] {
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert_eq!(v["type"], "bundle");
                assert!(v["id"].as_str().unwrap().starts_with("bundle--"));
                let again = parse(text.as_bytes()).unwrap();
                assert_eq!(again.objects.len(), plan.len());
                for (a, &b) in again.objects.iter().zip(&plan.objects) {
                    assert_eq!(a.raw, p.objects[b as usize].raw);
                }
            }

            let position: HashMap<&str, usize> = plan
                .objects
                .iter()
                .enumerate()
                .map(|(k, &i)| (p.objects[i as usize].id, k))
                .collect();
            assert_eq!(position.len(), plan.len(), "no object twice in a chunk");
            for (k, &i) in plan.objects.iter().enumerate() {
                let o = &p.objects[i as usize];
                for r in p.refs(o) {
                    if all.contains(r) {
                        let j = position.get(r);
                        assert!(j.is_some(), "{} references {r}, not in its chunk", o.id);
                        assert!(j < Some(&k) || r == o.id, "{r} before {}", o.id);
                    }
                }
                seen.insert(o.raw);
            }
        }

        let expected: HashSet<&str> = input_raws
            .iter()
            .copied()
            .chain(
                WELL_KNOWN
                    .iter()
                    .copied()
                    .filter(|w| p.added.iter().any(|id| w.contains(id))),
            )
            .collect();
        assert_eq!(seen, expected, "union of chunks == input + completions");
    }

    fn raws<'a>(objects: &[Object<'a>]) -> Vec<&'a str> {
        objects.iter().map(|o| o.raw).collect()
    }

    #[test]
    fn chunks_respect_limits_order_and_content() {
        let text = varied_bundle(400);
        let parsed = parse(text.as_bytes()).unwrap();
        let input = raws(&parsed.objects);
        let p = prepare(parsed);
        assert_eq!(p.added.len(), 3);
        // Each note references note 0, the DISINFOX identity and maybe the marking (which
        // references the DISARM identity): at most 5 objects per closure.
        let biggest = p
            .objects
            .iter()
            .map(|o| o.raw.len() + escaped_extra(o.raw.as_bytes()))
            .max()
            .unwrap();
        for limits in [
            Limits {
                max_bytes: envelope_escaped() + 5 * (biggest + 1),
                max_objects: 10_000,
            },
            Limits {
                max_bytes: 20 * biggest,
                max_objects: 7,
            },
            Limits {
                max_bytes: 20_000,
                max_objects: 5,
            },
            Limits {
                max_bytes: 100_000,
                max_objects: 50,
            },
            Limits::default(),
        ] {
            let plans = p.chunks(&limits).unwrap();
            check_plans(&p, &plans, &limits, &input);
            if limits == Limits::default() {
                assert_eq!(plans.len(), 1, "one chunk when everything fits");
                assert_eq!(pushed_objects(&plans), p.len());
            } else {
                assert!(plans.len() > 1);
                assert!(
                    pushed_objects(&plans) > p.len(),
                    "shared objects are copied"
                );
            }
        }
        let err = p
            .chunks(&Limits {
                max_bytes: 1 << 20,
                max_objects: 4,
            })
            .unwrap_err();
        assert!(
            matches!(err, BundleError::ClosureTooLarge { objects: 5, .. }),
            "{err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("--chunk-objects") && !msg.contains('\n'),
            "{msg}"
        );
    }

    #[test]
    fn escaped_len_is_measured_per_object() {
        let text = varied_bundle(50);
        let p = prepare(parse(text.as_bytes()).unwrap());
        for o in &p.objects {
            assert_eq!(
                o.escaped_len() + 2,
                serde_json::to_string(o.raw).unwrap().len()
            );
        }
    }

    /// Correctness at scale, at a size that keeps `cargo test` quick: generated DISINFOX bundle
    /// (incremental shape: attack-patterns absent), plus re-sent objects with later
    /// `modified` that must win over the originals.
    #[test]
    fn generated_bundle_at_scale() {
        use super::super::generator::{GenOptions, bundle_json, format_ms, generate};
        let generated = generate(&GenOptions {
            with_attack_patterns: false,
            ..GenOptions::new(1_000)
        });
        let mut raws: Vec<String> = generated.objects.iter().map(|(_, s)| s.clone()).collect();
        let newest = format_ms(generated.max_modified_ms().unwrap() + 1);
        let mut resent = 0;
        for (ms, raw) in generated.objects.iter().step_by(97) {
            let old = format_ms(*ms);
            raws.push(raw.replace(&old, &newest));
            resent += 1;
        }
        let text = bundle_json(&raws.iter().map(String::as_str).collect::<Vec<_>>());

        // The expected objects: per id, the version with the latest `modified`.
        let mut latest: HashMap<String, (String, String)> = HashMap::new();
        for raw in &raws {
            let v: serde_json::Value = serde_json::from_str(raw).unwrap();
            let (id, m) = (v["id"].as_str().unwrap(), v["modified"].as_str().unwrap());
            let e = latest
                .entry(id.to_string())
                .or_insert((m.to_string(), raw.clone()));
            if m > e.0.as_str() {
                *e = (m.to_string(), raw.clone());
            }
        }
        let mut expected: Vec<&str> = latest.values().map(|(_, r)| r.as_str()).collect();
        expected.sort_unstable();

        let p = prepare(parse(text.as_bytes()).unwrap());
        assert_eq!(p.duplicates, resent);
        assert_eq!(p.max_modified(), Some(newest.as_str()));
        assert_eq!(
            p.added,
            vec![super::super::well_known::DISINFOX_IDENTITY_ID],
            "no attack-patterns: no DISARM objects needed"
        );
        let dangling = &p.dangling["attack-pattern"];
        assert!(!dangling.is_empty() && p.dangling.len() == 1);
        let limits = Limits {
            max_bytes: 256 * 1024,
            max_objects: 1_000,
        };
        let plans = p.chunks(&limits).unwrap();
        assert!(plans.len() > 10);
        check_plans(&p, &plans, &limits, &expected);
    }

    #[test]
    fn chunks_are_filled() {
        let text = varied_bundle(200);
        let p = prepare(parse(text.as_bytes()).unwrap());
        let limits = Limits {
            max_bytes: 30_000,
            max_objects: 1_000,
        };
        let plans = p.chunks(&limits).unwrap();
        assert!(plans.len() > 3);
        // A chunk is closed when the next object's closure (at most 5 objects of under 1.2 KB)
        // does not fit.
        for plan in &plans[..plans.len() - 1] {
            assert!(plan.escaped_bytes > limits.max_bytes - 6_000, "{plan:?}");
        }
    }

    #[test]
    fn exact_fit_is_allowed() {
        let text = bundle(&[obj("note", 1, ""), obj("note", 2, "")]);
        let p = prepare(parse(text.as_bytes()).unwrap());
        let all = p.chunks(&Limits::default()).unwrap();
        assert_eq!(all.len(), 1);
        let exact = Limits {
            max_bytes: all[0].escaped_bytes,
            max_objects: 2,
        };
        assert_eq!(p.chunks(&exact).unwrap(), all);
        let short = Limits {
            max_bytes: all[0].escaped_bytes - 1,
            max_objects: 2,
        };
        assert_eq!(p.chunks(&short).unwrap().len(), 2);
    }

    #[test]
    fn an_object_too_big_for_any_chunk_is_an_error() {
        let text = bundle(&[
            obj("note", 1, ""),
            obj("note", 2, &format!(r#""content":"{}""#, "a".repeat(5000))),
        ]);
        let p = prepare(parse(text.as_bytes()).unwrap());
        let err = p
            .chunks(&Limits {
                max_bytes: 4096,
                max_objects: 10,
            })
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&id("note", 2)), "{msg}");
        assert!(msg.contains("raise --chunk-size"), "{msg}");
        assert!(msg.contains("4096"), "{msg}");
        assert!(matches!(
            p.chunks(&Limits {
                max_bytes: 1 << 20,
                max_objects: 0
            }),
            Err(BundleError::Limits { .. })
        ));
    }

    #[test]
    fn render_gives_a_fresh_bundle_id() {
        let text = bundle(&[obj("note", 1, "")]);
        let p = prepare(parse(text.as_bytes()).unwrap());
        let plan = &p.chunks(&Limits::default()).unwrap()[0];
        let a = p.render(plan);
        let b = p.render(plan);
        assert_ne!(a, b);
        let rendered: serde_json::Value = serde_json::from_str(&a).unwrap();
        let id = rendered["id"].as_str().unwrap();
        assert!(uuid::Uuid::parse_str(id.strip_prefix("bundle--").unwrap()).is_ok());
        assert_eq!(a.len(), b.len());
    }
}
