//! Cron triggers (Workers Cron Triggers): each site's script's `scheduled` handler runs
//! when one of the site's cron expressions is due (UTC), under the same limits as a
//! request, with its own log line and metric. `outpost dev` can also run one by hand.

use crate::site::Site;
use crate::snapshot::Live;
use chrono::{DateTime, TimeZone, Utc};
use outpost_config::CronTrigger;
use outpost_scripting::{Answer, HookRequest, Scheduled};
use std::sync::Arc;
use std::time::Duration;

/// Where `outpost dev` runs a site's `scheduled` handler by hand (`?cron=…` picks the
/// trigger; without it, the site's first one).
pub(crate) const DEV_TRIGGER_PATH: &str = "/cdn-cgi/handler/scheduled";

/// Seconds a late tick still catches up (a stalled control thread, a suspended
/// machine): beyond that, missed runs are skipped, as Workers skip them.
const CATCH_UP: i64 = 60;

/// Checks every second, for every site of the current config, which cron triggers are
/// due, and runs each on its own task. Runs until the process ends.
pub(crate) async fn run_triggers(live: Arc<Live>) {
    let mut checked = Utc::now().timestamp();
    loop {
        // Wake just after the next whole second.
        let now = Utc::now();
        let to_next = 1_000 - i64::from(now.timestamp_subsec_millis()) + 5;
        tokio::time::sleep(Duration::from_millis(to_next.max(1) as u64)).await;
        let now = Utc::now().timestamp();
        let snapshot = live.snapshot();
        let sites = snapshot.sites.all();
        if sites.iter().all(|s| s.crons.is_empty()) {
            checked = now;
            continue;
        }
        for second in (checked + 1).max(now - CATCH_UP)..=now {
            let Some(at) = Utc.timestamp_opt(second, 0).single() else {
                continue;
            };
            for (site, config) in sites.iter().zip(&snapshot.config.sites) {
                for trigger in &site.crons {
                    if trigger.schedule.is_time_matching(&at).unwrap_or(false) {
                        let host = host_of(config);
                        tokio::spawn(run_one(
                            live.clone(),
                            site.clone(),
                            host,
                            trigger.clone(),
                            at,
                        ));
                    }
                }
            }
        }
        checked = now;
    }
}

/// The host a site's scheduled runs are addressed to (their request's URL, and the
/// host their `fetch()` calls count as "this site").
pub(crate) fn host_of(config: &outpost_config::SiteConfig) -> String {
    config
        .hosts
        .iter()
        .find_map(|h| match h {
            outpost_config::HostPattern::Exact(n) => Some(n.clone()),
            outpost_config::HostPattern::Wildcard(_) => None,
        })
        .unwrap_or_else(|| "localhost".to_string())
}

/// Runs `trigger` of `site` once (due `at`); returns the outcome (`ok` or the
/// failure's kind) and, for a failure, the error.
pub(crate) async fn run_one(
    live: Arc<Live>,
    site: Arc<Site>,
    host: String,
    trigger: CronTrigger,
    at: DateTime<Utc>,
) -> (&'static str, Option<String>) {
    let Some(script) = site.script.clone() else {
        return ("no-script", Some("the site has no script".into()));
    };
    let name = script.name.to_string();
    let started = std::time::Instant::now();
    let result = run_handler(&live, &site, &host, script, &trigger, at).await;
    let (outcome, error) = match &result {
        Ok(()) => ("ok", None),
        Err(e) => (e.kind(), Some(e.to_string())),
    };
    live.metrics
        .scheduled
        .with_label_values(&[&name, &trigger.pattern, outcome])
        .inc();
    let ms = started.elapsed().as_millis() as u64;
    match &error {
        None => {
            tracing::info!(script = %name, cron = %trigger.pattern, ms, "scheduled handler ran")
        }
        Some(e) => {
            tracing::warn!(script = %name, cron = %trigger.pattern, ms, outcome, error = %e, "scheduled handler failed")
        }
    }
    (outcome, error)
}

async fn run_handler(
    live: &Arc<Live>,
    site: &Arc<Site>,
    host: &str,
    script: outpost_config::ScriptFile,
    trigger: &CronTrigger,
    at: DateTime<Utc>,
) -> Result<(), outpost_scripting::ScriptError> {
    let engine = live
        .script_engine()
        .map_err(|_| outpost_scripting::ScriptError::Unavailable)?;
    let id: Arc<str> = live.new_request_id();
    let url = format!("http://{host}/cdn-cgi/handler/scheduled");
    let mut request = http::Request::new(bytes::Bytes::new());
    // (Site hosts were validated with the config: the URL parses.)
    *request.uri_mut() = url.parse().unwrap_or_default();
    // Its `fetch()` goes where a request's would: this node's sites through the
    // pipeline (once serving started), other hosts under the site's egress policy.
    let fetcher = live.subrequest_spawner().map(|spawner| {
        Arc::new(crate::subrequest::PipelineFetcher::new(
            live.clone(),
            spawner,
            (None, (host.to_string(), 80)),
            Vec::new(),
            script.path.clone(),
            (id.clone(), site.egress.clone(), site.pool.clone()),
        )) as Arc<dyn outpost_scripting::Fetcher>
    });
    let hook = HookRequest {
        request,
        stream: None,
        cf: outpost_scripting::Cf {
            http_protocol: "HTTP/1.1".into(),
            scheduled: Some(Scheduled {
                cron: trigger.pattern.clone(),
                scheduled_time_ms: at.timestamp_millis() as f64,
            }),
            ..Default::default()
        },
        fetcher,
        id,
    };
    match engine.run(script, site.env.clone(), hook).await? {
        Answer::Respond(_) => Ok(()),
        Answer::PassThrough(e) => Err(e),
    }
}

/// `outpost dev`'s `GET /cdn-cgi/handler/scheduled?cron=…`: runs the handler now and
/// says how it went (status and text, the error in full: this is development mode).
pub(crate) async fn run_by_hand(
    live: Arc<Live>,
    site: Arc<Site>,
    host: &str,
    query: &str,
) -> (u16, String) {
    let wanted = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "cron")
        .map(|(_, v)| v.trim().to_string());
    let trigger = match &wanted {
        Some(w) => site
            .crons
            .iter()
            .find(|t| &t.pattern == w)
            .cloned()
            .or_else(|| {
                use std::str::FromStr;
                croner::Cron::from_str(w).ok().map(|schedule| CronTrigger {
                    pattern: w.clone(),
                    schedule,
                })
            }),
        None => site.crons.first().cloned(),
    };
    let Some(trigger) = trigger else {
        return (
            400,
            "400 Bad Request: give ?cron=EXPRESSION (this site has no cron triggers)\n".into(),
        );
    };
    match run_one(live, site, host.to_string(), trigger.clone(), Utc::now()).await {
        (_, None) => (
            200,
            format!("scheduled handler ran for {:?}\n", trigger.pattern),
        ),
        (outcome, Some(e)) => (500, format!("scheduled handler failed ({outcome}): {e}\n")),
    }
}
