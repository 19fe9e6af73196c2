//! `*` wildcard matching with captures, compiled once per pattern.

/// A pattern split at its `*`s: `/a/*.css` is `["/a/", ".css"]`.
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    parts: Vec<Box<str>>,
}

impl Glob {
    pub(crate) fn new(pattern: &str) -> Self {
        Glob {
            parts: pattern.split('*').map(Box::from).collect(),
        }
    }

    /// Whether `s` matches.
    pub(crate) fn is_match(&self, s: &str) -> bool {
        self.walk(s, |_| {})
    }

    /// Matches `s` and pushes what each `*` matched onto `out`, in order.
    ///
    /// Every wildcard but the last takes the shortest run that lets the rest match
    /// (leftmost literal search); the last takes whatever remains.
    pub(crate) fn captures<'s>(&self, s: &'s str, out: &mut Vec<&'s str>) -> bool {
        let start = out.len();
        let ok = self.walk(s, |c| out.push(c));
        if !ok {
            out.truncate(start);
        }
        ok
    }

    fn walk<'s>(&self, s: &'s str, mut capture: impl FnMut(&'s str)) -> bool {
        let (first, rest) = match self.parts.split_first() {
            Some(x) => x,
            None => return s.is_empty(),
        };
        let Some(last) = rest.last() else {
            return s == &**first;
        };
        if s.len() < first.len() + last.len() || !s.starts_with(&**first) || !s.ends_with(&**last) {
            return false;
        }
        let end = s.len() - last.len();
        let mut pos = first.len();
        for middle in &rest[..rest.len() - 1] {
            match s[pos..end].find(&**middle) {
                Some(at) => {
                    capture(&s[pos..pos + at]);
                    pos += at + middle.len();
                }
                None => return false,
            }
        }
        capture(&s[pos..end]);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(p: &str, s: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        Glob::new(p)
            .captures(s, &mut out)
            .then(|| out.iter().map(|c| c.to_string()).collect())
    }

    #[test]
    fn matches_and_captures() {
        assert_eq!(caps("/a", "/a"), Some(vec![]));
        assert_eq!(caps("/a", "/ab"), None);
        assert_eq!(caps("/a/*", "/a/"), Some(vec!["".into()]));
        assert_eq!(caps("/a/*", "/a"), None);
        assert_eq!(caps("/t*st", "/toast"), Some(vec!["oa".into()]));
        assert_eq!(caps("*", ""), Some(vec!["".into()]));
        assert_eq!(
            caps("/*/x/*", "/a/x/b/x/c"),
            Some(vec!["a".into(), "b/x/c".into()])
        );
        assert_eq!(
            caps("ab*ba", "aba"),
            None,
            "prefix and suffix must not overlap"
        );
        assert_eq!(caps("*.jpg", "/a.jpg.png"), None);
    }
}
