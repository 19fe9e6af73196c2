//! Starting Outpost: pingora's `Server` built from our config, plus the control plane.

use crate::control::{
    ServeOptions, control_runtime, health_loop, start_drain_watcher, start_reloader,
};
use crate::error::{ProxyError, Result};
use crate::service::EdgeProxy;
use crate::snapshot::Live;
use outpost_config::Config;
use pingora::apps::HttpServerOptions;
use pingora::listeners::tls::TlsSettings;
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::server::Server;
use pingora::server::configuration::ServerConf;
use std::sync::Arc;

/// The one place where our config becomes pingora's `ServerConf`.
fn pingora_server_conf(config: &Config) -> ServerConf {
    // pingora sleeps the whole grace period even when nothing is in flight; our drain
    // watcher (control::start_drain_watcher) exits as soon as the last request ends,
    // so this is only the upper bound.
    ServerConf {
        threads: config.server.threads,
        grace_period_seconds: Some(config.server.shutdown_timeout.as_secs().max(1)),
        graceful_shutdown_timeout_seconds: Some(1),
        upgrade_sock: config.server.upgrade_socket.to_string_lossy().into_owned(),
        upstream_keepalive_pool_size: config.server.upstream_keepalive_pool,
        ..Default::default()
    }
}

/// Fails when `addr` cannot be bound, without ever listening on it: a probe that
/// listened would, for a moment before pingora binds, accept connections nobody
/// serves and then refuse them (a client that saw the port open gets "refused").
/// With SO_REUSEADDR set like pingora's own socket, a bind conflicts only with a
/// socket that listens on the address, not with connections in TIME_WAIT.
fn probe_bind(addr: std::net::SocketAddr) -> std::io::Result<()> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())
}

/// Serves `config` until SIGTERM (graceful) or SIGINT (fast). Does not return on success.
pub fn run(config: Config, opts: ServeOptions) -> Result<()> {
    outpost_tls::install_crypto_provider();
    // A config error is the answer to give, not a busy port: check before binding.
    crate::snapshot::check_compiled_parts(&config)?;
    // pingora retries a busy address for a while and then panics on a runtime thread,
    // leaving a process that serves nothing. Bind once here to fail fast and clearly.
    // (An upgrade takes the sockets over from the old process instead.)
    for addr in [config.listen.http, config.listen.https]
        .into_iter()
        .flatten()
        .filter(|_| !opts.upgrade)
    {
        probe_bind(addr).map_err(|source| ProxyError::Bind { addr, source })?;
    }
    let control = control_runtime()?;
    let live = Arc::new(Live::new(
        config.clone(),
        control.handle().clone(),
        opts.dev,
    )?);
    let node: Arc<dyn crate::bundle::Node> = live.clone();
    live.bundle_applier.bind(Arc::downgrade(&node));

    let opt = pingora::server::configuration::Opt {
        upgrade: opts.upgrade,
        ..Default::default()
    };
    if opts.upgrade {
        tracing::info!(
            socket = %config.server.upgrade_socket.display(),
            "waiting for the running Outpost's listeners (send it SIGQUIT)"
        );
    }
    let mut server = Server::new_with_opt_and_conf(Some(opt), pingora_server_conf(&config));
    // With `upgrade`, this blocks until the old process sends its listening sockets.
    server.bootstrap();

    let mut proxy = pingora::proxy::http_proxy(&server.configuration, EdgeProxy::new(live.clone()));
    let mut options = HttpServerOptions::default();
    options.h2c = config.listen.h2c;
    options.h2_idle_timeout = Some(config.server.idle_timeout);
    proxy.server_options = Some(options);
    // Connection caps and the request-head deadline sit in front of pingora's app.
    // The app spawns subrequests for work that has no client session (cron triggers).
    let proxy = Arc::new(proxy);
    live.set_subrequest_app(proxy.clone());
    let mut service = pingora::services::listening::Service::new(
        "outpost".to_string(),
        crate::connection::Guarded::new(
            crate::front::FastPath::new(proxy, live.clone()),
            live.clone(),
        ),
    );
    // pingora's default write buffer is one MSS (1460 B), so a head plus a 1 KiB body
    // left in two `send`s — two loopback/NIC wake-ups per small response (perf: two
    // sendto per request). 4 KiB holds the head and a small body: one `send`.
    let buffers = L4BufferSettings::default().write(4096);
    if let Some(addr) = config.listen.http {
        service.add_listener(ListenerConfig::tcp(addr.to_string()).l4_buffer(buffers));
        tracing::info!(%addr, "listening for HTTP");
    }
    if let Some(addr) = config.listen.https {
        // The resolver below supplies every certificate, by SNI; the callback counts
        // handshakes for the metrics.
        let mut tls = TlsSettings::with_callbacks(Box::new(crate::metrics::HandshakeCounter(
            live.metrics.tls_handshakes.clone(),
        )))
        .map_err(|e| ProxyError::Server(e.to_string()))?;
        tls.set_cert_resolver(live.certs.clone());
        tls.enable_h2();
        service.endpoints().set_pre_tls_callback(Arc::new(
            crate::acme_alpn::AlpnChallengeResponder::new(live.acme.challenges().clone()),
        ));
        service.add_listener(
            ListenerConfig::tcp(addr.to_string())
                .tls(tls)
                .l4_buffer(buffers),
        );
        tracing::info!(%addr, names = ?live.certs.current().names(), "listening for HTTPS (h2, http/1.1)");
    }
    server.add_service(service);
    // HTTP/3 beside: its own UDP socket and runtime, its requests fed into `proxy`.
    let _http3 = match config.listen.http3 {
        Some(addr) => Some(crate::http3::start(live.clone(), addr)?),
        None => None,
    };

    control.spawn(health_loop(live.clone()));
    control.spawn(crate::scheduled::run_triggers(live.clone()));
    start_reloader(live.clone(), &control, &opts)?;
    if let Some(admin) = &config.admin {
        crate::admin::start_admin(
            admin.listen,
            admin.token.clone(),
            live.clone(),
            &control,
            // The old process holds the admin port until it exits.
            opts.upgrade
                .then(|| config.server.shutdown_timeout + std::time::Duration::from_secs(30)),
        )?;
    }
    start_drain_watcher(
        live.clone(),
        &control,
        config.server.shutdown_timeout,
        opts.before_exit,
    )?;
    tracing::info!(
        sites = config.sites.len(),
        config = %config.source.display(),
        "outpost started"
    );
    // The control runtime must outlive the server; run_forever exits the process.
    let _control = control;
    server.run_forever()
}
