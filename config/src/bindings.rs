//! A site's bindings for hooks: `env:` values (inline, from files, from the process
//! environment) and `kv:` namespaces.

use crate::locate::Seg;
use crate::raw;
use crate::validator::Validator;

fn is_js_identifier(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// Where binding `name` of `sites[i].<section>` is, if the name can be a JavaScript
/// binding (reported otherwise).
fn binding_path(
    v: &mut Validator<'_>,
    i: usize,
    section: &'static str,
    name: &str,
) -> Option<[Seg; 4]> {
    let path = [
        Seg::Key("sites"),
        Seg::Index(i),
        Seg::Key(section),
        Seg::Name(name.to_string()),
    ];
    if is_js_identifier(name) {
        Some(path)
    } else {
        v.report(
            &path,
            format!("{name:?} is not a JavaScript identifier (letters, digits, _ and $)"),
        );
        None
    }
}

/// Resolves a site's `kv:` bindings (binding name -> namespace).
pub(crate) fn site_kv(v: &mut Validator<'_>, s: &raw::Site, i: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, namespace) in &s.kv {
        let Some(path) = binding_path(v, i, "kv", name) else {
            continue;
        };
        if s.env.contains_key(name) {
            v.report(&path, format!("{name:?} is already an env binding"));
            continue;
        }
        let ok = !namespace.is_empty()
            && namespace.len() <= 64
            && namespace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            v.report(
                &path,
                format!("namespace {namespace:?}: use 1 to 64 letters, digits, '_' or '-'"),
            );
            continue;
        }
        out.push((name.clone(), namespace.clone()));
    }
    out
}

/// Resolves a site's `env:` bindings.
pub(crate) fn site_env(
    v: &mut Validator<'_>,
    env: &std::collections::BTreeMap<String, serde_yaml::Value>,
    i: usize,
) -> Vec<(String, String)> {
    use serde_yaml::Value;
    let mut out = Vec::new();
    for (name, value) in env {
        let Some(path) = binding_path(v, i, "env", name) else {
            continue;
        };
        let expected = "expected a value, { file: PATH } or { from_env: VAR }";
        let resolved = match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Mapping(m) if m.len() == 1 => {
                let (k, val) = m
                    .iter()
                    .next()
                    .map_or((None, None), |(k, v)| (k.as_str(), v.as_str()));
                match (k, val) {
                    (Some("file"), Some(f)) => {
                        let file = v.existing_file(f, &path, "secret");
                        v.files.push(file.clone());
                        v.secret_files.push(file.clone());
                        if v.first_secret_at.is_none() {
                            v.first_secret_at = Some(format!("sites[{i}].env.{name}"));
                        }
                        std::fs::read_to_string(&file)
                            .ok()
                            .map(|s| s.trim_end().to_string())
                    }
                    (Some("from_env"), Some(var)) => match std::env::var(var) {
                        Ok(s) => Some(s),
                        Err(_) => {
                            v.report(&path, format!("environment variable {var:?} is not set"));
                            None
                        }
                    },
                    _ => {
                        v.report(&path, expected);
                        None
                    }
                }
            }
            _ => {
                v.report(&path, expected);
                None
            }
        };
        if let Some(r) = resolved {
            out.push((name.clone(), r));
        }
    }
    out
}
