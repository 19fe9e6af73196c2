//! Reading Rust sources for `layering.rs`: comments, literals and test items blanked
//! out, the paths after `crate::` or `super::`, and what a `use` brings into a module.

use std::collections::BTreeMap;

/// The source with comments, the contents of string and char literals, and
/// `#[cfg(test)]` items blanked out; every newline stays, so offsets keep their line.
pub(crate) fn strip(src: &str) -> String {
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

pub(crate) fn ident_byte(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

/// The first segment after each whole occurrence of `path` (a run of `super::` is
/// only counted whole: `super::` does not match inside `super::super::`).
pub(crate) fn segments_after(text: &str, path: &str) -> Vec<(String, usize)> {
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

pub(crate) fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

pub(crate) fn matching_brace(b: &[u8], open: usize) -> Option<usize> {
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

pub(crate) fn split_top_level(s: &str) -> Vec<&str> {
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

pub(crate) struct RootExports {
    /// A name the root re-exports, and the module it comes from.
    pub(crate) named: BTreeMap<String, String>,
    /// Modules re-exported whole (`pub use m::*`).
    pub(crate) globs: Vec<String>,
}

/// The names a crate root (or a folder's `mod.rs`) brings in with `use module::…;`
/// (public or not: its child modules see them all).
pub(crate) fn root_exports(root: &str) -> RootExports {
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
pub(crate) fn public_items(text: &str) -> Vec<String> {
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
