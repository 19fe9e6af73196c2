//! The compiled rule set and its index.

use crate::glob::Glob;
use crate::request::RequestView;
use outpost_config::{Rule, Scheme, request_first_segment};
use std::collections::HashMap;
use std::sync::Arc;

/// The rule that applies to a request, with what its wildcards matched.
#[derive(Debug, Clone)]
pub struct Match {
    /// The rule.
    pub rule: Arc<Rule>,
    /// Text matched by each `*`, host wildcards first (`captures[0]` is `$1`).
    pub captures: Vec<String>,
}

#[derive(Debug)]
struct Compiled {
    rule: Arc<Rule>,
    host: Option<Glob>,
    path: Glob,
    /// The pattern has a `?`: match path and query; otherwise the path alone.
    with_query: bool,
}

impl Compiled {
    /// The part of the request URL this pattern's path glob is matched against.
    fn subject<'r>(&self, path_and_query: &'r str) -> &'r str {
        if self.with_query {
            path_and_query
        } else {
            path_and_query
                .split_once('?')
                .map_or(path_and_query, |(p, _)| p)
        }
    }
}

/// Rule numbers, grouped by the first path segment their pattern fixes.
#[derive(Debug, Default)]
struct Bucket {
    by_segment: HashMap<String, Vec<u32>>,
    /// Patterns whose first segment a wildcard can change.
    any_segment: Vec<u32>,
}

impl Bucket {
    fn add(&mut self, rule: &Rule, n: u32) {
        match rule.pattern.first_segment() {
            Some(seg) => self.by_segment.entry(seg.to_string()).or_default().push(n),
            None => self.any_segment.push(n),
        }
    }

    fn lists<'a>(&'a self, segment: &str) -> [&'a [u32]; 2] {
        [
            self.by_segment.get(segment).map_or(&[][..], Vec::as_slice),
            &self.any_segment,
        ]
    }
}

/// A site's rules, compiled for matching.
///
/// Lookup cost depends on how many rules share the request's host and first path
/// segment, not on the total: rules are indexed by exact host (rules with a wildcard
/// host, or none, go to a shared bucket) and then by the first path segment.
#[derive(Debug, Default)]
pub struct RuleSet {
    rules: Vec<Compiled>,
    exact_host: HashMap<String, Bucket>,
    other_host: Bucket,
}

impl RuleSet {
    /// Compiles validated rules, keeping their order.
    pub fn new(rules: &[Rule]) -> Self {
        let mut set = RuleSet::default();
        for (n, rule) in rules.iter().enumerate() {
            let n = n as u32;
            let host = rule.pattern.host.as_deref();
            match host {
                Some(h) if !h.contains('*') => set
                    .exact_host
                    .entry(h.to_string())
                    .or_default()
                    .add(rule, n),
                _ => set.other_host.add(rule, n),
            }
            set.rules.push(Compiled {
                rule: Arc::new(rule.clone()),
                host: host.map(Glob::new),
                path: Glob::new(&rule.pattern.path),
                with_query: rule.pattern.path.contains('?'),
            });
        }
        set
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether any rule could match a request for `host` and `path_and_query` (by the
    /// host and first-segment index alone). `false` means [`Self::find`] finds nothing
    /// for such a request whatever its other parts, so a caller can skip building them.
    pub fn has_candidates(&self, host: &str, path_and_query: &str) -> bool {
        if self.rules.is_empty() {
            return false;
        }
        let segment = request_first_segment(path_and_query);
        let [a, b] = self.other_host.lists(segment);
        let [c, d] = self
            .exact_host
            .get(host)
            .map_or([&[][..], &[][..]], |bucket| bucket.lists(segment));
        [a, b, c, d].iter().any(|l| !l.is_empty())
    }

    /// The first rule (in file order) whose pattern and conditions match `req`.
    pub fn find(&self, req: &RequestView<'_>) -> Option<Match> {
        if self.rules.is_empty() {
            return None;
        }
        let segment = request_first_segment(req.path_and_query);
        let [a, b] = self.other_host.lists(segment);
        let [c, d] = self
            .exact_host
            .get(req.host)
            .map_or([&[][..], &[][..]], |bucket| bucket.lists(segment));
        // Merge the (sorted) candidate lists so rules are tried in file order.
        let mut lists = [a, b, c, d];
        loop {
            let next = lists
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.first().map(|&n| (n, i)))
                .min()?;
            lists[next.1] = &lists[next.1][1..];
            let compiled = &self.rules[next.0 as usize];
            if self.matches(compiled, req) {
                return Some(Match {
                    rule: compiled.rule.clone(),
                    captures: captures(compiled, req),
                });
            }
        }
    }

    fn matches(&self, c: &Compiled, req: &RequestView<'_>) -> bool {
        let p = &c.rule.pattern;
        let scheme_ok = match p.scheme {
            None => true,
            Some(Scheme::Https) => req.tls,
            Some(Scheme::Http) => !req.tls,
        };
        scheme_ok
            && p.port.is_none_or(|port| port == req.port)
            && c.host.as_ref().is_none_or(|h| h.is_match(req.host))
            && c.path.is_match(c.subject(req.path_and_query))
            && crate::conditions::hold(&c.rule.when, req)
    }
}

fn captures(c: &Compiled, req: &RequestView<'_>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(h) = &c.host {
        h.captures(req.host, &mut out);
    }
    c.path.captures(c.subject(req.path_and_query), &mut out);
    out.into_iter().map(str::to_string).collect()
}
