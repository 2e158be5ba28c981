//! Deterministic DISINFOX-shaped bundles for tests and benchmarks.
//!
//! Shape as in shared/notes/disinfox-api.md §4–§6: per incident one intrusion-set, its
//! threat-actors and locations (shared pools, each object emitted once, at first use),
//! 3–10 DISARM-style attack-patterns from a pool of 400 (emitted at first use, unless
//! `with_attack_patterns` is false: then `uses` relationships dangle as in incremental answers),
//! and the `uses` / `attributed-to` / `targets` relationships. Compact JSON, keys sorted,
//! non-ASCII escaped as `\uXXXX`, like Flask's `jsonify`.
//!
//! Ids: deterministic "uuid5-like" ids derived from the name for intrusion-sets, threat-actors
//! and locations (the real ones are uuid5; SHA-1 is not worth a dependency here), fixed ids per
//! pool slot for attack-patterns, random-looking v4 ids for relationships. Same options, same
//! output, byte for byte.
//!
//! Included with `#[path = "../support/generator.rs"] mod generator;`: std + serde_json/uuid only.
#![allow(dead_code)]

use std::fmt::Write as _;

pub const DISINFOX_IDENTITY_ID: &str = "identity--9ac61d58-60f0-40b8-8b96-2f1f4858534b";
pub const DISARM_IDENTITY_ID: &str = "identity--f1a0f560-2d9e-4c5d-bf47-7e96e805de82";
pub const DISARM_MARKING_ID: &str = "marking-definition--f79f25d2-8b96-4580-b169-eb7b613a7c31";

/// Size of the DISARM-style attack-pattern pool.
pub const ATTACK_PATTERN_POOL: usize = 400;

#[derive(Clone, Debug)]
pub struct GenOptions {
    pub incidents: usize,
    pub seed: u64,
    /// Unix milliseconds of the first incident.
    pub start_ms: i64,
    /// Milliseconds between two incidents.
    pub step_ms: i64,
    pub with_attack_patterns: bool,
}

impl GenOptions {
    /// `incidents` incidents from 2026-11-27T21:51:42.833Z, 37 ms apart, seed 1, full bundle.
    pub fn new(incidents: usize) -> Self {
        GenOptions {
            incidents,
            seed: 1,
            start_ms: 1_795_816_302_833,
            step_ms: 37,
            with_attack_patterns: true,
        }
    }
}

pub struct Generated {
    /// (modified as unix ms, compact JSON object with sorted keys), in "storage" order.
    pub objects: Vec<(i64, String)>,
}

impl Generated {
    /// The greatest `modified`, as unix ms.
    pub fn max_modified_ms(&self) -> Option<i64> {
        self.objects.iter().map(|(ms, _)| *ms).max()
    }

    pub fn raws(&self) -> Vec<&str> {
        self.objects.iter().map(|(_, s)| s.as_str()).collect()
    }

    /// The DISINFOX answer, consuming the objects as it goes (peak memory ~1x, not 2x).
    pub fn into_bundle(self) -> String {
        let total: usize = self.objects.iter().map(|(_, s)| s.len() + 1).sum();
        let mut out = String::with_capacity(total + 100);
        bundle_head(&mut out);
        for (i, (_, s)) in self.objects.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&s);
        }
        bundle_tail(&mut out);
        out
    }
}

/// Wrap raw objects as DISINFOX does: `{"id":"bundle--<uuid4>","objects":[…],"type":"bundle"}\n`.
pub fn bundle_json(objects: &[&str]) -> String {
    let total: usize = objects.iter().map(|s| s.len() + 1).sum();
    let mut out = String::with_capacity(total + 100);
    bundle_head(&mut out);
    for (i, s) in objects.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(s);
    }
    bundle_tail(&mut out);
    out
}

fn bundle_head(out: &mut String) {
    out.push_str("{\"id\":\"bundle--");
    out.push_str(&uuid::Uuid::new_v4().hyphenated().to_string());
    out.push_str("\",\"objects\":[");
}

fn bundle_tail(out: &mut String) {
    out.push_str("],\"type\":\"bundle\"}\n");
}

pub fn generate(opts: &GenOptions) -> Generated {
    let mut rng = Rng::new(opts.seed);
    let pools = Pools::new(opts.seed);
    let mut used_actor = vec![false; pools.actors.len()];
    let mut used_location = vec![false; pools.locations.len()];
    let mut used_pattern = vec![false; pools.patterns.len()];
    // ~10 objects per incident.
    let mut objects = Vec::with_capacity(opts.incidents.saturating_mul(10) + 64);
    let mut buf = String::new();

    for n in 0..opts.incidents {
        let base = opts.start_ms + n as i64 * opts.step_ms;
        let n_actors = if rng.below(10) == 0 { 2 } else { 1 };
        let actors = pick_distinct(&mut rng, pools.actors.len(), n_actors);
        let n_locations = match rng.below(10) {
            0 => 3,
            1 | 2 => 2,
            _ => 1,
        };
        let locations = pick_distinct(&mut rng, pools.locations.len(), n_locations);
        let n_patterns = 3 + rng.below(8) as usize;
        let patterns = pick_distinct(&mut rng, pools.patterns.len(), n_patterns);

        // DISINFOX builds the referenced objects a few ms before the incident.
        for &a in &actors {
            if !std::mem::replace(&mut used_actor[a], true) {
                let ms = base;
                threat_actor(&mut buf, &pools.actors[a], ms);
                objects.push((ms, buf.clone()));
            }
        }
        for &l in &locations {
            if !std::mem::replace(&mut used_location[l], true) {
                let ms = base + 1;
                location(&mut buf, &pools.locations[l], ms);
                objects.push((ms, buf.clone()));
            }
        }
        let incident = Incident::new(&mut rng, n);
        let is_ms = base + 2;
        intrusion_set(&mut buf, &incident, is_ms);
        objects.push((is_ms, buf.clone()));
        if opts.with_attack_patterns {
            for &p in &patterns {
                if !std::mem::replace(&mut used_pattern[p], true) {
                    let ap = &pools.patterns[p];
                    attack_pattern(&mut buf, ap);
                    objects.push((ap.modified_ms, buf.clone()));
                }
            }
        }
        let rel_ms = base + 3;
        for &p in &patterns {
            relationship(
                &mut buf,
                &mut rng,
                "uses",
                &incident.id,
                &pools.patterns[p].id,
                rel_ms,
            );
            objects.push((rel_ms, buf.clone()));
        }
        for &a in &actors {
            relationship(
                &mut buf,
                &mut rng,
                "attributed-to",
                &incident.id,
                &pools.actors[a].id,
                rel_ms,
            );
            objects.push((rel_ms, buf.clone()));
        }
        for &l in &locations {
            relationship(
                &mut buf,
                &mut rng,
                "targets",
                &incident.id,
                &pools.locations[l].id,
                rel_ms,
            );
            objects.push((rel_ms, buf.clone()));
        }
    }
    Generated { objects }
}

// ---------------------------------------------------------------------------------------------
// PRNG and ids

/// splitmix64: tiny, fast, good enough for test data.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed ^ 0x6a09_e667_f3bc_c909)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn uuid4(&mut self) -> String {
        uuid_string(self.next(), self.next(), 4)
    }
}

fn pick_distinct(rng: &mut Rng, pool: usize, count: usize) -> Vec<usize> {
    let count = count.min(pool);
    let mut out: Vec<usize> = Vec::with_capacity(count);
    while out.len() < count {
        let i = rng.below(pool as u64) as usize;
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// 128 bits from a name (two FNV-1a passes with different bases, finalized by splitmix):
/// stands in for uuid5(NS, name).
fn name_hash(name: &str) -> (u64, u64) {
    let fnv = |basis: u64| {
        let mut h = basis;
        for b in name.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        Rng(h).next()
    };
    (fnv(0xcbf2_9ce4_8422_2325), fnv(0x8422_2325_cbf2_9ce4))
}

fn uuid_string(hi: u64, lo: u64, version: u64) -> String {
    let hi = (hi & !0xf000) | (version << 12);
    let lo = (lo & !(0b11 << 62)) | (0b10 << 62);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

fn uuid5_like(kind: &str, name: &str) -> String {
    let (hi, lo) = name_hash(name);
    format!("{kind}--{}", uuid_string(hi, lo, 5))
}

// ---------------------------------------------------------------------------------------------
// Time

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for unix milliseconds.
pub fn format_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

/// Howard Hinnant's days -> civil date.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// 2023-01-01T00:00:00Z and 2025-01-01T00:00:00Z in unix ms.
const Y2023_MS: i64 = 1_672_531_200_000;
const Y2025_MS: i64 = 1_735_689_600_000;

// ---------------------------------------------------------------------------------------------
// JSON writing (keys are written in sorted order by hand)

/// A JSON string literal as Python's `json.dumps` writes it (`ensure_ascii`: non-ASCII as
/// `\uXXXX` UTF-16 units). Shared with the DISINFOX stand-in, which serializes the same way.
pub fn js(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn key(out: &mut String, k: &str) {
    out.push('"');
    out.push_str(k);
    out.push_str("\":");
}

fn kv(out: &mut String, k: &str, v: &str) {
    key(out, k);
    js(out, v);
    out.push(',');
}

fn threat_actor(out: &mut String, a: &Named, ms: i64) {
    let t = format_ms(ms);
    out.clear();
    out.push('{');
    kv(out, "created", &t);
    kv(out, "created_by_ref", DISINFOX_IDENTITY_ID);
    kv(out, "id", &a.id);
    out.push_str("\"labels\":[\"threat-actor\"],");
    kv(out, "modified", &t);
    kv(out, "name", &a.name);
    kv(out, "spec_version", "2.1");
    out.push_str("\"threat_actor_types\":[\"nation-state\"],");
    key(out, "type");
    js(out, "threat-actor");
    out.push('}');
}

fn location(out: &mut String, l: &Named, ms: i64) {
    let t = format_ms(ms);
    out.clear();
    out.push('{');
    kv(out, "country", &l.name);
    kv(out, "created", &t);
    kv(out, "created_by_ref", DISINFOX_IDENTITY_ID);
    kv(out, "id", &l.id);
    kv(out, "modified", &t);
    kv(out, "name", &l.name);
    kv(out, "spec_version", "2.1");
    key(out, "type");
    js(out, "location");
    out.push('}');
}

fn intrusion_set(out: &mut String, i: &Incident, ms: i64) {
    let t = format_ms(ms);
    out.clear();
    out.push('{');
    kv(out, "created", &t);
    kv(out, "created_by_ref", DISINFOX_IDENTITY_ID);
    kv(out, "description", &i.description);
    kv(out, "first_seen", &i.first_seen);
    kv(out, "id", &i.id);
    out.push_str("\"labels\":[\"incident\",\"disinformation\"],");
    kv(out, "modified", &t);
    kv(out, "name", &i.name);
    kv(out, "spec_version", "2.1");
    key(out, "type");
    js(out, "intrusion-set");
    out.push('}');
}

fn attack_pattern(out: &mut String, p: &Pattern) {
    let t = format_ms(p.modified_ms);
    out.clear();
    out.push('{');
    kv(out, "created", &t);
    kv(out, "created_by_ref", DISARM_IDENTITY_ID);
    kv(out, "description", &p.description);
    out.push_str("\"external_references\":[{");
    kv(out, "external_id", &p.external_id);
    kv(out, "source_name", "mitre-attack");
    key(out, "url");
    js(
        out,
        &format!(
            "https://github.com/DISARMFoundation/DISARMframeworks/blob/main/generated_pages/techniques/{}.md",
            p.external_id
        ),
    );
    out.push_str("}],");
    kv(out, "id", &p.id);
    out.push_str("\"kill_chain_phases\":[{\"kill_chain_name\":\"mitre-attack\",");
    key(out, "phase_name");
    js(out, p.phase);
    out.push_str("}],");
    kv(out, "modified", &t);
    kv(out, "name", &p.name);
    out.push_str("\"object_marking_refs\":[");
    js(out, DISARM_MARKING_ID);
    out.push_str("],");
    kv(out, "spec_version", "2.1");
    kv(out, "type", "attack-pattern");
    key(out, "x_mitre_is_subtechnique");
    out.push_str(if p.external_id.contains('.') {
        "true,"
    } else {
        "false,"
    });
    out.push_str("\"x_mitre_platforms\":[\"Windows\",\"Linux\",\"Mac\"],");
    key(out, "x_mitre_version");
    js(out, "2.1");
    out.push('}');
}

fn relationship(out: &mut String, rng: &mut Rng, kind: &str, source: &str, target: &str, ms: i64) {
    let t = format_ms(ms);
    out.clear();
    out.push('{');
    kv(out, "created", &t);
    kv(out, "created_by_ref", DISINFOX_IDENTITY_ID);
    kv(out, "id", &format!("relationship--{}", rng.uuid4()));
    kv(out, "modified", &t);
    kv(out, "relationship_type", kind);
    kv(out, "source_ref", source);
    kv(out, "spec_version", "2.1");
    kv(out, "target_ref", target);
    key(out, "type");
    js(out, "relationship");
    out.push('}');
}

// ---------------------------------------------------------------------------------------------
// Content

struct Named {
    name: String,
    id: String,
}

struct Pattern {
    id: String,
    name: String,
    description: String,
    external_id: String,
    phase: &'static str,
    modified_ms: i64,
}

struct Incident {
    id: String,
    name: String,
    description: String,
    first_seen: String,
}

impl Incident {
    fn new(rng: &mut Rng, n: usize) -> Self {
        let event = rng.pick(EVENTS);
        let place = rng.pick(COUNTRIES);
        let name = match rng.below(3) {
            0 => event.to_string(),
            1 => format!("{event} in {place}"),
            _ => format!("{} {event}", 2000 + rng.below(26)),
        };
        let len = 14
            + rng.below(220) as usize
            + if rng.below(10) == 0 {
                rng.below(2000) as usize
            } else {
                0
            };
        // The incident number keeps names+descriptions (and so ids) distinct.
        let description = format!("Incident {n}: {}", text(rng, len));
        let alnum = |s: &str| {
            s.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        };
        let id = uuid5_like(
            "intrusion-set",
            &format!("{}-{}", alnum(&name), alnum(&description)),
        );
        let year = 2014 + rng.below(12);
        let first_seen = if rng.below(2) == 0 {
            format!("{year}-01-01T00:00:00Z")
        } else {
            format!(
                "{year}-{:02}-{:02}T00:00:00Z",
                1 + rng.below(12),
                1 + rng.below(28)
            )
        };
        Incident {
            id,
            name,
            description,
            first_seen,
        }
    }
}

struct Pools {
    actors: Vec<Named>,
    locations: Vec<Named>,
    patterns: Vec<Pattern>,
}

impl Pools {
    fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed.rotate_left(17) ^ 0x243f_6a88_85a3_08d3);
        let mut actors: Vec<Named> = ACTORS.iter().map(|a| named("threat-actor", a)).collect();
        // Multi-valued CSV cells stay one actor ("Russia,UK").
        for i in 0..20 {
            let a = format!(
                "{},{}",
                COUNTRIES[i * 3 % COUNTRIES.len()],
                COUNTRIES[(i * 7 + 1) % COUNTRIES.len()]
            );
            actors.push(named("threat-actor", &a));
        }
        let locations = COUNTRIES.iter().map(|c| named("location", c)).collect();
        let patterns = (0..ATTACK_PATTERN_POOL)
            .map(|i| {
                let technique = 1 + i / 3;
                let external_id = if i % 3 == 0 {
                    format!("T{technique:04}")
                } else {
                    format!("T{technique:04}.{:03}", i % 3)
                };
                let name = format!(
                    "{} {} {}",
                    rng.pick(VERBS),
                    rng.pick(ADJECTIVES),
                    rng.pick(NOUNS)
                );
                let len = 2
                    + rng.below(260) as usize
                    + if rng.below(4) == 0 {
                        rng.below(1100) as usize
                    } else {
                        0
                    };
                Pattern {
                    id: format!("attack-pattern--{}", {
                        let (hi, lo) = name_hash(&format!("disarm-{i}"));
                        uuid_string(hi, lo, 4)
                    }),
                    name,
                    description: text(&mut rng, len),
                    external_id,
                    phase: rng.pick(PHASES),
                    modified_ms: Y2023_MS + rng.below((Y2025_MS - Y2023_MS) as u64) as i64,
                }
            })
            .collect();
        Pools {
            actors,
            locations,
            patterns,
        }
    }
}

fn named(kind: &str, name: &str) -> Named {
    Named {
        name: name.to_string(),
        id: uuid5_like(kind, name),
    }
}

/// Prose-like text of about `len` characters; some quotes, a few non-ASCII words and the
/// occasional line break, so escaping is exercised.
fn text(rng: &mut Rng, len: usize) -> String {
    let mut out = String::with_capacity(len + 16);
    while out.chars().count() < len {
        if !out.is_empty() {
            out.push_str(match rng.below(40) {
                0 => ". ",
                1 => ", ",
                2 if out.len() > 200 => ".\n",
                _ => " ",
            });
        }
        match rng.below(60) {
            0 => {
                out.push('"');
                out.push_str(rng.pick(NOUNS));
                out.push('"');
            }
            1 => out.push_str(rng.pick(FOREIGN)),
            2 => out.push_str(rng.pick(COUNTRIES)),
            _ => out.push_str(rng.pick(WORDS)),
        }
    }
    out
}

const EVENTS: &[&str] = &[
    "Referendum",
    "Presidential Election",
    "Local Election",
    "General Election",
    "Presidential and Legislative Elections",
    "EU Referendum",
    "Federal Election",
    "COVID-19 vaccine rumours",
    "War propaganda",
    "Energy crisis narrative",
    "Migration hoax",
    "Climate denial campaign",
    "Protest amplification",
    "Deepfake of a minister",
    "Forged government letter",
    "Ukraine re-sold French howitzers for profit",
    "Scotland referendum trolling",
];

const ACTORS: &[&str] = &[
    "IRA*",
    "IRIB",
    "GRU",
    "Malofeev",
    "Unknown",
    "Team Jorge",
    "Cambridge Analytica",
    "Secondary Infektion",
    "IRA",
    "Kremlin Affiliated Media Outlets",
    "Russian Hacker",
    "Alt-Right",
    "Turkey",
    "Estraterra",
    "Beijing Affiliated Media Outlets",
    "Prigozhin-AFRIC",
    "50 Cent Army",
    "Prigozhin-Wagner",
    "Archimedes",
    "Ureputation",
    "Spamouflage/Dragonbridge/Storm 1376",
    "CLS Strategies",
    "CopyCop/Storm-1516",
    "Doppelganger/RRN/Storm 1099",
    "STOIC",
    "Russia",
    "China",
    "Syria",
    "Brazil",
    "SaudiArabia",
    "Iran",
    "Myanmar",
    "UK",
    "Belarus",
    "Агентство интернет-исследований",
    "Ghostwriter",
    "Endless Mayfly",
    "Pravda network",
    "Portal Kombat",
    "Bot farm \"Z\"",
];

const COUNTRIES: &[&str] = &[
    "Scotland",
    "Ukraine",
    "Bosnia-Herzegovina",
    "Canada",
    "Nigeria",
    "Poland",
    "United-Kingdom",
    "Netherlands",
    "United-States",
    "Germany",
    "Spain",
    "France",
    "Kenya",
    "Chile",
    "Ecuador",
    "Armenia",
    "North Macedonia",
    "Venezuela",
    "Italy ",
    "Sweden",
    "Madagascar",
    "Zimbabwe",
    "Brazil",
    "Taiwan",
    "Libya ",
    "Argentina",
    "Mozambique",
    "European Union",
    "Australia",
    "Tunisia ",
    "Lithuania, Latvia, Poland",
    "Côte d'Ivoire",
    "Türkiye",
    "México",
    "Réunion",
    "São Tomé and Príncipe",
    "Moldova",
    "Georgia",
    "Romania",
    "Hungary",
    "Czechia",
    "Slovakia",
    "Estonia",
    "Finland",
    "Norway",
    "Denmark",
    "Austria",
    "Switzerland",
    "Belgium",
    "Portugal",
    "Greece",
    "Serbia",
    "Montenegro",
    "Kosovo",
    "Albania",
    "Bulgaria",
    "Croatia",
    "Slovenia",
    "India",
    "Pakistan",
    "Bangladesh",
    "Indonesia",
    "Philippines",
    "Japan",
    "South Korea",
    "Mali",
    "Burkina Faso",
    "Niger",
    "Sudan",
    "Ethiopia",
    "South Africa",
    "Colombia",
    "Peru",
    "Bolivia",
    "Uruguay",
    "Paraguay",
    "Cuba",
    "Nicaragua",
    "Israel",
    "Lebanon",
];

const PHASES: &[&str] = &[
    "plan-strategy",
    "plan-objectives",
    "target-audience-analysis",
    "develop-narratives",
    "develop-content",
    "select-channels-and-affordances",
    "conduct-pump-priming",
    "deliver-content",
    "drive-offline-activity",
    "persist-in-the-information-environment",
    "assess-effectiveness",
    "establish-assets",
    "establish-legitimacy",
    "maximise-exposure",
    "drive-online-harms",
    "microtarget",
];

const VERBS: &[&str] = &[
    "Amplify",
    "Create",
    "Develop",
    "Leverage",
    "Exploit",
    "Impersonate",
    "Deliver",
    "Flood",
    "Seed",
    "Coordinate",
    "Conceal",
    "Recruit",
    "Purchase",
    "Distort",
    "Discredit",
    "Harass",
];

const ADJECTIVES: &[&str] = &[
    "Existing",
    "Inauthentic",
    "Localised",
    "Anonymous",
    "Fake",
    "Paid",
    "Sponsored",
    "Hyper-partisan",
    "Automated",
    "Compromised",
    "Trusted",
    "Viral",
    "Fabricated",
    "Cloned",
];

const NOUNS: &[&str] = &[
    "Conspiracy Theory Narratives",
    "Websites",
    "Social Media Accounts",
    "Influencers",
    "News Outlets",
    "Think Tanks",
    "Memes",
    "Hashtags",
    "Petitions",
    "Deepfakes",
    "Channels",
    "Experts",
    "Leaks",
    "Forums",
    "Advertisements",
    "Bot Networks",
    "Front Groups",
];

const WORDS: &[&str] = &[
    "an",
    "influence",
    "operation",
    "may",
    "amplify",
    "existing",
    "narrative",
    "that",
    "aligns",
    "with",
    "its",
    "incident",
    "or",
    "campaign",
    "goals",
    "by",
    "operators",
    "can",
    "leverage",
    "the",
    "power",
    "of",
    "communities",
    "support",
    "and",
    "propagate",
    "those",
    "theories",
    "without",
    "needing",
    "to",
    "expend",
    "resources",
    "creating",
    "new",
    "narratives",
    "building",
    "momentum",
    "buy",
    "in",
    "around",
    "disinformation",
    "media",
    "outlet",
    "published",
    "false",
    "claims",
    "about",
    "election",
    "officials",
    "network",
    "accounts",
    "shared",
    "fabricated",
    "documents",
    "government",
    "foreign",
    "state",
    "actors",
    "used",
    "social",
    "platforms",
    "target",
    "audience",
    "voters",
    "minority",
    "groups",
    "content",
];

const FOREIGN: &[&str] = &[
    "désinformation",
    "überwachung",
    "propagande",
    "дезинформация",
    "пропаганда",
    "虚假信息",
    "宣传",
    "ﺗﻀﻠﻴﻞ",
    "naïve",
    "coöperation",
    "smart “quotes”",
    "emoji 🗳️",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_ms_is_disinfox_format() {
        assert_eq!(format_ms(1_795_816_302_833), "2026-11-27T21:51:42.833Z");
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ms(Y2023_MS), "2023-01-01T00:00:00.000Z");
        assert_eq!(format_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn deterministic_and_disinfox_shaped() {
        let opts = GenOptions::new(50);
        let a = generate(&opts);
        let b = generate(&opts);
        assert_eq!(a.objects, b.objects);
        let other = generate(&GenOptions {
            seed: 2,
            ..opts.clone()
        });
        assert_ne!(a.objects, other.objects);

        let text = bundle_json(&a.raws());
        assert!(text.is_ascii() && text.ends_with("}\n"));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["id", "objects", "type"]);
        for ((ms, raw), o) in a.objects.iter().zip(v["objects"].as_array().unwrap()) {
            // Compact with sorted keys: serde_json's BTreeMap-backed Value re-serializes it
            // identically once non-ASCII is escaped back.
            let again = serde_json::to_string(o).unwrap();
            let escaped: String = again
                .chars()
                .flat_map(|c| {
                    if c.is_ascii() {
                        vec![c.to_string()]
                    } else {
                        let mut units = [0u16; 2];
                        c.encode_utf16(&mut units)
                            .iter()
                            .map(|u| format!("\\u{u:04x}"))
                            .collect()
                    }
                })
                .collect();
            assert_eq!(&escaped, raw);
            assert_eq!(o["created"], o["modified"]);
            assert_eq!(o["modified"].as_str().unwrap(), format_ms(*ms));
        }
        let last = a.max_modified_ms().unwrap();
        assert_eq!(last, opts.start_ms + 49 * opts.step_ms + 3);
    }

    #[test]
    fn without_attack_patterns_uses_dangle() {
        let g = generate(&GenOptions {
            with_attack_patterns: false,
            ..GenOptions::new(20)
        });
        assert!(
            g.objects
                .iter()
                .all(|(_, o)| !o.contains("\"type\":\"attack-pattern\""))
        );
        assert!(
            g.objects
                .iter()
                .any(|(_, o)| o.contains("\"target_ref\":\"attack-pattern--"))
        );
        assert!(g.into_bundle().ends_with("\"type\":\"bundle\"}\n"));
    }
}
