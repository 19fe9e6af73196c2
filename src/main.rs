//! The `outpost` command line: `run`, `check`, quick `proxy` mode and `cert` helpers.

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod rules_test;

// glibc malloc showed up as ~12% of proxy CPU (malloc/free/consolidate) in perf;
// mimalloc's thread-local free lists suit pingora's many small per-request allocations;
// the wrapper counts heap use per thread for the JS memory limit.
#[global_allocator]
static GLOBAL: alloc::CountingMimalloc = alloc::CountingMimalloc;

mod alloc;
mod dev;
mod logfile;
mod quickstart;

/// Outpost: a CDN edge node in one binary.
///
/// Terminates TLS, picks a site by host, and proxies to origin pools with health
/// checks and failover. Start with `outpost run --config examples/quickstart.yaml`.
#[derive(Debug, Parser)]
#[command(
    name = "outpost",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("OUTPOST_GIT_HASH"), ")"),
    about,
    long_about
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve with a configuration file (SIGHUP reloads it, SIGTERM drains and exits,
    /// SIGQUIT hands the listeners to a new binary started with `--upgrade`).
    ///
    /// Without --config: the built-in quickstart on 127.0.0.1:8080 (admin API on
    /// 127.0.0.1:9090), unpacked to ~/.cache/outpost/quickstart to look at and edit.
    Run {
        /// Main configuration file.
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Also reload when the config file or a certificate file changes.
        #[arg(long)]
        watch: bool,
        /// Zero-downtime binary upgrade: take over the listening sockets of the running
        /// Outpost (sent over `server.upgrade_socket` when it gets SIGQUIT).
        #[arg(short, long)]
        upgrade: bool,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Validate a configuration (and every file it names); print `ok` or the errors.
    ///
    /// Warnings (such as a page rule that can never apply) are printed but do not
    /// fail the check unless --deny-warnings is given.
    Check {
        /// Main configuration file.
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// Exit with an error if there are warnings.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Page rule tools.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Quick mode: put Outpost in front of one origin with no config file.
    ///
    /// Example: outpost proxy --listen 127.0.0.1:8080 --origin http://127.0.0.1:3000
    Proxy(ProxyArgs),
    /// Certificate helpers.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Cluster mode helpers.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Publish the rules files, scripts and secret files this config names to the
    /// cluster (every node, or `--nodes` first for a staged rollout). Each node checks
    /// the bundle's checksum, installs it beside its own config and reloads, or keeps
    /// its previous files if it does not load. Prints each node's outcome; exits 1
    /// unless every node applied it.
    ///
    /// Example: outpost push --config outpost.yaml --nodes fra-1 --message "new rules"
    Push {
        /// Main configuration file (its directory is the bundle's root; its
        /// `cluster.redis` is used).
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// Only these nodes (comma-separated ids); default: every live node.
        #[arg(long, value_name = "ID,…", value_delimiter = ',')]
        nodes: Vec<String>,
        /// A note stored with the bundle and logged by the nodes.
        #[arg(long, default_value = "")]
        message: String,
        /// How long to wait for the nodes' answers.
        #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
        wait: std::time::Duration,
    },
    /// Local development: serve on localhost with debug headers, reload on every save
    /// of the config, rules or scripts, and print requests and console output plainly.
    ///
    /// Example: outpost dev --script worker.js --origin http://127.0.0.1:3000
    Dev(DevArgs),
    /// Read and write KV namespaces (the store named by the config's `kv.path`).
    ///
    /// Works on the file directly, so Outpost must not be running; while it runs, use
    /// the admin API (`PUT /kv/NAMESPACE/KEY`).
    #[command(subcommand)]
    Kv(KvCommand),
    /// Print a shell completion script: `outpost completions bash > /etc/bash_completion.d/outpost`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
struct DevArgs {
    /// A full config file (its listeners are used as they are).
    #[arg(short, long, value_name = "FILE", conflicts_with_all = ["origin", "script", "rules"])]
    config: Option<PathBuf>,
    /// Listen address (without --config).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787")]
    listen: String,
    /// Origin URL (http://HOST:PORT, https://HOST:PORT or static:DIR); repeat for a pool.
    #[arg(long, value_name = "URL", required_unless_present = "config")]
    origin: Vec<String>,
    /// The JS hook to develop (runs for every request).
    #[arg(long, value_name = "FILE")]
    script: Option<PathBuf>,
    /// A page rules file.
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum KvCommand {
    /// Store a value: outpost kv put --config outpost.yaml NAMESPACE KEY VALUE
    Put {
        #[command(flatten)]
        store: KvStoreArgs,
        /// The key.
        key: String,
        /// The value (text; use --file for bytes from a file).
        #[arg(required_unless_present = "file")]
        value: Option<String>,
        /// Read the value from this file.
        #[arg(long, value_name = "FILE", conflicts_with = "value")]
        file: Option<PathBuf>,
        /// Expire after this many seconds (at least 60).
        #[arg(long, value_name = "SECONDS")]
        ttl: Option<u64>,
    },
    /// Print a value.
    Get {
        #[command(flatten)]
        store: KvStoreArgs,
        /// The key.
        key: String,
    },
    /// Delete a key.
    Delete {
        #[command(flatten)]
        store: KvStoreArgs,
        /// The key.
        key: String,
    },
    /// List keys, one per line.
    List {
        #[command(flatten)]
        store: KvStoreArgs,
        /// Only keys starting with this.
        #[arg(long, default_value = "")]
        prefix: String,
    },
}

#[derive(Debug, Args)]
struct KvStoreArgs {
    /// Main configuration file (its `kv.path` names the store).
    #[arg(short, long, value_name = "FILE")]
    config: PathBuf,
    /// The namespace.
    namespace: String,
}

impl KvStoreArgs {
    fn open(&self) -> anyhow::Result<outpost_scripting::KvStore> {
        let cfg = outpost_config::load(&self.config)?;
        if cfg.kv_shared.is_some() {
            bail!(
                "{}: KV lives in the cluster's Redis (kv.backend: redis); use a node's admin API (PUT/GET/DELETE /kv/NAMESPACE/KEY)",
                self.config.display()
            );
        }
        outpost_scripting::KvStore::open(&cfg.kv_path).map_err(|e| {
            anyhow::anyhow!(
                "{e}\n(is Outpost running? while it runs, write through the admin API: PUT /kv/NAMESPACE/KEY)"
            )
        })
    }
}

#[derive(Debug, Args)]
struct ProxyArgs {
    /// Plain HTTP listen address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Origin URL (http://HOST:PORT, https://HOST:PORT or static:DIR); repeat for a pool.
    #[arg(long, value_name = "URL", required = true)]
    origin: Vec<String>,
    /// Also listen for HTTPS on this address (needs --cert and --key).
    #[arg(long, value_name = "ADDR", requires_all = ["cert", "key"])]
    https: Option<String>,
    /// PEM certificate chain for --https.
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// PEM private key for --https.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Memory cache size, e.g. 256MiB (0 with no --cache-dir disables caching).
    #[arg(long, value_name = "SIZE", default_value = "256MiB")]
    cache_memory: String,
    /// Also keep a disk cache tier in this directory (survives restarts).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Disk cache tier size, with --cache-dir.
    #[arg(
        long,
        value_name = "SIZE",
        default_value = "1GiB",
        requires = "cache_dir"
    )]
    cache_disk_size: String,
    /// Admin API address (loopback only in quick mode, no token): purge, stats, status.
    #[arg(long, value_name = "ADDR")]
    admin: Option<String>,
    /// Page rules file (YAML); patterns may start with `/` to match any host.
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// JS hook (Workers module) run for every request; it answers the request itself.
    #[arg(long, value_name = "FILE")]
    script: Option<PathBuf>,
    /// CPU time the hook may use per request (`server.script_cpu_limit`), e.g. 200ms.
    #[arg(long, value_name = "DURATION", requires = "script")]
    script_cpu_limit: Option<String>,
    #[command(flatten)]
    log: LogArgs,
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Explain which page rule applies to a URL and what it does.
    ///
    /// Example: outpost rules test --config outpost.yaml https://example.com/static/a.css
    Test {
        /// Main configuration file.
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// The request URL (`http://` is assumed when no scheme is given).
        #[arg(value_name = "URL")]
        url: String,
        /// Request method.
        #[arg(long, short = 'X', value_name = "METHOD", default_value = "GET")]
        method: String,
        /// A request header, `Name: value`; repeat for more.
        #[arg(long, short = 'H', value_name = "K:V")]
        header: Vec<String>,
        /// The client address, for `client_ip` conditions.
        #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
        client_ip: std::net::IpAddr,
    },
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// List the live nodes in the config's cluster (from its Redis registry): id,
    /// region, tier, address, config version and when each was last heard from.
    Status {
        /// Main configuration file (its `cluster.redis` is read).
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CertCommand {
    /// Write a self-signed certificate and key for development.
    SelfSigned {
        /// Host names (or IP addresses) the certificate covers; `*.example.com` allowed.
        #[arg(required = true, value_name = "HOST")]
        hosts: Vec<String>,
        /// Where to write the certificate.
        #[arg(long, value_name = "FILE", default_value = "outpost-cert.pem")]
        cert: PathBuf,
        /// Where to write the private key (mode 0600).
        #[arg(long, value_name = "FILE", default_value = "outpost-key.pem")]
        key: PathBuf,
    },
    /// List the certificates a config serves (files and ACME), their issuers and
    /// expiry. Reads the files and the ACME storage; needs no running server.
    Status {
        /// Main configuration file.
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
}

#[derive(Debug, Args)]
struct LogArgs {
    /// Log format (overrides log.format in the config).
    #[arg(long, value_enum, value_name = "FORMAT")]
    log_format: Option<LogFormatArg>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

/// The background log writer's guard; dropping it flushes buffered lines.
static LOG_GUARD: std::sync::Mutex<Option<tracing_appender::non_blocking::WorkerGuard>> =
    std::sync::Mutex::new(None);

/// Flushes buffered log lines; called before the process exits after a drain.
fn flush_logs() {
    let guard = LOG_GUARD.lock().map(|mut g| g.take()).unwrap_or(None);
    drop(guard);
}

/// Stderr through a writer thread; its guard is kept for [`flush_logs`].
///
/// Request threads hand log lines to a writer thread instead of writing to stderr
/// themselves (a synchronous write per access-log line cost ~20% of throughput).
/// Not lossy: if the writer falls behind by 128k lines, logging applies backpressure
/// rather than silently dropping access-log lines.
fn log_writer() -> tracing_appender::non_blocking::NonBlocking {
    // Buffered: the writer thread flushes after each batch it drains.
    non_blocking(std::io::BufWriter::with_capacity(
        64 << 10,
        std::io::stderr(),
    ))
}

/// Log lines are formatted on the thread that logs and written by a dedicated thread,
/// so request tasks never wait on the terminal or the disk.
fn non_blocking(
    out: impl std::io::Write + Send + 'static,
) -> tracing_appender::non_blocking::NonBlocking {
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("outpost-log")
        .finish(out);
    if let Ok(mut slot) = LOG_GUARD.lock() {
        *slot = Some(guard);
    }
    writer
}

fn init_logging(format: outpost_config::LogFormat, level: &str, file: Option<&Path>) {
    use tracing_subscriber::EnvFilter;
    // pingora logs a line per retried or failed upstream attempt at warn; keep them,
    // they are what an operator needs when an origin misbehaves.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let (writer, ansi) = match file.map(logfile::LogFile::open) {
        Some(Ok(f)) => {
            logfile::reopen_on_sigusr1(f.clone());
            (non_blocking(f), false)
        }
        Some(Err(e)) => {
            eprintln!("cannot open the log file ({e}); logging to stderr");
            (log_writer(), false)
        }
        None => (
            log_writer(),
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
        ),
    };
    let out = writer.clone();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    let installed = match format {
        outpost_config::LogFormat::Json => builder.json().flatten_event(true).try_init(),
        outpost_config::LogFormat::Text => builder.try_init(),
    };
    if installed.is_ok() && !ansi {
        // Access-log lines skip `tracing`'s formatter (the same line, made cheaply; see
        // `outpost_proxy::access_log`) into the same writer as every other line.
        outpost_proxy::access_log::write_directly(format, move |line| {
            let _ = std::io::Write::write_all(&mut out.clone(), line);
        });
    }
}

fn log_format(
    arg: Option<LogFormatArg>,
    config: outpost_config::LogFormat,
) -> outpost_config::LogFormat {
    match arg {
        Some(LogFormatArg::Json) => outpost_config::LogFormat::Json,
        Some(LogFormatArg::Text) => outpost_config::LogFormat::Text,
        None => config,
    }
}

fn serve(
    config: outpost_config::Config,
    log: &LogArgs,
    opts: outpost_proxy::ServeOptions,
) -> anyhow::Result<()> {
    init_logging(
        log_format(log.log_format, config.log.format),
        &config.log.level,
        config.log.file.as_deref(),
    );
    outpost_proxy::run(config, opts)?;
    Ok(())
}

/// Quick mode builds the same YAML a user would write, so it is validated the same way.
fn quick_config(args: &ProxyArgs) -> anyhow::Result<outpost_config::Config> {
    let yaml = quick_yaml(args);
    let cwd = std::env::current_dir().context("current directory")?;
    Ok(outpost_config::load_str(
        &yaml,
        &cwd.join("<outpost proxy flags>"),
    )?)
}

/// The config quick mode's flags stand for (file paths made absolute).
fn quick_yaml(args: &ProxyArgs) -> String {
    let q = |s: &str| serde_json_escape(s);
    let mut yaml = format!("listen:\n  http: {}\n", q(&args.listen));
    if let (Some(https), Some(cert), Some(key)) = (&args.https, &args.cert, &args.key) {
        let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        yaml.push_str(&format!("  https: {}\n", q(https)));
        yaml.push_str(&format!(
            "tls:\n  certificates:\n    - cert: {}\n      key: {}\n",
            q(&abs(cert).to_string_lossy()),
            q(&abs(key).to_string_lossy())
        ));
    }
    yaml.push_str(&format!("cache:\n  memory: {}\n", q(&args.cache_memory)));
    if let Some(dir) = &args.cache_dir {
        let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
        yaml.push_str(&format!(
            "  disk: {{ path: {}, size: {} }}\n",
            q(&abs.to_string_lossy()),
            q(&args.cache_disk_size)
        ));
    }
    if let Some(admin) = &args.admin {
        yaml.push_str(&format!("admin:\n  listen: {}\n", q(admin)));
    }
    if let Some(limit) = &args.script_cpu_limit {
        yaml.push_str(&format!("server:\n  script_cpu_limit: {}\n", q(limit)));
    }
    yaml.push_str("sites:\n  - name: quick\n    default: true\n    origins:\n");
    for o in &args.origin {
        yaml.push_str(&format!("      - {}\n", q(o)));
    }
    if let Some(rules) = &args.rules {
        let abs = std::path::absolute(rules).unwrap_or_else(|_| rules.clone());
        yaml.push_str(&format!("    rules: {}\n", q(&abs.to_string_lossy())));
    }
    if let Some(script) = &args.script {
        let abs = std::path::absolute(script).unwrap_or_else(|_| script.clone());
        yaml.push_str(&format!("    script: {}\n", q(&abs.to_string_lossy())));
    }
    yaml
}

fn dev_command(args: DevArgs) -> anyhow::Result<()> {
    // With flags, dev mode writes the config they stand for to a file of its own, so the
    // usual --watch machinery reloads it (and the rules and script it names) on save.
    let config = match args.config {
        Some(c) => c,
        None => {
            #[derive(Parser)]
            struct Quick {
                #[command(flatten)]
                args: ProxyArgs,
            }
            let quick = Quick::try_parse_from(
                [
                    "outpost-proxy",
                    "--listen",
                    &args.listen,
                    "--cache-memory",
                    "64MiB",
                ]
                .into_iter()
                .map(String::from)
                .chain(
                    args.origin
                        .iter()
                        .flat_map(|o| ["--origin".to_string(), o.clone()]),
                )
                .chain(
                    args.script
                        .iter()
                        .flat_map(|s| ["--script".to_string(), s.display().to_string()]),
                )
                .chain(
                    args.rules
                        .iter()
                        .flat_map(|r| ["--rules".to_string(), r.display().to_string()]),
                ),
            )?
            .args;
            let dir = std::env::temp_dir().join(format!("outpost-dev-{}", std::process::id()));
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let file = dir.join("outpost-dev.yaml");
            let yaml = format!(
                "# written by `outpost dev` from its flags\n{}log: {{ access_log: true, level: info }}\n",
                quick_yaml(&quick)
            );
            std::fs::write(&file, yaml).with_context(|| format!("writing {}", file.display()))?;
            file
        }
    };
    let cfg = outpost_config::load(&config)?;
    init_dev_logging(&cfg.log.level);
    let addrs: Vec<String> = [
        cfg.listen.http.map(|a| format!("http://{a}")),
        cfg.listen.https.map(|a| format!("https://{a}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    eprintln!(
        "outpost dev: serving on {}; watching {} file(s) for changes (Ctrl-C to stop)",
        addrs.join(" and "),
        cfg.files.len()
    );
    for w in &cfg.warnings {
        eprintln!("warning: {w}");
    }
    let opts = outpost_proxy::ServeOptions {
        watch: true,
        no_config_file: false,
        before_exit: Some(flush_logs),
        dev: true,
        upgrade: false,
    };
    outpost_proxy::run(cfg, opts)?;
    Ok(())
}

/// Logging for `outpost dev`: one plain line per request and per console call.
fn init_dev_logging(level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{level},outpost::script=debug,pingora_core=warn,pingora_cache=error"
        ))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(log_writer())
        .event_format(dev::DevFormat)
        .try_init();
}

/// Quotes a string for YAML (a JSON string is a valid YAML flow scalar).
fn serde_json_escape(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn main() -> ExitCode {
    outpost_scripting::memory::enable();
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run {
            config,
            watch,
            upgrade,
            log,
        } => {
            let config = match config {
                Some(config) => config,
                None => {
                    let config = quickstart::unpack(&quickstart::default_dir())?;
                    eprintln!(
                        "no --config: serving the built-in quickstart on http://127.0.0.1:8080/ \
                         (its files: {}; edit a copy and pass it with --config)",
                        config.parent().unwrap_or(&config).display()
                    );
                    config
                }
            };
            let cfg = outpost_config::load(&config)?;
            for w in &cfg.warnings {
                eprintln!("warning: {w}");
            }
            let opts = outpost_proxy::ServeOptions {
                watch,
                no_config_file: false,
                before_exit: Some(flush_logs),
                dev: false,
                upgrade,
            };
            serve(cfg, &log, opts)
        }
        Command::Check {
            config,
            deny_warnings,
        } => {
            let cfg = outpost_config::load(&config)?;
            outpost_proxy::html::check_selectors(&cfg)?;
            outpost_proxy::check_image_rules(&cfg)?;
            outpost_tls::install_crypto_provider();
            let sources = outpost_proxy::snapshot::cert_sources(&cfg);
            outpost_tls::CertIndex::load(&sources)?;
            // An expired certificate loads fine and fails every handshake: say so.
            let now = std::time::SystemTime::now();
            for src in &sources {
                let cert = outpost_tls::acme::read_pair(&src.cert, &src.key)?;
                match cert.not_after.duration_since(now) {
                    Err(_) => bail!(
                        "{}: certificate expired on {}",
                        src.cert.display(),
                        humantime::format_rfc3339_seconds(cert.not_after)
                    ),
                    Ok(left) if left < std::time::Duration::from_secs(14 * 86_400) => eprintln!(
                        "warning: {}: certificate expires in {} days ({})",
                        src.cert.display(),
                        left.as_secs() / 86_400,
                        humantime::format_rfc3339_seconds(cert.not_after)
                    ),
                    Ok(_) => {}
                }
                // Stapling an expired response can fail handshakes in strict clients.
                if let (Some(ocsp), Some(path)) = (outpost_tls::check_ocsp(src)?, &src.ocsp)
                    && let Some(next) = ocsp.next_update
                    && next < now
                {
                    bail!(
                        "{}: OCSP response expired on {} (refresh the file; until then it is not stapled)",
                        path.display(),
                        humantime::format_rfc3339_seconds(next)
                    );
                }
            }
            let scripts = outpost_proxy::snapshot::scripts(&cfg);
            let limits = outpost_scripting::Limits::default();
            let mut broken = Vec::new();
            for s in &scripts {
                if let Err(e) = outpost_scripting::ScriptEngine::compile_check(s, &limits) {
                    broken.push(e.to_string());
                }
            }
            if !broken.is_empty() {
                bail!("{}", broken.join("\n"));
            }
            for w in &cfg.warnings {
                eprintln!("warning: {w}");
            }
            if deny_warnings && !cfg.warnings.is_empty() {
                bail!(
                    "{} warning(s) and --deny-warnings was given",
                    cfg.warnings.len()
                );
            }
            let rules: usize = cfg.sites.iter().map(|s| s.rules.len()).sum();
            let profiles: usize = cfg.sites.iter().map(|s| s.html_profiles.len()).sum();
            let plural = |n: usize| if n == 1 { "" } else { "s" };
            println!(
                "ok: {} ({} site{}, {} page rule{}, {} script{}, {} HTML profile{}, {} certificate{})",
                config.display(),
                cfg.sites.len(),
                plural(cfg.sites.len()),
                rules,
                plural(rules),
                scripts.len(),
                plural(scripts.len()),
                profiles,
                plural(profiles),
                sources.len(),
                plural(sources.len()),
            );
            Ok(())
        }
        Command::Kv(cmd) => kv_command(cmd),
        Command::Dev(args) => dev_command(args),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            // Into memory first: clap_complete panics on a failed write (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "outpost", &mut script);
            use std::io::Write;
            let _ = std::io::stdout().write_all(&script);
            Ok(())
        }
        Command::Rules(RulesCommand::Test {
            config,
            url,
            method,
            header,
            client_ip,
        }) => {
            let cfg = outpost_config::load(&config)?;
            print!(
                "{}",
                rules_test::explain(&cfg, &url, &method, &header, client_ip)?
            );
            Ok(())
        }
        Command::Proxy(args) => {
            let cfg = quick_config(&args)?;
            let opts = outpost_proxy::ServeOptions {
                watch: false,
                no_config_file: true,
                before_exit: Some(flush_logs),
                dev: false,
                upgrade: false,
            };
            serve(cfg, &args.log, opts)
        }
        Command::Cert(CertCommand::Status { config }) => cert_status(&config),
        Command::Cluster(ClusterCommand::Status { config, json }) => cluster_status(&config, json),
        Command::Push {
            config,
            nodes,
            message,
            wait,
        } => push(&config, &nodes, message, wait),
        Command::Cert(CertCommand::SelfSigned { hosts, cert, key }) => {
            let names: Vec<&str> = hosts.iter().map(String::as_str).collect();
            if names.is_empty() {
                bail!("name at least one host");
            }
            let pair = outpost_tls::self_signed(&names)?;
            pair.write(&cert, &key)?;
            println!(
                "wrote {} and {} for {}",
                cert.display(),
                key.display(),
                names.join(", ")
            );
            Ok(())
        }
    }
}

/// `outpost cert status`: one line per certificate, in config order: configured
/// files first, then each ACME site's stored certificate.
fn push(
    path: &Path,
    nodes: &[String],
    message: String,
    wait: std::time::Duration,
) -> anyhow::Result<()> {
    // The same checks as `outpost check`: a bundle that does not load here is not sent.
    let cfg = outpost_config::load(path)?;
    let Some(cluster) = &cfg.cluster else {
        bail!("{}: no `cluster:` section to push to", path.display());
    };
    let limits = outpost_scripting::Limits::default();
    for s in outpost_proxy::snapshot::scripts(&cfg) {
        outpost_scripting::ScriptEngine::compile_check(s, &limits)?;
    }
    let dir = cfg
        .source
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut files = Vec::new();
    for file in cfg.files.iter().skip(1) {
        let Ok(rel) = file.strip_prefix(&dir) else {
            bail!(
                "{}: outside the config's directory {}; a bundle carries files by relative path",
                file.display(),
                dir.display()
            );
        };
        let content = std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        let path = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if !files
            .iter()
            .any(|f: &outpost_cluster::BundleFile| f.path == path)
        {
            files.push(outpost_cluster::BundleFile {
                path,
                content,
                secret: cfg.secret_files.contains(file),
            });
        }
    }
    if files.is_empty() {
        bail!(
            "{}: names no rules files, scripts or secret files to push",
            path.display()
        );
    }
    let bundle = outpost_cluster::Bundle::new(files, message, cluster.secret_key.as_ref())?;
    let targets = (!nodes.is_empty()).then_some(nodes);
    let results = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(outpost_cluster::push(
            &cluster.redis,
            &bundle,
            targets,
            wait,
        ))?;
    println!(
        "bundle {} ({} files) to {}",
        &bundle.version[..16],
        bundle.files.len(),
        targets.map_or_else(|| "every node".to_string(), |t| t.join(", "))
    );
    let mut all_applied = !results.is_empty();
    for r in &results {
        println!("  {:<20} {}", r.node, r.outcome);
        all_applied &= r.outcome == "applied";
    }
    if !all_applied {
        bail!("not applied everywhere (nodes that refused keep their previous files)");
    }
    Ok(())
}

fn cluster_status(path: &Path, json: bool) -> anyhow::Result<()> {
    let cfg = outpost_config::load(path)?;
    let Some(cluster) = &cfg.cluster else {
        bail!(
            "{}: no `cluster:` section; this node runs alone",
            path.display()
        );
    };
    let nodes = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(outpost_cluster::list_nodes(&cluster.redis))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&nodes)?);
        return Ok(());
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    println!(
        "{:<20} {:<10} {:<6} {:<22} {:<17} {:<13} {:>9} {:>8}",
        "NODE", "REGION", "TIER", "ADDRESS", "CONFIG", "BUNDLE", "UP", "SEEN"
    );
    for n in &nodes {
        println!(
            "{:<20} {:<10} {:<6} {:<22} {:<17} {:<13} {:>8}s {:>6}s ago",
            n.id,
            if n.region.is_empty() { "-" } else { &n.region },
            n.tier,
            n.advertise
                .map_or_else(|| "-".to_string(), |a| a.to_string()),
            n.version.get(..16).unwrap_or(&n.version),
            n.bundle
                .as_deref()
                .map_or("-", |b| b.get(..12).unwrap_or(b)),
            now.saturating_sub(n.started),
            now.saturating_sub(n.seen),
        );
    }
    println!("{} node(s) live", nodes.len());
    Ok(())
}

fn cert_status(path: &Path) -> anyhow::Result<()> {
    let cfg = outpost_config::load(path)?;
    outpost_tls::install_crypto_provider();
    let now = std::time::SystemTime::now();
    let describe = |r: outpost_tls::Result<outpost_tls::acme::StoredCert>| match r {
        Ok(c) => {
            let left = match c.not_after.duration_since(now) {
                Ok(d) => format!("{} days left", d.as_secs() / 86_400),
                Err(_) => "EXPIRED".to_string(),
            };
            format!(
                "{}  issuer: {}  expires {} ({left})",
                c.names.join(","),
                c.issuer,
                humantime::format_rfc3339_seconds(c.not_after)
            )
        }
        Err(e) => format!("UNUSABLE: {e}"),
    };
    let mut lines = 0;
    for c in &cfg.tls.certificates {
        println!(
            "file  {}  {}",
            c.cert.display(),
            describe(outpost_tls::acme::read_pair(&c.cert, &c.key))
        );
        lines += 1;
    }
    for site in &cfg.sites {
        let Some(acme) = &site.acme else { continue };
        let state = match outpost_tls::acme::load_stored(&cfg.tls.acme.storage, &acme.names) {
            Ok(Some(c)) => describe(Ok(c)),
            Ok(None) => format!(
                "{}  not issued yet (storage {})",
                acme.names.join(","),
                cfg.tls.acme.storage.display()
            ),
            Err(e) => format!("UNUSABLE, will be re-issued: {e}"),
        };
        println!(
            "acme  {}  {state}  [{}]",
            acme.directory_url,
            acme.challenge.name()
        );
        lines += 1;
    }
    if lines == 0 {
        println!("no certificates configured");
    }
    Ok(())
}

fn kv_command(cmd: KvCommand) -> anyhow::Result<()> {
    match cmd {
        KvCommand::Put {
            store,
            key,
            value,
            file,
            ttl,
        } => {
            let bytes = match (value, file) {
                (_, Some(f)) => std::fs::read(&f)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?,
                (Some(v), None) => v.into_bytes(),
                (None, None) => anyhow::bail!("give a VALUE or --file"),
            };
            let expires = match ttl {
                Some(t) if t < 60 => anyhow::bail!("--ttl must be at least 60 seconds"),
                Some(t) => Some(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)?
                        .as_secs_f64()
                        + t as f64,
                ),
                None => None,
            };
            store.open()?.put(&store.namespace, &key, &bytes, expires)?;
            Ok(())
        }
        KvCommand::Get { store, key } => match store.open()?.get(&store.namespace, &key)? {
            Some(v) => {
                use std::io::Write;
                std::io::stdout().write_all(&v)?;
                Ok(())
            }
            None => anyhow::bail!("no key {key:?} in namespace {:?}", store.namespace),
        },
        KvCommand::Delete { store, key } => {
            store.open()?.delete(&store.namespace, &key)?;
            Ok(())
        }
        KvCommand::List { store, prefix } => {
            let kv = store.open()?;
            let mut cursor = String::new();
            loop {
                let page = kv.list(&store.namespace, &prefix, &cursor, 1000)?;
                for k in &page.keys {
                    println!("{}", k.name);
                }
                match page.cursor {
                    Some(c) => cursor = c,
                    None => return Ok(()),
                }
            }
        }
    }
}
