//! The crate's module layers, enforced: every `crate::` path in `src/` is read, and the test
//! fails on an import of a higher layer than the importer's (the table in `src/lib.rs`, parsed
//! here so the doc and the rule cannot drift apart) and on any circle of imports, between
//! top-level modules or between the submodules of one of them.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// `module → layer`, from the `//! | N name | \`a\`, \`b\` | job |` rows of `src/lib.rs`.
fn layer_table(lib: &str) -> BTreeMap<String, u32> {
    let mut table = BTreeMap::new();
    for line in lib.lines() {
        let Some(row) = line.strip_prefix("//! | ") else {
            continue;
        };
        let mut cells = row.split(" | ");
        let (Some(layer), Some(modules)) = (cells.next(), cells.next()) else {
            continue;
        };
        let Some(n) = layer
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        for m in modules.split(',') {
            let m = m.trim().trim_matches('`');
            if !m.is_empty() {
                table.insert(m.to_owned(), n);
            }
        }
    }
    table
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a source file: `src/registry/surface.rs` → `[registry, surface]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect()
}

/// The code of a file without comments and string literals, so that paths in docs and messages
/// are not read as imports.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        break;
                    }
                }
                out.push_str("\"\"");
            }
            c => out.push(c),
        }
    }
    out
}

/// Every path a file names: `crate::a::b` and `super::x`, with `use` groups expanded, as the
/// segments after `crate` (a `super::` path is made absolute against `module`).
fn paths_named(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for (start, anchor) in ["crate::", "super::"]
        .iter()
        .flat_map(|a| code.match_indices(a).map(move |(i, _)| (i, *a)))
    {
        // A match inside a longer identifier (`mycrate::`) or a `super` following `super::`
        // (handled as part of the first) is not a path start.
        let before = code[..start].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let base: Vec<String> = if anchor == "crate::" {
            Vec::new()
        } else {
            // `super` in `a/b.rs` (module a::b) is `a`; in a root file `a.rs` it is the crate.
            let parent_len = module.len().saturating_sub(1);
            let mut base = module[..parent_len].to_vec();
            let mut rest = &code[start + anchor.len()..];
            while let Some(r) = rest.strip_prefix("super::") {
                base.pop();
                rest = r;
            }
            base
        };
        let mut rest = &code[start + anchor.len()..];
        while let Some(r) = rest.strip_prefix("super::") {
            rest = r;
        }
        for tail in expand(rest) {
            let mut p = base.clone();
            p.extend(tail);
            if !p.is_empty() {
                found.push(p);
            }
        }
    }
    found
}

/// Expands the path text after an anchor: `a::b::{c, d::e}` → `[a,b,c]`, `[a,b,d,e]`.
fn expand(text: &str) -> Vec<Vec<String>> {
    let mut segs = Vec::new();
    let mut rest = text;
    loop {
        let ident: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if ident.is_empty() {
            if let Some(group) = rest.strip_prefix('{') {
                let mut depth = 1;
                let mut end = 0;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                let mut out = Vec::new();
                for item in split_top(&group[..end]) {
                    for tail in expand(item.trim()) {
                        let mut p = segs.clone();
                        p.extend(tail);
                        out.push(p);
                    }
                }
                return out;
            }
            return vec![segs];
        }
        rest = &rest[ident.len()..];
        if ident != "self" {
            segs.push(ident);
        }
        match rest.strip_prefix("::") {
            Some(r) => rest = r,
            None => return vec![segs],
        }
    }
}

fn split_top(group: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut from) = (0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&group[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&group[from..]);
    parts
}

/// A circle in `edges`, if there is one.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_owned(), 1);
        stack.push(n.to_owned());
        for m in edges.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|s| s == m).unwrap();
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(m, edges, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in edges.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(c) = visit(n, edges, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn imports_follow_the_layers_and_make_no_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let table = layer_table(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    assert!(
        table.len() > 10,
        "the layer table in src/lib.rs was not found"
    );
    let mut files = Vec::new();
    rust_files(&src, &mut files);

    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // Per top-level module: edges between its direct submodules.
    let mut inner: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    let mut problems = BTreeSet::new();
    for file in &files {
        let module = module_of(&src, file);
        let from = &module[0];
        if from == "lib" || from == "main" {
            continue;
        }
        let Some(&from_layer) = table.get(from) else {
            problems.insert(format!("src/{from}: not in the layer table of src/lib.rs"));
            continue;
        };
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        for path in paths_named(&code, &module) {
            let to = &path[0];
            if let Some(&to_layer) = table.get(to) {
                if to != from {
                    top.entry(from.clone()).or_default().insert(to.clone());
                    if to_layer > from_layer {
                        problems.insert(format!(
                            "{}: `{from}` (layer {from_layer}) uses `{}` (layer {to_layer})",
                            file.display(),
                            path.join("::")
                        ));
                    }
                } else if module.len() > 1 && path.len() > 1 && path[1] != module[1] {
                    // Within one top-level module: an edge between two of its submodules (the
                    // root file itself, which declares them, is not a node).
                    inner
                        .entry(from.clone())
                        .or_default()
                        .entry(module[1].clone())
                        .or_default()
                        .insert(path[1].clone());
                }
            }
        }
    }
    if let Some(cycle) = find_cycle(&top) {
        problems.insert(format!("import circle: {}", cycle.join(" → ")));
    }
    for (module, edges) in &inner {
        // Only real submodules: a path like `crate::x::SomeType` names an item of the root.
        let subs: BTreeSet<String> = edges.keys().cloned().collect();
        let edges: BTreeMap<String, BTreeSet<String>> = edges
            .iter()
            .map(|(k, v)| (k.clone(), v.intersection(&subs).cloned().collect()))
            .collect();
        if let Some(cycle) = find_cycle(&edges) {
            problems.insert(format!(
                "import circle in `{module}`: {}",
                cycle.join(" → ")
            ));
        }
    }
    let problems: Vec<String> = problems.into_iter().collect();
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_checker_sees_groups_super_paths_and_circles() {
    let module = vec!["registry".to_owned(), "surface".to_owned()];
    let code = code_only(
        "use crate::{a::{b, c::D}, e};\n// crate::ignored::x\nlet s = \"crate::no\"; super::holds::Holds;",
    );
    let mut found = paths_named(&code, &module);
    found.sort();
    let want: Vec<Vec<String>> = [
        vec!["a", "b"],
        vec!["a", "c", "D"],
        vec!["e"],
        vec!["registry", "holds", "Holds"],
    ]
    .iter()
    .map(|p| p.iter().map(|s| (*s).to_owned()).collect())
    .collect();
    assert_eq!(found, want);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges.entry("a".into()).or_default().insert("b".into());
    edges.entry("b".into()).or_default().insert("a".into());
    assert!(find_cycle(&edges).is_some());
    edges.get_mut("b").unwrap().clear();
    assert!(find_cycle(&edges).is_none());
    let table = layer_table("//! | 0 leaves | `x`, `y` | job |\n//! | 3 top | `z` | j |");
    assert_eq!(table.get("y"), Some(&0));
    assert_eq!(table.get("z"), Some(&3));
}
