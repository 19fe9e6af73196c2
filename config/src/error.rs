//! The one error type of this crate, with positioned diagnostics.

use std::fmt;
use std::path::{Path, PathBuf};

/// Result alias for configuration loading.
pub type Result<T> = std::result::Result<T, ConfigError>;

/// Everything that can go wrong while loading a configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file we tried to read.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file was read but is not a valid configuration. Holds every problem found.
    #[error("{}", DiagnosticList(.0))]
    Invalid(Vec<Diagnostic>),
}

impl ConfigError {
    /// The positioned problems, if this is a validation error.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Invalid(d) => d,
            _ => &[],
        }
    }
}

/// One problem in a configuration file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, as the user named it.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The YAML path of the value, such as `sites[0].origins[1]` (may be empty).
    pub path: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl Diagnostic {
    /// Converts a serde_yaml error (syntax, type, unknown key) into a diagnostic.
    pub(crate) fn from_yaml_error(file: &Path, e: &serde_yaml::Error) -> Self {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        let mut message = e.to_string();
        // serde_yaml appends " at line L column C"; we print the position up front.
        // (A second position, where an unclosed construct began, is kept: it helps.)
        message = message.replacen(&format!(" at line {line} column {column}"), "", 1);
        // Its messages start with "path: " when it knows the path; keep that split.
        let (path, message) = match message.split_once(": ") {
            // A path into a top-level list (a rules file) starts with a dot: `.[0].actions`.
            Some((p, m)) if !p.contains(' ') && !p.is_empty() => {
                (p.trim_start_matches('.').to_string(), m.to_string())
            }
            _ => (String::new(), message),
        };
        Diagnostic {
            file: file.to_path_buf(),
            line,
            column,
            path,
            message,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

struct DiagnosticList<'a>(&'a [Diagnostic]);

impl fmt::Display for DiagnosticList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}
