//! Zero downtime under load: keep-alive clients hammer the real binary (cache hits,
//! misses, a slow origin path) while the config is reloaded 20 times (SIGHUP and
//! `POST /reload`, alternating) and then the binary is replaced by a new process
//! (`outpost run --upgrade` + SIGQUIT to the old one: pingora's listener hand-over).
//! Not one request may fail, and the new process must be the one serving at the end.
//!
//! Bounded: 4 client tasks on 127.0.0.1, about 15 s in all.

mod common;

use common::origin::TestOrigin;
use common::{Outpost, free_port, spawn_outpost};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    after_upgrade: AtomicUsize,
    failed: AtomicUsize,
    errors: std::sync::Mutex<Vec<String>>,
}

fn config(origin: &str, admin: &str, socket: &std::path::Path, generation: usize) -> String {
    format!(
        "# generation {generation}\nlisten: {{ http: \"{{http}}\" }}\nadmin: {{ listen: \"{admin}\" }}\nserver: {{ shutdown_timeout: 2s, upgrade_socket: \"{}\" }}\ncache: {{ memory: 16MiB }}\nsites:\n  - default: true\n    origins: [\"{origin}\"]\n",
        socket.display()
    )
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_reloads_and_a_binary_upgrade_drop_no_request() {
    let origin = TestOrigin::start("origin").await;
    let admin = format!("127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("upgrade.sock");
    let old = Outpost::start_in(dir, &config(&origin.url(), &admin, &socket, 0), &[]);
    let base = old.url("");

    let stop = Arc::new(AtomicBool::new(false));
    let upgraded = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let mut clients = Vec::new();
    for worker in 0..4 {
        let (stop, upgraded, tally, base) =
            (stop.clone(), upgraded.clone(), tally.clone(), base.clone());
        clients.push(tokio::spawn(async move {
            // A keep-alive client, as browsers and load balancers are.
            let c = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client");
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let path = match i % 4 {
                    0 => format!("/c?cc=max-age%3D60&size=2000&w={worker}"),
                    1 => format!("/c?cc=no-store&n={i}"),
                    2 => "/slow?ms=30".to_string(),
                    _ => format!("/c?cc=max-age%3D1&k={}", i % 50),
                };
                let after = upgraded.load(Ordering::SeqCst);
                let outcome = match c.get(format!("{base}{path}")).send().await {
                    Ok(r) if r.status() == 200 => r
                        .bytes()
                        .await
                        .map(drop)
                        .map_err(|e| format!("body: {e:?}")),
                    Ok(r) => Err(format!("status {}", r.status())),
                    Err(e) => Err(format!("{e:?}")),
                };
                match outcome {
                    Ok(()) => {
                        tally.ok.fetch_add(1, Ordering::SeqCst);
                        if after {
                            tally.after_upgrade.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    Err(why) => {
                        tally.failed.fetch_add(1, Ordering::SeqCst);
                        tally
                            .errors
                            .lock()
                            .expect("lock")
                            .push(format!("{path}: {why}"));
                    }
                }
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 20 reloads, each with a changed file, alternating SIGHUP and the admin API.
    let c = common::client();
    for generation in 1..=20 {
        std::fs::write(
            &old.config,
            config(&origin.url(), &admin, &socket, generation)
                .replace("{http}", &old.http.to_string()),
        )
        .expect("config");
        if generation % 2 == 0 {
            old.signal("HUP");
        } else {
            let r = c
                .post(format!("http://{admin}/reload"))
                .send()
                .await
                .expect("reload");
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    old.wait_log("configuration reloaded", 10);

    // The binary upgrade: the new process waits for the sockets, the old one gets
    // SIGQUIT, hands them over, keeps serving a few seconds, drains and exits.
    let new_log = old.dir.path().join("new.log");
    let config_path = old.config.to_str().expect("utf-8").to_string();
    let mut new = spawn_outpost(&["run", "--config", &config_path, "--upgrade"], &new_log);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&new_log)
        .unwrap_or_default()
        .contains("waiting for the running Outpost's listeners")
    {
        assert!(
            Instant::now() < deadline,
            "new process did not start: {}",
            std::fs::read_to_string(&new_log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let old_pid = old.pid();
    old.signal("QUIT");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut old = old;
    while old.child.try_wait().ok().flatten().is_none() && alive(old_pid) {
        assert!(
            Instant::now() < deadline,
            "the old process did not exit after SIGQUIT"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    upgraded.store(true, Ordering::SeqCst);
    // From here only the new process can answer.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::SeqCst);
    for t in clients {
        t.await.expect("client task");
    }
    let (ok, after, failed) = (
        tally.ok.load(Ordering::SeqCst),
        tally.after_upgrade.load(Ordering::SeqCst),
        tally.failed.load(Ordering::SeqCst),
    );
    eprintln!(
        "{ok} requests ok ({after} after the old process exited), {failed} failed, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let errors = tally.errors.lock().expect("lock").clone();
    assert_eq!(
        failed,
        0,
        "failed requests: {errors:#?}\nnew log:\n{}",
        std::fs::read_to_string(&new_log).unwrap_or_default()
    );
    assert!(ok > 200, "the load ran ({ok} requests)");
    assert!(
        after > 20,
        "the new process served ({after} requests after the upgrade)"
    );
    assert!(
        new.try_wait().ok().flatten().is_none(),
        "the new process runs"
    );

    // The new process took the admin port over too.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(r) = c.get(format!("http://{admin}/status")).send().await
            && r.status() == 200
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "admin API not back after the upgrade"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = new.kill();
    let _ = new.wait();
}
