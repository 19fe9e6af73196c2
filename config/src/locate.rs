//! Finds the line and column of a YAML path in the source text.
//!
//! serde_yaml keeps no spans on deserialized values, but it does attach the
//! position of the current node to any error raised while deserializing. So to
//! find `sites[0].origins[1]` we deserialize the text again with a seed that walks
//! down that path and fails on purpose when it reaches the node: the error's
//! location is the node's. This costs one extra parse per reported problem, which
//! only happens on the error path.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// One step of a YAML path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(&'static str),
    Index(usize),
    /// A key chosen by the user (a header name, a pool name).
    Name(String),
}

/// Formats a path as `a.b[1].c`.
pub(crate) fn display_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Name(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

const FOUND: &str = "\u{0}outpost-locate-found";

/// Returns the 1-based (line, column) of the node at `path`, if it exists.
pub(crate) fn locate(text: &str, path: &[Seg]) -> Option<(usize, usize)> {
    let de = serde_yaml::Deserializer::from_str(text);
    match (PathSeed { path }).deserialize(de) {
        Err(e) if e.to_string().contains(FOUND) => e.location().map(|l| (l.line(), l.column())),
        _ => None,
    }
}

struct PathSeed<'p> {
    path: &'p [Seg],
}

impl<'de> DeserializeSeed<'de> for PathSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PathSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let want = match self.path.first() {
            None => return Err(de::Error::custom(FOUND)),
            Some(Seg::Key(k)) => Some(*k),
            Some(Seg::Name(k)) => Some(k.as_str()),
            Some(Seg::Index(_)) => None,
        };
        while let Some(key) = map.next_key::<String>()? {
            if Some(key.as_str()) == want {
                return map.next_value_seed(PathSeed {
                    path: &self.path[1..],
                });
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let want = match self.path.first() {
            None => return Err(de::Error::custom(FOUND)),
            Some(Seg::Index(i)) => Some(*i),
            Some(Seg::Key(_) | Seg::Name(_)) => None,
        };
        let mut i = 0;
        loop {
            if Some(i) == want {
                return seq
                    .next_element_seed(PathSeed {
                        path: &self.path[1..],
                    })
                    .map(|_| ());
            }
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.leaf()
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.leaf()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.leaf()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.leaf()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.leaf()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.leaf()
    }
}

impl PathSeed<'_> {
    fn leaf<E: de::Error>(&self) -> Result<(), E> {
        if self.path.is_empty() {
            Err(E::custom(FOUND))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_scalars_in_maps_and_lists() {
        let text =
            "a: 1\nsites:\n  - hosts: [x]\n    origins:\n      - http://a\n      - htp://b\n";
        let path = [
            Seg::Key("sites"),
            Seg::Index(0),
            Seg::Key("origins"),
            Seg::Index(1),
        ];
        assert_eq!(locate(text, &path), Some((6, 9)));
        assert_eq!(locate(text, &[Seg::Key("a")]), Some((1, 4)));
        assert_eq!(locate(text, &[Seg::Key("nope")]), None);
        assert_eq!(display_path(&path), "sites[0].origins[1]");
    }
}
