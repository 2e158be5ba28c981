//! The minimal SDL: the template with its `# since X` gates, its rendering for one version,
//! and the validation of request documents against it (with OpenCTI's own rules).

use super::*;

/// The minimal SDL template, with `# since X` gates.
pub const MINIMAL_SDL_TEMPLATE: &str = include_str!("../opencti-minimal.graphql");

/// Versions the stand-in is commonly run as (one per gate that matters to the client).
pub const KNOWN_VERSIONS: &[&str] = &[
    "6.0.0",
    "6.2.6",
    "6.2.12",
    "6.5.7",
    "6.9.17",
    "7.260422.0",
    "7.260510.0",
];

/// Renders the minimal SDL for one version: lines gated `# since X` with X > version are
/// dropped (with their whole block when they open `{` or `(`); comment lines are dropped.
pub fn render_sdl(version: &str) -> String {
    let ver = Version::parse(version).unwrap_or_else(|| panic!("bad OpenCTI version {version:?}"));
    let mut out = String::new();
    let mut skipping: Option<(char, char, i64)> = None;
    for line in MINIMAL_SDL_TEMPLATE.lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        // `# until X`: kept only below X (a field whose type changed in X).
        if let Some((c, g)) = line.split_once("# until ") {
            let gv =
                Version::parse(g.trim()).unwrap_or_else(|| panic!("bad gate {g:?} in the SDL"));
            if ver < gv {
                out.push_str(c.trim_end());
                out.push('\n');
            }
            continue;
        }
        let (code, gate) = match line.split_once("# since ") {
            Some((c, g)) => (c.trim_end(), Some(g.trim())),
            None => (line.trim_end(), None),
        };
        if let Some((open, close, depth)) = skipping.as_mut() {
            let o = code.matches(*open).count() as i64;
            let c = code.matches(*close).count() as i64;
            *depth += o - c;
            if *depth <= 0 {
                skipping = None;
            }
            continue;
        }
        if let Some(g) = gate {
            let gv =
                Version::parse(g).unwrap_or_else(|| panic!("bad gate {g:?} in the SDL template"));
            if ver < gv {
                if code.ends_with('{') {
                    skipping = Some(('{', '}', 1));
                } else if code.ends_with('(') {
                    skipping = Some(('(', ')', 1));
                }
                continue;
            }
        }
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// Every gate version named in the template, ascending.
pub fn sdl_gates() -> Vec<String> {
    let mut gates: Vec<Version> = MINIMAL_SDL_TEMPLATE
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once("# since ").map(|(_, g)| v(g.trim())))
        .collect();
    gates.sort();
    gates.dedup();
    gates.iter().map(Version::to_string).collect()
}

/// Parses and validates the minimal SDL of a version.
pub fn minimal_schema(version: &str) -> Valid<Schema> {
    let sdl = render_sdl(version);
    match Schema::parse_and_validate(sdl, format!("opencti-minimal-{version}.graphql")) {
        Ok(s) => s,
        Err(e) => panic!("minimal SDL for {version} is invalid:\n{}", e.errors),
    }
}

impl Inner {
    /// Parse + validate + the OpenCTI validation rules, cached by document text.
    pub(super) fn document(&self, query: &str) -> DocResult {
        if let Some(d) = lock(&self.docs).get(query) {
            return d.clone();
        }
        let result = self.build_document(query);
        let mut docs = lock(&self.docs);
        if docs.len() > 1000 {
            docs.clear();
        }
        docs.insert(query.to_string(), result.clone());
        result
    }

    pub(super) fn build_document(&self, query: &str) -> DocResult {
        if let Err(e) = ast::Document::parse(query, "request.graphql") {
            return Err(e
                .errors
                .iter()
                .map(|d| {
                    let mut g =
                        GqlError::new("GRAPHQL_PARSE_FAILED", format!("Syntax Error: {}", d.error));
                    if let Some(r) = d.line_column_range() {
                        g.locations = vec![json!({"line": r.start.line, "column": r.start.column})];
                    }
                    self.error_json(&g)
                })
                .collect());
        }
        let doc =
            match ExecutableDocument::parse_and_validate(&self.schema, query, "request.graphql") {
                Ok(d) => d,
                Err(e) => {
                    return Err(e
                        .errors
                        .iter()
                        .map(|d| {
                            let compat = d.unstable_to_json_compat();
                            let mut g = GqlError::new("GRAPHQL_VALIDATION_FAILED", compat.message);
                            g.locations = compat
                                .locations
                                .iter()
                                .map(|l| json!({"line": l.line, "column": l.column}))
                                .collect();
                            self.error_json(&g)
                        })
                        .collect());
                }
            };
        // Introspection is disabled from 6.1.0; the stand-in never serves it.
        let mut errors = Vec::new();
        for op in doc.operations.iter() {
            for f in collect_fields_static(&doc, &op.selection_set) {
                if f.name == "__schema" || f.name == "__type" {
                    let msg = if self.ver >= v("6.1.0") {
                        "GraphQL introspection is not allowed by Apollo Server, but the query contained __schema or __type. To enable introspection, pass introspection: true to ApolloServer in production"
                    } else {
                        "Introspection is not implemented by the OpenCTI stand-in"
                    };
                    errors.push(self.error_json(&GqlError::new("GRAPHQL_VALIDATION_FAILED", msg)));
                }
            }
        }
        // graphql-no-alias batching protection (6.1.0+): one call per mutation field.
        if self.ver >= v("6.1.0") {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for op in doc.operations.iter() {
                if op.is_mutation() {
                    for f in collect_fields_static(&doc, &op.selection_set) {
                        *counts.entry(f.name.to_string()).or_default() += 1;
                    }
                }
            }
            for (name, n) in counts {
                if n > 1 {
                    errors.push(self.error_json(&GqlError::new(
                        "GRAPHQL_VALIDATION_FAILED",
                        format!("Allowed number of calls for Mutation->{name} has been exceeded (max: 1)"),
                    )));
                }
            }
        }
        if errors.is_empty() {
            Ok(Arc::new(doc))
        } else {
            Err(errors)
        }
    }
}
