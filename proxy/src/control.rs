//! The control plane: a small runtime beside pingora's that runs active health
//! probes, config reloads (SIGHUP and `--watch`) and the built-in static origins.
//!
//! It is separate from pingora's request runtimes so that slow probes or a reload
//! that reads many files never sit on a request thread.

use crate::error::{ProxyError, Result};
use crate::pool::OriginPool;
use crate::snapshot::Live;
use pingora::lb::Backend;
use pingora::lb::health_check::{HealthCheck as _, HttpHealthCheck};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// How `outpost run` was asked to serve.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Reload when the config file or a certificate file changes.
    pub watch: bool,
    /// Quick mode has no config file: SIGHUP is acknowledged and ignored.
    pub no_config_file: bool,
    /// Called just before the process exits after a drain (e.g. to flush logs).
    pub before_exit: Option<fn()>,
    /// `outpost dev`: debug headers and full error detail on, whatever the config says
    /// (also after reloads).
    pub dev: bool,
    /// Take the listening sockets over from a running Outpost (`run --upgrade`): wait
    /// for them on `server.upgrade_socket` until the old process gets SIGQUIT.
    pub upgrade: bool,
}

/// Builds the control runtime (one worker thread).
///
/// Its threads run at a lower CPU priority (nice 10) than the request threads: a purge
/// of 100k objects, a reload or a burst of health probes takes CPU that requests do not
/// want, rather than CPU they do (on a busy core, requests come first).
pub fn control_runtime() -> Result<tokio::runtime::Runtime> {
    fn lower_priority() {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadPriorityValue, ThreadSchedulePolicy,
        };
        // 25 of thread-priority's 0..=99 maps to nice 9 for normal threads.
        let Ok(low) = ThreadPriorityValue::try_from(25u8) else {
            return;
        };
        if let Err(e) = thread_priority::set_thread_priority_and_policy(
            thread_priority::thread_native_id(),
            ThreadPriority::Crossplatform(low),
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other),
        ) {
            tracing::debug!(error = ?e, "control threads keep normal priority");
        }
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("outpost-control")
        .on_thread_start(lower_priority)
        .enable_all()
        .build()
        .map_err(ProxyError::Runtime)
}

/// Runs active health probes for every pool of the current snapshot, forever.
pub async fn health_loop(live: Arc<Live>) {
    let mut last: HashMap<usize, Instant> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tick.tick().await;
        let snapshot = live.snapshot();
        let mut seen = Vec::new();
        for pool in snapshot.sites.pools() {
            let pool = pool.clone();
            let key = Arc::as_ptr(&pool) as usize;
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let Some(interval) = pool.probe_interval() else {
                continue;
            };
            let due = last.get(&key).is_none_or(|t| t.elapsed() >= interval);
            if due {
                last.insert(key, Instant::now());
                for i in 0..pool.origins().len() {
                    tokio::spawn(probe(pool.clone(), i));
                }
            }
        }
        last.retain(|k, _| seen.contains(k));
    }
}

async fn probe(pool: Arc<OriginPool>, i: usize) {
    let Some(hc) = pool.health_check.clone() else {
        return;
    };
    let o = &pool.origins()[i];
    let mut check = HttpHealthCheck::new(&o.host, o.tls);
    check.peer_template.options.connection_timeout = Some(hc.timeout);
    check.peer_template.options.read_timeout = Some(hc.timeout);
    let expect = hc.expect_status;
    check.validator = Some(Box::new(move |resp| {
        if resp.status.as_u16() == expect {
            Ok(())
        } else {
            pingora::Error::e_explain(
                pingora::ErrorType::CustomCode(
                    "unexpected health check status",
                    resp.status.as_u16(),
                ),
                format!("expected {expect}"),
            )
        }
    }));
    let ok = match pingora::http::RequestHeader::build("GET", hc.path.as_bytes(), None) {
        Ok(mut req) => {
            let _ = req.insert_header("host", o.host.as_str());
            let _ = req.insert_header("user-agent", "outpost-health-check");
            check.req = req;
            let backend = Backend {
                addr: pingora::protocols::l4::socket::SocketAddr::Inet(o.addr()),
                weight: 1,
                ext: Default::default(),
            };
            let res = tokio::time::timeout(hc.timeout * 2, check.check(&backend)).await;
            matches!(res, Ok(Ok(())))
        }
        Err(_) => false,
    };
    tracing::debug!(origin = %o.label(), ok, "health probe");
    pool.record_probe(i, ok);
}

/// Reloads on SIGHUP and, with `watch`, when the config or a certificate file changes.
///
/// The SIGHUP handler is registered before this returns, so a HUP sent as soon as the
/// server is up never falls back to the default action (terminating the process).
pub fn start_reloader(
    live: Arc<Live>,
    runtime: &tokio::runtime::Runtime,
    opts: &ServeOptions,
) -> Result<()> {
    let watch = opts.watch && !opts.no_config_file;
    let reloadable = !opts.no_config_file;
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = runtime
        .block_on(async { signal(SignalKind::hangup()) })
        .map_err(ProxyError::Runtime)?;
    runtime.spawn(async move {
        let mut stamps = file_stamps(&live);
        // Four times a second: a saved script serves new requests well within a second.
        let mut poll = tokio::time::interval(Duration::from_millis(250));
        loop {
            let reason = tokio::select! {
                _ = hup.recv() => "SIGHUP",
                _ = poll.tick(), if watch => {
                    let now = file_stamps(&live);
                    if now == stamps { continue; }
                    "file change"
                }
            };
            if !reloadable {
                tracing::warn!("SIGHUP ignored: quick mode has no config file to reload");
                continue;
            }
            let live2 = live.clone();
            // Reading files and resolving origins block: keep them off the runtime's worker.
            let outcome = tokio::task::spawn_blocking(move || live2.reload()).await;
            match outcome {
                Ok(Ok(generation)) => tracing::info!(reason, generation, "configuration reloaded"),
                Ok(Err(e)) => tracing::error!(
                    reason,
                    "configuration reload failed; still serving the previous configuration:\n{e}"
                ),
                Err(e) => tracing::error!(reason, error = %e, "configuration reload task failed"),
            }
            stamps = file_stamps(&live);
        }
    });
    Ok(())
}

/// Modification times of the files a config depends on.
fn file_stamps(live: &Live) -> Vec<(PathBuf, Option<SystemTime>)> {
    let snapshot = live.snapshot();
    let mut files = snapshot.config.files.clone();
    for c in &snapshot.config.tls.certificates {
        files.push(c.cert.clone());
        files.push(c.key.clone());
        files.extend(c.ocsp.clone());
    }
    files
        .into_iter()
        .map(|f| {
            let m = std::fs::metadata(&f).and_then(|m| m.modified()).ok();
            (f, m)
        })
        .collect()
}

/// On SIGTERM, waits for in-flight requests to finish (pingora has already stopped
/// accepting), then exits at once instead of sleeping out the whole grace period.
pub fn start_drain_watcher(
    live: Arc<Live>,
    runtime: &tokio::runtime::Runtime,
    limit: Duration,
    before_exit: Option<fn()>,
) -> Result<()> {
    use std::sync::atomic::Ordering;
    use tokio::signal::unix::{SignalKind, signal};
    let (mut term, mut quit) = runtime
        .block_on(async {
            Ok::<_, std::io::Error>((
                signal(SignalKind::terminate())?,
                signal(SignalKind::quit())?,
            ))
        })
        .map_err(ProxyError::Runtime)?;
    // SIGQUIT is pingora's graceful upgrade: it hands the listening sockets to the new
    // process, keeps accepting alongside it for a few seconds, then drains and exits.
    // Meanwhile every response closes its connection, so keep-alive clients move over.
    let upgrading = live.clone();
    runtime.spawn(async move {
        quit.recv().await;
        upgrading.draining.store(true, Ordering::SeqCst);
        tracing::info!(
            in_flight = upgrading.in_flight.load(Ordering::SeqCst),
            "SIGQUIT: handing the listeners to the new process, then draining"
        );
    });
    runtime.spawn(async move {
        term.recv().await;
        live.draining.store(true, Ordering::SeqCst);
        let started = Instant::now();
        tracing::info!(
            in_flight = live.in_flight.load(Ordering::SeqCst),
            ?limit,
            "SIGTERM: draining"
        );
        // Give pingora a moment to close its listeners before counting down.
        tokio::time::sleep(Duration::from_millis(100)).await;
        while live.in_flight.load(Ordering::SeqCst) > 0 && started.elapsed() < limit {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let left = live.in_flight.load(Ordering::SeqCst);
        if left > 0 {
            tracing::warn!(
                left,
                "drain time limit reached; exiting with requests in flight"
            );
        } else {
            tracing::info!(took = ?started.elapsed(), "drained; exiting");
        }
        if let Some(f) = before_exit {
            f();
        }
        std::process::exit(0);
    });
    Ok(())
}
