//! Stamps the binary with the git commit it was built from, for `outpost --version`
//! (and `/status`); `unknown` outside a git checkout (e.g. a source tarball).

fn main() {
    let hash = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=OUTPOST_GIT_HASH={hash}");
    // Rebuild when HEAD moves (a commit or a checkout), not on every file change.
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}
