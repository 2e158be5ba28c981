//! The shape of `src/`, checked: no import cycle between modules, and no function outside the
//! tests longer than 80 lines (see ARCHITECTURE.md).

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
fn graph() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let modules = modules();
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
    let graph = graph();
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
