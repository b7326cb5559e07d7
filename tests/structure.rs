//! The code's structure, checked: no two modules of one crate import each other, directly or
//! through others (Cargo already refuses a cycle between crates).
//!
//! A module is a source file (`a.rs` or `a/mod.rs`). An arrow runs from a file to each file it
//! names through `crate::`, `super::` or `self::` paths, in `use` lines and in code, and through
//! names that a `use` bound to a module (`use crate::audit; audit::record(..)`). A parent's
//! `mod child;` line is not an arrow: declaring a child is not depending on it. Tests at a
//! file's foot (from its first `#[cfg(test)]`) and comments are not read. The reading is
//! textual, so a macro-built path would be missed; the code has none.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One crate's modules: each module path (`["auth", "session"]`) and the file that holds it.
struct Crate {
    name: String,
    modules: BTreeMap<Vec<String>, PathBuf>,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the server crate sits in the workspace")
        .to_path_buf()
}

/// The workspace's library crates (each member with `src/lib.rs`), from the root manifest.
fn crates() -> Vec<Crate> {
    let root = workspace_root();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("root Cargo.toml");
    let members = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("members"))
        .expect("a members line");
    let names: Vec<&str> = members
        .split('"')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s)
        .collect();
    assert!(!names.is_empty(), "no members read from {members}");
    names
        .into_iter()
        .filter_map(|member| {
            let src = root.join(member).join("src");
            src.join("lib.rs").exists().then(|| Crate {
                name: member.to_owned(),
                modules: modules_under(&src),
            })
        })
        .collect()
}

fn modules_under(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut modules = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).expect("under src");
            let mut segments: Vec<String> = relative
                .iter()
                .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_owned())
                .collect();
            match segments.last().map(String::as_str) {
                Some("lib") if segments.len() == 1 => segments.clear(),
                // The binary's root is a crate of its own.
                Some("main") if segments.len() == 1 => continue,
                Some("mod") => {
                    segments.pop();
                }
                _ => {}
            }
            modules.insert(segments, path);
        }
    }
    modules
}

/// The file's code without comments and without the tests at its foot.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("a source file");
    let mut code = String::new();
    for line in text.lines() {
        if line.trim() == "#[cfg(test)]" {
            break;
        }
        let line = match line.find("//") {
            // `"http://"` and the like: a `//` inside a string is not a comment.
            Some(at) if line[..at].matches('"').count() % 2 == 0 => &line[..at],
            _ => line,
        };
        code.push_str(line);
        code.push('\n');
    }
    code
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The trees of the file's `use` items (those that start a line), each up to its `;`.
fn use_trees(code: &str) -> Vec<String> {
    let mut trees = Vec::new();
    let mut lines = code.lines();
    while let Some(line) = lines.next() {
        let line = line.trim_start();
        let line = ["pub(crate) ", "pub(super) ", "pub "]
            .iter()
            .find_map(|p| line.strip_prefix(p))
            .unwrap_or(line);
        let Some(tree) = line.strip_prefix("use ") else {
            continue;
        };
        let mut tree = tree.to_owned();
        while !tree.contains(';') {
            match lines.next() {
                Some(more) => tree.push_str(more),
                None => break,
            }
        }
        trees.push(tree.split(';').next().unwrap_or_default().to_owned());
    }
    trees
}

/// Every path a `use` tree names: `crate::{a::{B, c}, d}` gives `crate::a::B`, `crate::a::c`,
/// `crate::d`. `self` inside braces names the module before them.
fn expand_use(tree: &str) -> Vec<Vec<String>> {
    fn walk(tree: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
        let tree = tree.trim();
        if tree.is_empty() {
            return;
        }
        if let Some(open) = tree.find('{') {
            let head: Vec<String> = tree[..open]
                .split("::")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            let mut base = prefix.to_vec();
            base.extend(head);
            let inner = &tree[open + 1..tree.rfind('}').expect("a closing brace")];
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        walk(&inner[start..i], &base, out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            walk(&inner[start..], &base, out);
        } else {
            let tree = tree.split(" as ").next().unwrap_or(tree);
            let mut path = prefix.to_vec();
            for segment in tree.split("::").map(str::trim) {
                if segment == "self" && !path.is_empty() {
                    continue;
                }
                path.push(segment.to_owned());
            }
            out.push(path);
        }
    }
    let mut out = Vec::new();
    walk(tree, &[], &mut out);
    out
}

/// The module a path starting at `crate`, `super` or `self` reaches from module `from`, and
/// whether the whole path is a module (so a name bound to it is a module's name).
fn resolve(
    modules: &BTreeMap<Vec<String>, PathBuf>,
    from: &[String],
    path: &[String],
) -> Option<(Vec<String>, bool)> {
    let (mut at, rest) = match path.first().map(String::as_str)? {
        "crate" => (Vec::new(), &path[1..]),
        "self" => (from.to_vec(), &path[1..]),
        "super" => {
            let mut at = from.to_vec();
            let mut rest = path;
            while rest.first().map(String::as_str) == Some("super") {
                at.pop();
                rest = &rest[1..];
            }
            (at, rest)
        }
        _ => return None,
    };
    let mut whole = true;
    for segment in rest {
        let mut next = at.clone();
        next.push(segment.clone());
        if modules.contains_key(&next) {
            at = next;
        } else {
            whole = false;
            break;
        }
    }
    Some((at, whole))
}

/// The paths written in code (not in `use`): a known head, then `::`-joined names.
fn inline_paths(code: &str, heads: &BTreeSet<String>) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let chars: Vec<(usize, char)> = code.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        let after_ident = i > 0 && (is_ident(chars[i - 1].1) || chars[i - 1].1 == ':');
        if !is_ident(c) || after_ident {
            i += 1;
            continue;
        }
        let mut end = start;
        let mut j = i;
        while j < chars.len() && (is_ident(chars[j].1) || chars[j].1 == ':') {
            end = chars[j].0 + chars[j].1.len_utf8();
            j += 1;
        }
        let token = code[start..end].trim_end_matches(':');
        let segments: Vec<String> = token.split("::").map(str::to_owned).collect();
        if segments.len() > 1 && heads.contains(&segments[0]) {
            paths.push(segments);
        }
        i = j.max(i + 1);
    }
    paths
}

/// Each module's arrows to other modules of its crate.
fn arrows(krate: &Crate) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut graph = BTreeMap::new();
    for (module, file) in &krate.modules {
        let code = code_of(file);
        let mut targets = BTreeSet::new();
        // Names bound to a module by `use`, so later `name::item` paths are followed too.
        let mut bound: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for tree in use_trees(&code) {
            for path in expand_use(&tree) {
                if let Some((target, whole)) = resolve(&krate.modules, module, &path) {
                    targets.insert(target.clone());
                    if whole {
                        let name = match tree.rsplit_once(" as ") {
                            Some((_, alias)) if !tree.contains('{') => alias.trim().to_owned(),
                            _ => target.last().cloned().unwrap_or_default(),
                        };
                        bound.insert(name, target);
                    }
                }
            }
        }
        let mut heads: BTreeSet<String> = ["crate", "super", "self"].map(String::from).into();
        heads.extend(bound.keys().cloned());
        for path in inline_paths(&code, &heads) {
            let path = match bound.get(&path[0]) {
                Some(module) => {
                    let mut full = vec!["crate".to_owned()];
                    full.extend(module.iter().cloned());
                    full.extend(path[1..].iter().cloned());
                    full
                }
                None => path,
            };
            if let Some((target, _)) = resolve(&krate.modules, module, &path) {
                targets.insert(target);
            }
        }
        targets.remove(module);
        graph.insert(module.clone(), targets);
    }
    graph
}

/// The strongly connected components with more than one module (Tarjan).
fn circles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<BTreeSet<Vec<String>>> {
    struct State<'a> {
        graph: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on_stack: BTreeSet<&'a Vec<String>>,
        next: usize,
        found: Vec<BTreeSet<Vec<String>>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Vec<String>) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in &s.graph[v] {
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.insert(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.found
}

#[test]
fn no_module_imports_itself_through_others() {
    let mut report = Vec::new();
    for krate in crates() {
        let graph = arrows(&krate);
        for circle in circles(&graph) {
            let mut lines = vec![format!(
                "a circle of {} modules in `{}`:",
                circle.len(),
                krate.name
            )];
            for from in &circle {
                for to in graph[from].iter().filter(|to| circle.contains(*to)) {
                    lines.push(format!("  {} -> {}", from.join("::"), to.join("::")));
                }
            }
            report.push(lines.join("\n"));
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
}

#[test]
fn the_reading_finds_a_circle_where_there_is_one() {
    let modules: BTreeMap<Vec<String>, PathBuf> = [
        (vec![], PathBuf::new()),
        (vec!["a".to_owned()], PathBuf::new()),
        (vec!["b".to_owned()], PathBuf::new()),
    ]
    .into();
    let uses = expand_use("crate::{a::{self, X}, b::Y as Z}");
    assert_eq!(
        uses,
        vec![
            vec!["crate".to_owned(), "a".into()],
            vec!["crate".into(), "a".into(), "X".into()],
            vec!["crate".into(), "b".into(), "Y".into()],
        ]
    );
    let from_b = resolve(
        &modules,
        &["b".to_owned()],
        &["super".into(), "a".into(), "f".into()],
    );
    assert_eq!(from_b, Some((vec!["a".to_owned()], false)));
    let graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = [
        (vec![], BTreeSet::new()),
        (vec!["a".to_owned()], [vec!["b".to_owned()]].into()),
        (vec!["b".to_owned()], [vec!["a".to_owned()]].into()),
    ]
    .into();
    assert_eq!(circles(&graph).len(), 1);
}

#[test]
fn the_http_layer_holds_no_sql() {
    // Queries live beside the code that owns their tables, in `wangge-domain`; a handler
    // calls them. A query written in a handler is the first step back to SQL everywhere.
    let src = workspace_root().join("http").join("src");
    let mut found = Vec::new();
    for file in modules_under(&src).into_values() {
        let code = code_of(&file);
        for needle in ["sqlx::query", "query_as(", "query_scalar("] {
            if code.contains(needle) {
                found.push(format!("{} uses {needle}", file.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "SQL in the HTTP layer:\n{}",
        found.join("\n")
    );
}
