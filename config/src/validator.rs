//! The one walker every section validates with: reports problems and warnings at
//! their file:line:col, and parses the value kinds the sections share.

use crate::error::Diagnostic;
use crate::locate::{Seg, display_path, locate};
use crate::script_file::ScriptFile;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Collects problems with their positions while walking one YAML file.
pub(crate) struct Validator<'a> {
    pub(crate) text: &'a str,
    pub(crate) file: &'a Path,
    /// Relative paths in the file are resolved against this directory.
    pub(crate) base: PathBuf,
    pub(crate) problems: Vec<Diagnostic>,
    pub(crate) warnings: Vec<Diagnostic>,
    /// Files read so far (main config first), for `--watch`.
    pub(crate) files: Vec<PathBuf>,
    /// Of those, the ones holding secrets (`env: { NAME: { file: PATH } }`), and where
    /// the first is named.
    pub(crate) secret_files: Vec<PathBuf>,
    pub(crate) first_secret_at: Option<String>,
}

impl<'a> Validator<'a> {
    /// A validator for `text`, read from `file`.
    pub(crate) fn new(text: &'a str, file: &'a Path) -> Self {
        let base = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Validator {
            text,
            file,
            base,
            problems: Vec::new(),
            warnings: Vec::new(),
            files: Vec::new(),
            secret_files: Vec::new(),
            first_secret_at: None,
        }
    }

    /// An IP network (`10.0.0.0/8`) or a single address, reported at `path` if neither.
    pub(crate) fn network(&mut self, s: &str, path: &[Seg]) -> Option<ipnet::IpNet> {
        let net = s
            .parse::<ipnet::IpNet>()
            .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
        if net.is_err() {
            self.report(
                path,
                format!("{s:?} is not an IP network (expected e.g. \"10.0.0.0/8\", \"2001:db8::/32\" or \"192.0.2.7\")"),
            );
        }
        net.ok()
    }

    pub(crate) fn report(&mut self, path: &[Seg], message: impl Into<String>) {
        let d = self.diagnostic(path, message.into());
        self.problems.push(d);
    }

    /// Records a problem that does not stop loading.
    pub(crate) fn warn(&mut self, path: &[Seg], message: impl Into<String>) {
        let d = self.diagnostic(path, message.into());
        self.warnings.push(d);
    }

    /// The 1-based line of the node at `path` (or its nearest existing parent).
    pub(crate) fn line_of(&self, path: &[Seg]) -> usize {
        self.position(path).0
    }

    fn position(&self, path: &[Seg]) -> (usize, usize) {
        // A missing node (a default we filled in) is reported at its parent.
        let mut at = path;
        loop {
            if let Some(pos) = locate(self.text, at) {
                return pos;
            }
            if at.is_empty() {
                return (1, 1);
            }
            at = &at[..at.len() - 1];
        }
    }

    /// `message` at the position of `path`.
    pub(crate) fn diagnostic(&self, path: &[Seg], message: String) -> Diagnostic {
        let (line, column) = self.position(path);
        Diagnostic {
            file: self.file.to_path_buf(),
            line,
            column,
            path: display_path(path),
            message,
        }
    }

    pub(crate) fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() || self.base == Path::new(".") {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    pub(crate) fn addr(&mut self, v: Option<&str>, path: &[Seg]) -> Option<SocketAddr> {
        let s = v?;
        match s.parse() {
            Ok(a) => Some(a),
            Err(_) => {
                self.report(
                    path,
                    format!("{s:?} is not a listen address (expected IP:PORT, e.g. \"0.0.0.0:8080\" or \"[::]:443\")"),
                );
                None
            }
        }
    }

    pub(crate) fn duration(
        &mut self,
        v: Option<&str>,
        default: Duration,
        path: &[Seg],
    ) -> Duration {
        let Some(s) = v else { return default };
        match humantime::parse_duration(s) {
            Ok(d) => d,
            Err(_) => {
                self.report(
                    path,
                    format!("{s:?} is not a duration (expected a number and unit, e.g. \"500ms\", \"30s\", \"5m\")"),
                );
                default
            }
        }
    }

    /// One of a fixed set of words; the first option is the default when absent.
    pub(crate) fn choice<T: Copy>(
        &mut self,
        value: Option<&str>,
        path: &[Seg],
        options: &[(&str, T)],
        what: &str,
    ) -> T {
        let Some(value) = value else {
            return options[0].1;
        };
        if let Some((_, t)) = options.iter().find(|(name, _)| *name == value) {
            return *t;
        }
        let names: Vec<String> = options.iter().map(|(n, _)| format!("{n:?}")).collect();
        let expected = match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.join(""),
        };
        self.report(
            path,
            format!("{value:?} is not {what} (expected {expected})"),
        );
        options[0].1
    }

    pub(crate) fn size(&mut self, v: Option<&str>, default: u64, path: &[Seg]) -> u64 {
        let Some(s) = v else { return default };
        match s.parse::<bytesize::ByteSize>() {
            Ok(b) => b.as_u64(),
            Err(_) => {
                self.report(
                    path,
                    format!("{s:?} is not a size (expected a number and unit, e.g. \"512MiB\", \"20GiB\", \"64KiB\")"),
                );
                default
            }
        }
    }

    /// Reads a JS hook file (and records it for `--watch`).
    pub(crate) fn script_file(&mut self, v: &str, path: &[Seg]) -> Option<ScriptFile> {
        let resolved = self.existing_file(v, path, "script");
        if !resolved.is_file() {
            return None;
        }
        self.files.push(resolved.clone());
        match ScriptFile::read(&resolved) {
            Ok(s) => Some(s),
            Err(e) => {
                self.report(path, format!("script file {v:?}: cannot read: {e}"));
                None
            }
        }
    }

    pub(crate) fn existing_file(&mut self, v: &str, path: &[Seg], what: &str) -> PathBuf {
        let resolved = self.resolve(v);
        if !resolved.is_file() {
            self.report(
                path,
                format!(
                    "{what} file {v:?} (resolved to {}) does not exist or is not a file",
                    resolved.display()
                ),
            );
        }
        resolved
    }
}
