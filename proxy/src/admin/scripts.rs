//! `GET /scripts` and `PUT /scripts/NAME`: list the JS hooks the config names and
//! deploy a new version of one.
//!
//! A deploy is checked before anything changes: the body must compile as a hook (the
//! same check `outpost check` and reloads run). Then it replaces the script's file
//! (written beside it and renamed, so a crash leaves the old or the new file, never
//! half of one) and the config is reloaded, so the file on disk stays the source of
//! truth and a restart runs what was deployed. Requests in flight finish on the old
//! version. If the reload fails for any reason, the old file is put back.

use super::{failure, reply};
use crate::snapshot::Live;
use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::json;
use std::path::{Path, PathBuf};

/// Largest script accepted (Workers allows 10 MB after compression; hooks are small).
const MAX_SCRIPT: usize = 4 << 20;

/// The name a script is addressed by: its path relative to the config file's
/// directory (`hooks/api.js`), or the absolute path if it lives elsewhere.
fn script_name(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// The scripts the running config names: `(name, path, version, sites)`.
fn deployed(live: &Live) -> Vec<(String, PathBuf, u64, Vec<String>)> {
    let snap = live.snapshot();
    let base = snap
        .config
        .source
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut out: Vec<(String, PathBuf, u64, Vec<String>)> = Vec::new();
    for site in &snap.config.sites {
        let rule_scripts = site.rules.iter().filter_map(|r| r.actions.script.as_ref());
        for s in site.script.iter().chain(rule_scripts) {
            match out.iter_mut().find(|(_, p, _, _)| *p == s.path) {
                Some(entry) => {
                    if !entry.3.contains(&site.name) {
                        entry.3.push(site.name.clone());
                    }
                }
                None => out.push((
                    script_name(&s.path, &base),
                    s.path.clone(),
                    s.version,
                    vec![site.name.clone()],
                )),
            }
        }
    }
    out
}

/// `GET /scripts`.
pub(super) fn list(live: &Live) -> Response<Full<Bytes>> {
    let scripts: Vec<_> = deployed(live)
        .into_iter()
        .map(|(name, path, version, sites)| {
            json!({ "name": name, "path": path.display().to_string(), "version": format!("{version:016x}"), "sites": sites })
        })
        .collect();
    reply(
        StatusCode::OK,
        json!({ "success": true, "scripts": scripts }),
    )
}

/// `PUT /scripts/NAME`: the body is the new source.
pub(super) async fn deploy(
    name: &str,
    req: http::Request<Incoming>,
    live: &Live,
) -> Response<Full<Bytes>> {
    let all = deployed(live);
    // By configured name, or by file name when that is unambiguous.
    let mut matches: Vec<_> = all.iter().filter(|(n, ..)| n == name).collect();
    if matches.is_empty() {
        matches = all
            .iter()
            .filter(|(_, p, ..)| p.file_name().is_some_and(|f| f.to_string_lossy() == name))
            .collect();
    }
    let path = match matches.as_slice() {
        [(_, path, ..)] => path.clone(),
        [] => {
            let names: Vec<&str> = all.iter().map(|(n, ..)| n.as_str()).collect();
            return failure(
                StatusCode::NOT_FOUND,
                format!(
                    "no script {name:?} in the running config (scripts: {}); add it to a site or rule first",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            );
        }
        _ => {
            return failure(
                StatusCode::CONFLICT,
                format!("{name:?} names several scripts; use the path relative to the config"),
            );
        }
    };
    let body = match Limited::new(req.into_body(), MAX_SCRIPT).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return failure(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("cannot read the script (at most {MAX_SCRIPT} bytes): {e}"),
            );
        }
    };
    let Ok(code) = std::str::from_utf8(&body) else {
        return failure(StatusCode::BAD_REQUEST, "the script is not UTF-8");
    };
    let candidate = outpost_config::ScriptFile::from_code(&path, code);
    if let Err(e) = outpost_scripting::ScriptEngine::compile_check(
        &candidate,
        &outpost_scripting::Limits::default(),
    ) {
        return failure(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("script rejected, nothing changed: {e}"),
        );
    }
    tokio::task::block_in_place(|| install(live, &path, code, candidate.version))
}

/// Replaces the file and reloads; puts the old file back if the reload fails.
fn install(live: &Live, path: &Path, code: &str, version: u64) -> Response<Full<Bytes>> {
    let old = std::fs::read(path).ok();
    if let Err(e) = write_atomically(path, code.as_bytes()) {
        return failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot write {}: {e}", path.display()),
        );
    }
    match live.reload() {
        Ok(generation) => {
            tracing::info!(script = %path.display(), version = format!("{version:016x}"), generation, "script deployed");
            reply(
                StatusCode::OK,
                json!({ "success": true, "path": path.display().to_string(), "version": format!("{version:016x}"), "config_generation": generation }),
            )
        }
        Err(e) => {
            let restored = match &old {
                Some(bytes) => write_atomically(path, bytes).is_ok(),
                None => std::fs::remove_file(path).is_ok(),
            };
            failure(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "reload failed, the old version keeps serving ({}): {e}",
                    if restored {
                        "file restored"
                    } else {
                        "could not restore the file"
                    }
                ),
            )
        }
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    outpost_files::write(path, bytes, outpost_files::Access::Keep)
}
