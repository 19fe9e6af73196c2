//! Shared helpers for integration tests: a real origin, the real `outpost` binary
//! started on free loopback ports, a test CA, and clients.
#![allow(dead_code)]

pub mod dns;
pub mod origin;
pub mod pki;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Every test body runs under this bound so a hang fails instead of stalling CI.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A free loopback port (TCP and UDP) for a process to bind a moment later.
///
/// Taken below the kernel's ephemeral range, so no connection's local port (which the
/// kernel picks from that range, for every client in every test) can take it in
/// between, and never handed out twice in one test binary (tests in a binary run in
/// parallel; binaries run one after another). Port 0 would give ephemeral ports: the
/// cause of rare "address in use" starts.
pub fn free_port() -> u16 {
    use std::collections::HashSet;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    static STATE: AtomicU64 = AtomicU64::new(0);
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (low, high) = if ephemeral_low > 12_000 {
        (10_000u16, ephemeral_low)
    } else {
        // An unusual range: fall back to the kernel's choice.
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        return l.local_addr().expect("local addr").port();
    };
    if STATE.load(Ordering::Relaxed) == 0 {
        let seed = u64::from(std::process::id())
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64);
        let _ = STATE.compare_exchange(0, seed | 1, Ordering::Relaxed, Ordering::Relaxed);
    }
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    for _ in 0..10_000 {
        // xorshift64: enough to spread picks over the range.
        let mut x = STATE.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        STATE.store(x, Ordering::Relaxed);
        let port = low + (x % u64::from(high - low)) as u16;
        if given.contains(&port) {
            continue;
        }
        let tcp = TcpListener::bind(("127.0.0.1", port)).is_ok();
        let udp = std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok();
        if tcp && udp {
            given.insert(port);
            return port;
        }
    }
    panic!("no free loopback port between {low} and {high}")
}

/// Whether the TCP socket listening on `addr` belongs to process `pid`: `None` while
/// nobody listens there. Reads `/proc` (Linux): the socket's inode from
/// `/proc/net/tcp{,6}` and the process's open descriptors.
fn listener_owned_by(addr: SocketAddr, pid: u32) -> Option<bool> {
    let (table, local) = match addr {
        SocketAddr::V4(a) => (
            "/proc/net/tcp",
            format!(
                "{:08X}:{:04X}",
                u32::from_le_bytes(a.ip().octets()),
                a.port()
            ),
        ),
        SocketAddr::V6(a) => {
            let words: String = a
                .ip()
                .octets()
                .chunks(4)
                .map(|w| format!("{:08X}", u32::from_le_bytes([w[0], w[1], w[2], w[3]])))
                .collect();
            ("/proc/net/tcp6", format!("{words}:{:04X}", a.port()))
        }
    };
    let text = std::fs::read_to_string(table).ok()?;
    let inodes: Vec<String> = text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // Field 3 is the state (0A = LISTEN), field 9 the inode.
            (f.len() > 9 && f[1] == local && f[3] == "0A").then(|| format!("socket:[{}]", f[9]))
        })
        .collect();
    if inodes.is_empty() {
        return None;
    }
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let ours = fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .map(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
            .unwrap_or(false)
    });
    Some(ours)
}

/// A running `outpost` process, killed on drop.
pub struct Outpost {
    pub child: Child,
    pub http: SocketAddr,
    pub https: Option<SocketAddr>,
    /// The address put in for `{admin}`, when the config has it.
    pub admin: Option<SocketAddr>,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub log: PathBuf,
}

impl Outpost {
    /// Writes `yaml` (with `{http}` and `{https}` replaced by free ports) and starts
    /// `outpost run --config` on it, waiting until the listeners accept.
    pub fn start(yaml: &str) -> Outpost {
        Self::start_in(tempfile::tempdir().expect("tempdir"), yaml, &[])
    }

    /// Like [`Outpost::start`] in a prepared directory, with extra CLI args.
    ///
    /// A port from [`free_port`] can be taken by another test's listener before
    /// Outpost binds it; then Outpost exits at once with a bind error (and the test
    /// would be talking to someone else). That is detected and retried on new ports.
    pub fn start_in(dir: tempfile::TempDir, yaml: &str, extra: &[&str]) -> Outpost {
        Self::start_with(dir, yaml, extra, None)
    }

    /// Like [`Outpost::start_in`] on given ports (for peers that must know them
    /// beforehand, such as an ACME CA validating challenges); no retry on new ports.
    pub fn start_on(
        dir: tempfile::TempDir,
        yaml: &str,
        http: SocketAddr,
        https: SocketAddr,
    ) -> Outpost {
        Self::start_with(dir, yaml, &[], Some((http, https)))
    }

    fn start_with(
        mut dir: tempfile::TempDir,
        yaml: &str,
        extra: &[&str],
        ports: Option<(SocketAddr, SocketAddr)>,
    ) -> Outpost {
        for attempt in 1..=3 {
            let free =
                || -> SocketAddr { format!("127.0.0.1:{}", free_port()).parse().expect("addr") };
            let (http, https) = ports.unwrap_or_else(|| (free(), free()));
            // `{admin}` is always a fresh port, so a restart on fixed ports can still
            // retry when another test took the admin port.
            let admin = free();
            let uses_https = yaml.contains("{https}");
            let uses_admin = yaml.contains("{admin}");
            let text = yaml
                .replace("{http}", &http.to_string())
                .replace("{https}", &https.to_string())
                .replace("{admin}", &admin.to_string());
            let config = dir.path().join("outpost.yaml");
            std::fs::write(&config, text).expect("write config");
            let log = dir.path().join("outpost.log");
            let mut args = vec!["run", "--config", config.to_str().expect("utf8 path")];
            args.extend_from_slice(extra);
            let child = spawn_outpost(&args, &log);
            let mut o = Outpost {
                child,
                http,
                https: uses_https.then_some(https),
                admin: uses_admin.then_some(admin),
                dir,
                config,
                log,
            };
            let ours = o.wait_ready();
            let exited = o.child.try_wait().ok().flatten().is_some();
            if ours && !exited {
                return o;
            }
            let text = o.log_text();
            let retry = if ports.is_some() {
                uses_admin && text.contains(&format!("cannot listen on {admin}"))
            } else {
                !ours || text.contains("cannot listen on")
            };
            assert!(
                attempt < 3 && retry,
                "outpost exited at start; log:\n{text}"
            );
            dir = o.stop_keep_dir();
        }
        unreachable!("the loop returns or panics")
    }

    /// Stops the process and hands back its directory (config, data), for a restart.
    #[allow(dead_code)]
    pub fn stop_keep_dir(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"))
    }

    /// Waits until this process listens on every address; stops early if it exits.
    /// Returns false when another process holds one of the addresses: a port from
    /// [`free_port`] was taken by another test's listener, and a plain connect would
    /// reach that listener instead of ours (seen as a stray 401 from an admin API).
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut addrs = vec![self.http];
        addrs.extend(self.https);
        addrs.extend(self.admin);
        let pid = self.pid();
        for addr in addrs {
            let mut foreign_since: Option<Instant> = None;
            loop {
                if self.child.try_wait().ok().flatten().is_some() {
                    return true;
                }
                match listener_owned_by(addr, pid) {
                    Some(true) => break,
                    // pingora retries a busy address for a while before it gives up.
                    Some(false) => {
                        let since = *foreign_since.get_or_insert_with(Instant::now);
                        if since.elapsed() > Duration::from_secs(1) {
                            return false;
                        }
                    }
                    None => foreign_since = None,
                }
                assert!(
                    Instant::now() < deadline,
                    "outpost did not start; log:\n{}",
                    self.log_text()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        true
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`HUP`, `TERM`) with the system `kill`.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Rewrites the config file (same placeholders as `start`).
    pub fn rewrite_config(&self, yaml: &str) {
        let mut text = yaml.replace("{http}", &self.http.to_string());
        if let Some(h) = self.https {
            text = text.replace("{https}", &h.to_string());
        }
        std::fs::write(&self.config, text).expect("rewrite config");
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle` `count` times (bounded).
    pub fn wait_log(&self, needle: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.log_text().matches(needle).count() < count {
            assert!(
                Instant::now() < deadline,
                "log never showed {needle:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Peak resident memory of the process (VmHWM), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .expect("VmHWM")
    }
}

impl Drop for Outpost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn outpost_bin() -> &'static str {
    env!("CARGO_BIN_EXE_outpost")
}

/// Spawns the binary with stdout+stderr appended to `log`.
pub fn spawn_outpost(args: &[&str], log: &Path) -> Child {
    let out = std::fs::File::create(log).expect("log file");
    let err = out.try_clone().expect("clone log");
    Command::new(outpost_bin())
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn outpost")
}

/// Starts quick mode, `outpost proxy --listen ADDR ARGS…`, on a free loopback port and
/// waits until it accepts; returns the process and its address. Logs go to `log`.
pub fn start_quick(args: &[&str], log: &Path) -> (Child, String) {
    start_listening("proxy", args, log)
}

/// The same for `outpost dev --listen ADDR ARGS…`.
pub fn start_dev(args: &[&str], log: &Path) -> (Child, String) {
    start_listening("dev", args, log)
}

fn start_listening(mode: &str, args: &[&str], log: &Path) -> (Child, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut all = vec![mode, "--listen", listen.as_str()];
    all.extend_from_slice(args);
    let child = spawn_outpost(&all, log);
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(&listen).is_err() {
        assert!(
            Instant::now() < deadline,
            "outpost {mode} did not start:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, listen)
}

/// The admin API's `GET /metrics` (Prometheus text) at `admin` (`HOST:PORT`, no token).
pub async fn scrape(admin: &str) -> String {
    client()
        .get(format!("http://{admin}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text")
}

/// The value of the series `name{labels}` in a scrape (labels in the exposition's
/// order); panics with the whole text if it is missing.
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no series {series} in:\n{text}"))
        .trim()
        .parse()
        .expect("a number")
}

/// The value of `series` (0 while absent) once it reaches `want`, or after 5 s: a
/// response is counted just after its last byte is sent, so a scrape right after a
/// request may come a moment early.
pub async fn series_reaching(admin: &str, series: &str, want: f64) -> f64 {
    series_until(admin, series, |v| v >= want).await
}

/// `outpost_requests_in_flight` once it is back to 0, or after 5 s: a request is
/// counted until its logging phase ends, just after the client has the body.
pub async fn in_flight_settled(admin: &str) -> f64 {
    series_until(admin, "outpost_requests_in_flight", |v| v == 0.0).await
}

/// The value of `series` (0 while absent) once `done` says so, or after 5 s.
async fn series_until(admin: &str, series: &str, done: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = scrape(admin).await;
        let v = if text.lines().any(|l| l.starts_with(series)) {
            metric(&text, series)
        } else {
            0.0
        };
        if done(v) || Instant::now() > deadline {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A response header as text ("" when absent or not ASCII).
pub fn header_text(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// A plain HTTP client that never pools (so each request sees the current config).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Sends raw bytes and reads until the peer closes or `timeout` passes.
pub fn raw_exchange(addr: SocketAddr, request: &[u8], timeout: Duration) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(timeout)).expect("timeout");
    s.write_all(request).expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}
