//! Data flows one way inside every crate of the workspace: no top-level module of a
//! crate, and no module inside a folder module, reaches (directly or through others)
//! back to a sibling that reaches it. A
//! cycle is reported with the `use` lines that make it, so whoever adds one sees
//! which dependency to move down a layer.
//!
//! This reads the sources, not the compiler's view: it follows `crate::` paths
//! (grouped `use crate::{…}` too, and names the crate root re-exports, resolved to the
//! module that defines them) outside comments, string literals and `#[cfg(test)]`
//! items. Tests may reach anywhere; doc links are not dependencies.

#[path = "layering/source.rs"]
mod source;

use source::{public_items, root_exports, segments_after, strip};
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
        let graph = Graph::read(&src, &src);
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
            graphs.push((name, Graph::read(&src, &folder)));
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
    let named = segments_after(&strip, "crate::");
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
    /// The modules directly inside folder module `dir` (the crate's own `src` for its
    /// top-level modules) and their dependencies on each other: `crate::<dir's
    /// path>::x` from anywhere inside it, `super::x` from a direct child
    /// (`super::super::x` from a grandchild…), and names the folder's own file
    /// (`lib.rs`, `main.rs` or `mod.rs`) brings in with `use x::…`, a glob's resolved
    /// to the module that defines them.
    fn read(src: &Path, dir: &Path) -> Graph {
        let mut files = Vec::new();
        walk(dir, &mut files);
        let own_names: &[&str] = if dir == src {
            &["lib.rs", "main.rs"]
        } else {
            &["mod.rs"]
        };
        let path: Vec<String> = dir
            .strip_prefix(src)
            .unwrap_or(dir)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let prefix = if path.is_empty() {
            "crate::".to_string()
        } else {
            format!("crate::{}::", path.join("::"))
        };
        // A file's child of `dir` and its depth (the length of its module path from
        // `dir`: `x.rs` and `x/mod.rs` 1, `x/z.rs` 2); `None` for the folder's own file.
        let place = |file: &Path| -> Option<(String, usize)> {
            let rel = file.strip_prefix(dir).ok()?;
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.len() == 1 && own_names.contains(&parts[0].as_str()) {
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
        let exports = own_names
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.exists())
            .map_or_else(|| root_exports(""), |f| root_exports(&strip(&read(&f))));
        // Where each name a glob re-export brings in is defined.
        let mut defined_in: BTreeMap<String, String> = BTreeMap::new();
        for file in &files {
            let Some((module, _)) = place(file).filter(|(m, _)| exports.globs.contains(m)) else {
                continue;
            };
            for name in public_items(&strip(&read(file))) {
                defined_in.entry(name).or_insert_with(|| module.clone());
            }
        }
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
                        .or_else(|| defined_in.get(&name))
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
