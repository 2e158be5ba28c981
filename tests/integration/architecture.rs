//! The shape of `src/`, checked: no import cycle between modules, none between the top-level
//! modules either (an edge to a parent's `mod.rs` counts there), no forbidden dependency, and no
//! function outside the tests longer than 80 lines (see ARCHITECTURE.md).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_FUNCTION_LINES: usize = 80;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `src/` with its module path (`bundle::parse`; `bundle` for
/// `bundle/mod.rs`; the crate root is empty).
fn modules() -> Vec<(Vec<String>, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&src(), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let rel = file.strip_prefix(src()).unwrap().with_extension("");
            let mut path: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                path.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                path.pop();
            }
            let text = std::fs::read_to_string(&file).unwrap();
            (path, without_tests(&text).to_owned())
        })
        .collect()
}

/// The text before the unit-test module.
fn without_tests(text: &str) -> &str {
    let end = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    &text[..end]
}

/// The modules a file names through `crate::…` or `super::…` paths, resolved to the longest
/// known module path.
fn references(from: &[String], text: &str, known: &BTreeSet<Vec<String>>) -> BTreeSet<Vec<String>> {
    // Comments (doc links included) import nothing.
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| format!("{l}\n"))
        .collect();
    let text = code.as_str();
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < text.len() {
        if !text.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let rest = &text[i..];
        let starts = (rest.starts_with("crate::") || rest.starts_with("super::"))
            && (i == 0
                || !(bytes[i - 1].is_ascii_alphanumeric()
                    || bytes[i - 1] == b'_'
                    || bytes[i - 1] == b':'));
        if !starts {
            i += 1;
            continue;
        }
        let path_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let path = &rest[..path_len];
        let mut segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
        let mut base: Vec<String> = match segments.first() {
            Some(&"crate") => Vec::new(),
            _ => from.to_vec(),
        };
        if segments.first() == Some(&"crate") {
            segments.remove(0);
        }
        while segments.first() == Some(&"super") {
            segments.remove(0);
            base.pop();
        }
        // `use super::{a::X, b}`: each entry of the group.
        let mut tails: Vec<Vec<String>> = vec![segments.iter().map(|s| s.to_string()).collect()];
        if rest[path_len..].starts_with('{') {
            let group = &rest[path_len + 1..];
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for entry in group.split(',') {
                let first = entry.trim().split("::").next().unwrap_or("").trim();
                let mut t: Vec<String> = segments.iter().map(|s| s.to_string()).collect();
                t.push(first.to_owned());
                tails.push(t);
            }
        }
        for tail in tails {
            let mut full = base.clone();
            full.extend(tail);
            while !full.is_empty() && !known.contains(&full) {
                full.pop();
            }
            out.insert(full);
        }
        i += path_len.max(1);
    }
    out
}

fn is_prefix(a: &[String], b: &[String]) -> bool {
    a.len() <= b.len() && b[..a.len()] == *a
}

/// Edges between modules neither of which contains the other: a child may use what its parent
/// defines and a parent re-exports its children, but siblings must form no cycle.
fn graph(modules: &[(Vec<String>, String)]) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let known: BTreeSet<Vec<String>> = modules.iter().map(|(p, _)| p.clone()).collect();
    modules
        .iter()
        .map(|(path, text)| {
            let to = references(path, text, &known)
                .into_iter()
                .filter(|t| !is_prefix(t, path) && !is_prefix(path, t))
                .collect();
            (path.clone(), to)
        })
        .collect()
}

/// The top-level modules (`bundle`, `cli`, …) and which others each one names anywhere in its
/// files: a file's edge to its own parent's `mod.rs` or to a sibling's is an edge of the whole
/// module, so a cycle that passes through re-exports shows here.
fn top_level_graph(
    modules: &[(Vec<String>, String)],
) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let known: BTreeSet<Vec<String>> = modules.iter().map(|(p, _)| p.clone()).collect();
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (path, text) in modules {
        let Some(from) = path.first() else {
            continue; // the crate root declares the modules; main.rs names the library's paths
        };
        let to = graph.entry(vec![from.clone()]).or_default();
        for target in references(path, text, &known) {
            if let Some(top) = target.first()
                && top != from
            {
                to.insert(vec![top.clone()]);
            }
        }
    }
    graph
}

/// Dependencies that must not exist at all, cycle or not: the bundle stage does no I/O and
/// knows no peer, and the command line names no setting (the settings table is passed to it).
const FORBIDDEN: &[(&str, &str)] = &[
    ("bundle", "state"),
    ("bundle", "opencti"),
    ("bundle", "amqp"),
    ("bundle", "http"),
    ("bundle", "disinfox"),
    ("cli", "config"),
];

fn forbidden_edges(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<String> {
    FORBIDDEN
        .iter()
        .filter(|(from, to)| {
            graph
                .get(&vec![from.to_string()])
                .is_some_and(|t| t.contains(&vec![to.to_string()]))
        })
        .map(|(from, to)| format!("{from} -> {to}"))
        .collect()
}

fn find_cycle(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<String>> {
    fn visit(
        node: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        stack: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            return Some(
                stack[at..]
                    .iter()
                    .chain([node])
                    .map(|p| p.join("::"))
                    .collect(),
            );
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            // A module reaches its siblings' children through them: compare at the file level.
            if let Some(cycle) = visit(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.clone());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_import_cycle_between_modules() {
    let graph = graph(&modules());
    assert!(graph.len() > 40, "src/ was not read: {graph:?}");
    assert!(
        graph[&vec!["bundle".to_owned(), "parse".to_owned()]]
            .contains(&vec!["bundle".to_owned(), "index".to_owned()]),
        "the module graph misses a known edge"
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle: {}", cycle.join(" -> "));
    }
}

#[test]
fn no_import_cycle_between_top_level_modules() {
    let graph = top_level_graph(&modules());
    assert!(graph.len() > 20, "src/ was not read: {graph:?}");
    assert!(
        graph[&vec!["commands".to_owned()]].contains(&vec!["bundle".to_owned()]),
        "the top-level graph misses a known edge"
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "import cycle between top-level modules: {}",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn no_forbidden_dependency() {
    let graph = top_level_graph(&modules());
    let found = forbidden_edges(&graph);
    assert!(found.is_empty(), "forbidden dependencies: {found:?}");
}

/// The bundle stage takes bytes and returns plans: it imports nothing outside itself, not
/// even a leaf (the cursor's time rules live in `bundle/timestamp.rs`; `when` re-exports them).
#[test]
fn the_bundle_stage_imports_nothing_outside_itself() {
    let graph = top_level_graph(&modules());
    let out = &graph[&vec!["bundle".to_owned()]];
    assert!(out.is_empty(), "bundle imports {out:?}");
    assert!(
        graph[&vec!["when".to_owned()]].contains(&vec!["bundle".to_owned()]),
        "the top-level graph misses a known edge"
    );
}

/// Synthetic modules: `path` (`a::b`) with the text of its file.
fn synthetic(files: &[(&str, &str)]) -> Vec<(Vec<String>, String)> {
    files
        .iter()
        .map(|(path, text)| {
            let path = path.split("::").map(str::to_owned).collect();
            (path, text.to_string())
        })
        .collect()
}

/// `a` uses `b`'s re-export of its child `c`, and `c` uses `a`: each file-level edge leads to
/// a different file, only the top-level graph closes the cycle.
#[test]
fn the_top_level_check_finds_a_back_edge_through_a_parent() {
    let modules = synthetic(&[
        ("a", "use crate::b::Thing;\n"),
        ("b", "mod c;\npub(crate) use c::Thing;\n"),
        ("b::c", "use crate::a::Other;\n"),
    ]);
    assert_eq!(
        find_cycle(&graph(&modules)),
        None,
        "the file-level check sees it already"
    );
    let cycle = find_cycle(&top_level_graph(&modules)).expect("no cycle found");
    assert_eq!(cycle.len(), 3, "{cycle:?}");
}

#[test]
fn the_forbidden_check_finds_a_forbidden_edge() {
    let modules = synthetic(&[
        ("bundle", "mod index;\n"),
        (
            "bundle::index",
            "fn f() { crate::state::parse_cursor(\"\"); }\n",
        ),
        ("state", "pub(crate) fn parse_cursor(_: &str) {}\n"),
        ("cli", "use crate::exit_codes::TABLE;\n"),
        ("config", "use crate::cli::GlobalArgs;\n"),
        ("exit_codes", ""),
    ]);
    let graph = top_level_graph(&modules);
    assert_eq!(find_cycle(&graph), None);
    assert_eq!(forbidden_edges(&graph), ["bundle -> state"]);
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let a = vec!["a".to_owned()];
    let b = vec!["b".to_owned()];
    let graph = BTreeMap::from([
        (a.clone(), BTreeSet::from([b.clone()])),
        (b.clone(), BTreeSet::from([a.clone()])),
    ]);
    assert!(find_cycle(&graph).is_some());
}

/// `(file, name, lines)` of every function outside the unit tests.
fn function_lengths() -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    for (path, text) in modules() {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            let Some(name) = fn_name(trimmed) else {
                continue;
            };
            if trimmed.ends_with(';') {
                continue;
            }
            let close = format!("{}}}", " ".repeat(indent));
            if let Some(end) = lines[i + 1..].iter().position(|l| l.starts_with(&close)) {
                out.push((path.join("::"), name, end + 2));
            }
        }
    }
    out
}

fn fn_name(line: &str) -> Option<String> {
    let mut rest = line;
    for prefix in [
        "pub(crate) ",
        "pub(super) ",
        "pub ",
        "const ",
        "async ",
        "unsafe ",
        "extern \"C\" ",
    ] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let rest = rest.strip_prefix("fn ")?;
    Some(rest.split(['(', '<']).next()?.to_owned())
}

#[test]
fn no_function_over_80_lines() {
    let lengths = function_lengths();
    assert!(
        lengths.len() > 300,
        "functions were not found: {}",
        lengths.len()
    );
    let long: Vec<_> = lengths
        .into_iter()
        .filter(|(_, _, n)| *n > MAX_FUNCTION_LINES)
        .collect();
    assert!(
        long.is_empty(),
        "functions over {MAX_FUNCTION_LINES} lines: {long:?}"
    );
}
