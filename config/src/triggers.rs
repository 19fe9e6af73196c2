//! `sites[].triggers`: cron expressions that run the site's script's `scheduled`
//! handler (Workers Cron Triggers).

use crate::locate::Seg::{Index, Key};
use crate::validator::Validator;
use serde::Deserialize;
use std::str::FromStr;

/// One cron trigger: the expression as written (what the handler sees as
/// `controller.cron`) and its parsed form.
#[derive(Debug, Clone)]
pub struct CronTrigger {
    /// As written in the config.
    pub pattern: String,
    /// Parsed: five fields (minute granularity, as Workers), or six with seconds first
    /// (an Outpost extension); evaluated in UTC.
    pub schedule: croner::Cron,
}

/// `sites[].triggers` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTriggers {
    #[serde(default)]
    pub crons: Vec<String>,
}

/// Validates `sites[i].triggers`: every expression must parse, and a site with
/// triggers needs a script.
pub(crate) fn site_triggers(
    v: &mut Validator<'_>,
    raw: Option<&RawTriggers>,
    has_script: bool,
    i: usize,
) -> Vec<CronTrigger> {
    let Some(raw) = raw else {
        return Vec::new();
    };
    let at = |k: usize| {
        [
            Key("sites"),
            Index(i),
            Key("triggers"),
            Key("crons"),
            Index(k),
        ]
    };
    let mut out = Vec::with_capacity(raw.crons.len());
    for (k, pattern) in raw.crons.iter().enumerate() {
        match croner::Cron::from_str(pattern.trim()) {
            Ok(schedule) => out.push(CronTrigger {
                pattern: pattern.trim().to_string(),
                schedule,
            }),
            Err(e) => v.report(
                &at(k),
                format!("{pattern:?} is not a cron expression ({e}); five fields: minute hour day-of-month month day-of-week, e.g. \"*/15 * * * *\""),
            ),
        }
    }
    if !out.is_empty() && !has_script {
        v.report(
            &[Key("sites"), Index(i), Key("triggers")],
            "cron triggers run the site's script (`script:`), and this site has none",
        );
    }
    out
}
