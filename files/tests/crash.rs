//! `kill -9` in the middle of writes: the file is always a whole old or whole new one.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

const SIZE: usize = 4 << 20;
const CHILD: &str = "OUTPOST_FILES_CRASH_CHILD";

/// Run by the parent test in a child process: rewrites the file until it is killed.
#[test]
fn crash_child_writer() {
    let Some(path) = std::env::var_os(CHILD) else {
        return; // only meaningful as the parent's child process
    };
    for i in 0u64.. {
        let byte = b'b' + (i % 20) as u8;
        outpost_files::write(
            Path::new(&path),
            &vec![byte; SIZE],
            outpost_files::Access::Private,
        )
        .expect("write");
    }
}

#[test]
fn a_kill_during_writes_leaves_a_whole_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("secret.key");
    outpost_files::write(&path, &vec![b'a'; SIZE], outpost_files::Access::Private).expect("seed");
    let exe = std::env::current_exe().expect("test binary");
    let mut replaced = 0;
    for round in 0..12u64 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, &path)
            .spawn()
            .expect("spawn the writer");
        // Different moments in the write loop: before the first write, mid-write, at
        // a rename.
        std::thread::sleep(Duration::from_millis(20 + round * 17));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let bytes = std::fs::read(&path).expect("the file still exists");
        assert_eq!(bytes.len(), SIZE, "round {round}: a torn file");
        assert!(
            bytes.iter().all(|b| *b == bytes[0]),
            "round {round}: a file mixing two writes"
        );
        replaced += usize::from(bytes[0] != b'a');
    }
    assert!(
        replaced > 0,
        "the writer never got to replace the file: the test proved nothing"
    );
    // A kill can leave a named temporary file (always where O_TMPFILE is unsupported,
    // and in the instant before the rename where it is); the next write sweeps them.
    outpost_files::write(&path, &vec![b'z'; SIZE], outpost_files::Access::Private)
        .expect("a write after the kills");
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        entries,
        [std::ffi::OsString::from("secret.key")],
        "litter left"
    );
}
