//! Data flows one way inside every crate of the workspace: no top-level module of a
//! crate reaches (directly or through others) back to a module that reaches it. A
//! cycle is reported with the `use` lines that make it, so whoever adds one sees
//! which dependency to move down a layer.
//!
//! This reads the sources, not the compiler's view: it follows `crate::` paths
//! (grouped `use crate::{…}` too, and names the crate root re-exports, resolved to the
//! module that defines them) outside comments, string literals and `#[cfg(test)]`
//! items. Tests may reach anywhere; doc links are not dependencies.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every crate's source folder, relative to the workspace root.
const CRATES: &[&str] = &[
    "cache/src",
    "cluster/src",
    "config/src",
    "proxy/src",
    "rules/src",
    "scripting/src",
    "src",
    "tls/src",
];

#[test]
fn no_crate_has_a_cycle_between_its_modules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut report = String::new();
    let mut folders = 0;
    for dir in CRATES {
        let src = root.join(dir);
        let graph = Graph::read(&src);
        assert!(
            graph.modules.len() > 1,
            "{dir}: found no modules; has the crate moved?"
        );
        let mut graphs = vec![(dir.to_string(), graph)];
        // And the modules inside each folder module (`service/`, `engine/`, …).
        let mut dirs = Vec::new();
        folders_under(&src, &mut dirs);
        for folder in dirs {
            let name = format!(
                "{dir}/{}",
                folder.strip_prefix(&src).unwrap_or(&folder).display()
            );
            graphs.push((name, Graph::read_folder(&src, &folder)));
            folders += 1;
        }
        for (name, graph) in graphs {
            for cycle in graph.cycles() {
                report.push_str(&format!(
                    "{name}: modules {cycle:?} depend on each other:\n"
                ));
                for (from, to, at) in &graph.edges {
                    if cycle.contains(from) && cycle.contains(to) {
                        report.push_str(&format!("  {from} -> {to}   ({at})\n"));
                    }
                }
            }
        }
    }
    assert!(folders > 5, "found only {folders} folder modules");
    assert!(report.is_empty(), "module cycles:\n{report}");
}

#[test]
fn the_reader_sees_grouped_uses_root_names_and_skips_tests_and_comments() {
    let src = "use crate::{a::X, b as c};\n// crate::d::y\nlet s = \"crate::e\";\n\
               fn f() { crate::Root; crate::Glob; }\n#[cfg(test)]\nmod tests { use crate::g; }\n";
    let strip = strip(src);
    assert_eq!(strip.lines().count(), src.lines().count(), "lines are kept");
    let named = first_segments(&strip);
    let names: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a", "b", "Root", "Glob"]);
    let exports = root_exports("pub use a::{x::Root, Other as Renamed};\npub use g::*;\n");
    assert_eq!(exports.named.get("Root").map(String::as_str), Some("a"));
    assert_eq!(exports.named.get("Renamed").map(String::as_str), Some("a"));
    assert_eq!(exports.globs, ["g"]);
    let chain = "use super::a; use super::super::b::C; use super::{d, e::F};";
    let sibling: Vec<String> = segments_after(chain, "super::")
        .into_iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(
        sibling,
        ["a", "d", "e"],
        "one super:: is the folder's sibling"
    );
    let up: Vec<String> = segments_after(chain, "super::super::")
        .into_iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(up, ["b"]);
}

struct Graph {
    modules: BTreeSet<String>,
    /// (from, to, "file:line").
    edges: Vec<(String, String, String)>,
}

impl Graph {
    fn read(src: &Path) -> Graph {
        let mut files = Vec::new();
        walk(src, &mut files);
        let module_of = |file: &Path| -> Option<String> {
            let rel = file.strip_prefix(src).ok()?;
            let first = rel.components().next()?.as_os_str().to_str()?;
            let name = first.strip_suffix(".rs").unwrap_or(first);
            (!matches!(name, "lib" | "main")).then(|| name.to_string())
        };
        let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(f)).collect();
        let root_file = ["lib.rs", "main.rs"]
            .iter()
            .map(|f| src.join(f))
            .find(|p| p.exists())
            .expect("a crate root");
        let exports = root_exports(&strip(&read(&root_file)));
        // Where each name a glob re-export brings to the root is defined.
        let mut defined_in: BTreeMap<String, String> = BTreeMap::new();
        for file in &files {
            let Some(module) = module_of(file) else {
                continue;
            };
            if !exports.globs.contains(&module) {
                continue;
            }
            for name in public_items(&strip(&read(file))) {
                defined_in.entry(name).or_insert_with(|| module.clone());
            }
        }
        let mut edges = Vec::new();
        for file in &files {
            let Some(from) = module_of(file) else {
                continue;
            };
            let text = strip(&read(file));
            for (name, offset) in first_segments(&text) {
                let to = if modules.contains(&name) {
                    Some(name)
                } else {
                    exports
                        .named
                        .get(&name)
                        .or_else(|| defined_in.get(&name))
                        .cloned()
                };
                let Some(to) = to.filter(|to| *to != from) else {
                    continue;
                };
                let line = text[..offset].matches('\n').count() + 1;
                let at = format!(
                    "{}:{line}",
                    file.strip_prefix(src).unwrap_or(file).display()
                );
                edges.push((from.clone(), to, at));
            }
        }
        Graph { modules, edges }
    }

    /// The modules directly inside folder module `dir` and their dependencies on each
    /// other: `crate::<dir's path>::x` from anywhere inside it, `super::x` from a
    /// direct child (`super::super::x` from a grandchild…), and names the folder's
    /// `mod.rs` brings in with `use x::…`.
    fn read_folder(src: &Path, dir: &Path) -> Graph {
        let mut files = Vec::new();
        walk(dir, &mut files);
        let path: Vec<String> = dir
            .strip_prefix(src)
            .unwrap_or(dir)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let prefix = format!("crate::{}::", path.join("::"));
        // A file's child of `dir` and its depth (the length of its module path from
        // `dir`: `x.rs` and `x/mod.rs` 1, `x/z.rs` 2).
        let place = |file: &Path| -> Option<(String, usize)> {
            let rel = file.strip_prefix(dir).ok()?;
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.len() == 1 && parts[0] == "mod.rs" {
                return None;
            }
            let child = parts[0]
                .strip_suffix(".rs")
                .unwrap_or(&parts[0])
                .to_string();
            let depth = parts.len() - usize::from(parts.last().is_some_and(|p| p == "mod.rs"));
            Some((child, depth))
        };
        let modules: BTreeSet<String> =
            files.iter().filter_map(|f| place(f).map(|p| p.0)).collect();
        let folder_file = dir.join("mod.rs");
        let exports = if folder_file.exists() {
            root_exports(&strip(&read(&folder_file)))
        } else {
            root_exports("")
        };
        let mut edges = Vec::new();
        for file in &files {
            let Some((from, depth)) = place(file) else {
                continue;
            };
            let text = strip(&read(file));
            let mut named = segments_after(&text, &prefix);
            named.extend(segments_after(&text, &"super::".repeat(depth)));
            for (name, offset) in named {
                let to = if modules.contains(&name) {
                    Some(name)
                } else {
                    exports
                        .named
                        .get(&name)
                        .filter(|m| modules.contains(*m))
                        .cloned()
                };
                let Some(to) = to.filter(|to| *to != from) else {
                    continue;
                };
                let line = text[..offset].matches('\n').count() + 1;
                let at = format!(
                    "{}:{line}",
                    file.strip_prefix(src).unwrap_or(file).display()
                );
                edges.push((from.clone(), to, at));
            }
        }
        Graph { modules, edges }
    }

    /// The strongly connected components with more than one module (Tarjan).
    fn cycles(&self) -> Vec<Vec<String>> {
        let names: Vec<&String> = self.modules.iter().collect();
        let index_of = |m: &str| names.iter().position(|n| n.as_str() == m);
        let mut next: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); names.len()];
        for (from, to, _) in &self.edges {
            if let (Some(a), Some(b)) = (index_of(from), index_of(to)) {
                next[a].insert(b);
            }
        }
        let mut t = Tarjan {
            next: &next,
            index: vec![None; names.len()],
            low: vec![0; names.len()],
            stack: Vec::new(),
            on_stack: vec![false; names.len()],
            counter: 0,
            found: Vec::new(),
        };
        for v in 0..names.len() {
            if t.index[v].is_none() {
                t.visit(v);
            }
        }
        t.found
            .into_iter()
            .map(|c| c.into_iter().map(|i| names[i].clone()).collect())
            .collect()
    }
}

struct Tarjan<'a> {
    next: &'a [BTreeSet<usize>],
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    stack: Vec<usize>,
    on_stack: Vec<bool>,
    counter: usize,
    found: Vec<Vec<usize>>,
}

impl Tarjan<'_> {
    fn visit(&mut self, v: usize) {
        self.index[v] = Some(self.counter);
        self.low[v] = self.counter;
        self.counter += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
        for &w in self.next[v].iter() {
            match self.index[w] {
                None => {
                    self.visit(w);
                    self.low[v] = self.low[v].min(self.low[w]);
                }
                Some(i) if self.on_stack[w] => self.low[v] = self.low[v].min(i),
                Some(_) => {}
            }
        }
        if Some(self.low[v]) == self.index[v] {
            let mut component = Vec::new();
            while let Some(w) = self.stack.pop() {
                self.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort_unstable();
                self.found.push(component);
            }
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every folder module under `dir`, at any depth.
fn folders_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    entries.sort();
    for path in entries {
        let has_rust = std::fs::read_dir(&path)
            .map(|d| {
                d.filter_map(Result::ok)
                    .any(|e| e.path().extension().is_some_and(|x| x == "rs"))
            })
            .unwrap_or(false);
        if has_rust {
            out.push(path.clone());
        }
        folders_under(&path, out);
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The source with comments, the contents of string and char literals, and
/// `#[cfg(test)]` items blanked out; every newline stays, so offsets keep their line.
fn strip(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let blank = |out: &mut Vec<u8>, c: u8| out.push(if c == b'\n' { b'\n' } else { b' ' });
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                blank(&mut out, b[i]);
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
        } else if c == b'r' && matches!(b.get(i + 1), Some(b'"' | b'#')) && !ident_byte(b, i) {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            while b.get(j) == Some(&b'#') {
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let hashes = j - i - 1;
            out.extend_from_slice(&b[i..=j]);
            i = j + 1;
            while i < b.len() {
                if b[i] == b'"'
                    && b[i + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&h| h == b'#')
                        .count()
                        == hashes
                {
                    out.extend_from_slice(&b[i..=i + hashes]);
                    i += hashes + 1;
                    break;
                }
                blank(&mut out, b[i]);
                i += 1;
            }
        } else if c == b'"' {
            out.push(c);
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    blank(&mut out, b[i]);
                    i += 1;
                }
                if i < b.len() {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
            out.push(b'"');
            i += 1;
        } else if c == b'\'' {
            // A char literal ('x', '\n', '\u{..}'), or a lifetime (kept).
            let end = if b.get(i + 1) == Some(&b'\\') {
                b[i + 2..]
                    .iter()
                    .position(|&x| x == b'\'')
                    .map(|p| i + 2 + p)
            } else {
                let len = std::str::from_utf8(&b[i + 1..])
                    .ok()
                    .and_then(|s| s.chars().next())
                    .map_or(1, char::len_utf8);
                (b.get(i + 1 + len) == Some(&b'\'')).then_some(i + 1 + len)
            };
            match end {
                Some(end) => {
                    out.extend_from_slice(b"' ");
                    out.extend(std::iter::repeat_n(b' ', end - i - 2));
                    out.push(b'\'');
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    let mut text = String::from_utf8(out).expect("only ASCII bytes were replaced");
    // `#[cfg(test)]` items: the attribute up to the end of the item's braces (or `;`).
    while let Some(at) = text.find("#[cfg(test)]") {
        let bytes = text.as_bytes();
        let mut j = at + "#[cfg(test)]".len();
        let mut depth = 0usize;
        while j < bytes.len() {
            match bytes[j] {
                b'{' => depth += 1,
                b'}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        j += 1;
                        break;
                    }
                }
                b';' if depth == 0 => {
                    j += 1;
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        let blanked: String = text[at..j.min(text.len())]
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        text.replace_range(at..j.min(text.len()), &blanked);
    }
    text
}

fn ident_byte(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

/// The first segment after each `crate::` (each member of a `crate::{…}` group),
/// with its offset.
fn first_segments(text: &str) -> Vec<(String, usize)> {
    segments_after(text, "crate::")
}

/// The first segment after each whole occurrence of `path` (a run of `super::` is
/// only counted whole: `super::` does not match inside `super::super::`).
fn segments_after(text: &str, path: &str) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(p) = text[from..].find(path) {
        let at = from + p;
        from = at + path.len();
        if ident_byte(b, at)
            || (at >= 2 && &text[at - 2..at] == "::")
            || text[from..].starts_with("super::")
        {
            continue;
        }
        if b.get(from) == Some(&b'{') {
            let Some(close) = matching_brace(b, from) else {
                continue;
            };
            for member in split_top_level(&text[from + 1..close]) {
                let name = ident_at(member.trim_start());
                if !name.is_empty() && name != "self" && name != "super" {
                    found.push((name.to_string(), at));
                }
            }
        } else {
            let name = ident_at(&text[from..]);
            if !name.is_empty() {
                found.push((name.to_string(), at));
            }
        }
    }
    found
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

fn matching_brace(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, &c) in b.iter().enumerate().skip(open) {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

struct RootExports {
    /// A name the root re-exports, and the module it comes from.
    named: BTreeMap<String, String>,
    /// Modules re-exported whole (`pub use m::*`).
    globs: Vec<String>,
}

/// The names a crate root (or a folder's `mod.rs`) brings in with `use module::…;`
/// (public or not: its child modules see them all).
fn root_exports(root: &str) -> RootExports {
    let mut named = BTreeMap::new();
    let mut globs = Vec::new();
    for statement in root.split(';') {
        let s = statement.trim();
        let Some(rest) = ["pub use ", "pub(crate) use ", "pub(super) use ", "use "]
            .iter()
            .find_map(|p| s.strip_prefix(p))
        else {
            continue;
        };
        let rest = rest
            .trim()
            .trim_start_matches("crate::")
            .trim_start_matches("self::");
        let module = ident_at(rest).to_string();
        let tail = &rest[module.len()..];
        if tail.trim() == "::*" {
            globs.push(module);
            continue;
        }
        // The leaf names: identifiers followed by `,`, `}` or the end, or after `as`.
        let leaves = tail.split([',', '{', '}']).filter_map(|part| {
            let part = part.trim();
            if part.is_empty() || part.ends_with("::") {
                return None;
            }
            let name = match part.rsplit_once(" as ") {
                Some((_, alias)) => alias.trim(),
                None => part.rsplit("::").next().unwrap_or(part).trim(),
            };
            (!name.is_empty() && name != "*" && name != "self").then_some(name)
        });
        for leaf in leaves {
            named.insert(leaf.to_string(), module.clone());
        }
    }
    RootExports { named, globs }
}

/// The names a module declares `pub` (what a glob re-export brings to the root).
fn public_items(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for kind in [
        "pub struct ",
        "pub enum ",
        "pub fn ",
        "pub type ",
        "pub const ",
        "pub static ",
        "pub trait ",
    ] {
        let mut from = 0;
        while let Some(p) = text[from..].find(kind) {
            let at = from + p + kind.len();
            names.push(ident_at(&text[at..]).to_string());
            from = at;
        }
    }
    names
}
