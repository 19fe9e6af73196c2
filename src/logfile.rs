//! The log file (`log.file`): appended to, and reopened on SIGUSR1 so that logrotate
//! can move it away (`postrotate: kill -USR1 $(pidof outpost)`) without a restart and
//! without losing lines.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The open log file; clones share it.
///
/// Buffered: the log writer thread drains every queued line and then flushes, so a
/// busy node writes the file in large appends rather than one syscall per line.
#[derive(Clone, Debug)]
pub struct LogFile {
    path: PathBuf,
    file: Arc<Mutex<BufWriter<File>>>,
}

fn open(path: &Path) -> std::io::Result<BufWriter<File>> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    Ok(BufWriter::with_capacity(64 << 10, file))
}

impl LogFile {
    /// Opens (or creates) `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<LogFile> {
        Ok(LogFile {
            path: path.to_path_buf(),
            file: Arc::new(Mutex::new(open(path)?)),
        })
    }

    /// Opens the path again (a new file if the old one was moved away); on failure
    /// the old file keeps receiving lines.
    pub fn reopen(&self) -> std::io::Result<()> {
        let fresh = open(&self.path)?;
        if let Ok(mut f) = self.file.lock() {
            let _ = f.flush();
            *f = fresh;
        }
        Ok(())
    }
}

impl Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.file.lock() {
            Ok(mut f) => f.write(buf),
            Err(_) => Err(std::io::Error::other("log file lock poisoned")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.file.lock() {
            Ok(mut f) => f.flush(),
            Err(_) => Ok(()),
        }
    }
}

/// Reopens `file` on every SIGUSR1, from a small thread of its own.
pub fn reopen_on_sigusr1(file: LogFile) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("SIGUSR1 log reopening unavailable: {e}");
            return;
        }
    };
    // Registered before this returns, so a USR1 sent right after start is not lost.
    let mut usr1 = match rt.block_on(async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("SIGUSR1 log reopening unavailable: {e}");
            return;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("outpost-logrotate".into())
        .spawn(move || {
            rt.block_on(async move {
                while usr1.recv().await.is_some() {
                    match file.reopen() {
                        Ok(()) => tracing::info!(path = %file.path.display(), "SIGUSR1: log file reopened"),
                        Err(e) => tracing::error!(path = %file.path.display(), error = %e, "SIGUSR1: cannot reopen the log file; still writing to the old one"),
                    }
                }
            });
        });
    if let Err(e) = spawned {
        eprintln!("SIGUSR1 log reopening unavailable: {e}");
    }
}
