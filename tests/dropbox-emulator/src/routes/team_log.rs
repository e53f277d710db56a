//! `team_log/get_events` and `team_log/get_events/continue`.
//!
//! Events come oldest first. A cursor remembers the filters and the position in the log, so
//! continuing it later returns the events logged since (an empty page with the same cursor
//! when nothing happened): an incremental consumer polls it, as Dropbox documents.

use super::{Call, CursorArg, Reply};
use crate::app::App;
use crate::audit::AuditEvent;
use crate::errors::ApiError;
use crate::state::World;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// `EventCategory` tags Dropbox defines.
const CATEGORIES: [&str; 26] = [
    "admin_alerting",
    "apps",
    "comments",
    "dash",
    "data_governance",
    "devices",
    "domains",
    "encryption",
    "file_operations",
    "file_requests",
    "groups",
    "logins",
    "members",
    "paper",
    "passwords",
    "protect",
    "reports",
    "sharing",
    "showcase",
    "signatures",
    "sso",
    "team_folders",
    "team_policies",
    "team_profile",
    "tfa",
    "trusted_teams",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeRange {
    #[serde(default)]
    start_time: Option<String>,
    #[serde(default)]
    end_time: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GetEventsArg {
    #[serde(default = "thousand")]
    limit: usize,
    #[serde(default)]
    account_id: Option<String>,
    #[serde(default)]
    time: Option<TimeRange>,
    #[serde(default)]
    category: Option<Value>,
    #[serde(default)]
    event_type: Option<Value>,
}

fn thousand() -> usize {
    1000
}

#[derive(Serialize, Deserialize)]
struct EventsCursor {
    /// Next log position to look at.
    p: usize,
    /// Page size.
    l: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    acc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cat: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ty: Option<String>,
}

impl EventsCursor {
    fn encode(&self) -> String {
        format!(
            "TL{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
        )
    }

    fn decode(s: &str) -> Option<Self> {
        let raw = URL_SAFE_NO_PAD.decode(s.strip_prefix("TL")?).ok()?;
        serde_json::from_slice(&raw).ok()
    }

    fn wants(&self, e: &AuditEvent) -> bool {
        self.cat.as_deref().is_none_or(|c| c == e.category)
            && self.ty.as_deref().is_none_or(|t| t == e.event_type)
            && self.acc.as_ref().is_none_or(|a| e.accounts.contains(a))
            && self.from.is_none_or(|f| e.time >= f)
            && self.to.is_none_or(|t| e.time < t)
    }
}

fn union_tag(call: &Call, field: &str, v: &Value) -> Result<String, ApiError> {
    v.get(".tag")
        .and_then(Value::as_str)
        .or(v.as_str())
        .map(str::to_string)
        .ok_or_else(|| call.bad_field(field, "expected a union with a .tag"))
}

fn time(call: &Call, field: &str, s: &Option<String>) -> Result<Option<i64>, ApiError> {
    match s {
        None => Ok(None),
        Some(s) => crate::clock::parse(s)
            .map(Some)
            .ok_or_else(|| call.bad_field(field, format!("'{s}' is not a valid timestamp"))),
    }
}

fn parse(call: &Call, world: &World) -> Result<EventsCursor, ApiError> {
    let a: GetEventsArg = call.arg()?;
    if !(1..=1000).contains(&a.limit) {
        return Err(call.bad_field(
            "limit",
            format!("{} is not within range [1, 1000]", a.limit),
        ));
    }
    let cat = a
        .category
        .as_ref()
        .map(|v| union_tag(call, "category", v))
        .transpose()?;
    if let Some(c) = &cat
        && !CATEGORIES.contains(&c.as_str())
    {
        return Err(call.bad_field("category", format!("unknown tag '{c}'")));
    }
    let ty = a
        .event_type
        .as_ref()
        .map(|v| union_tag(call, "event_type", v))
        .transpose()?;
    if cat.is_some() && ty.is_some() {
        return Err(ApiError::route("invalid_filters"));
    }
    let (from, to) = match &a.time {
        Some(t) => (
            time(call, "time.start_time", &t.start_time)?,
            time(call, "time.end_time", &t.end_time)?,
        ),
        None => (None, None),
    };
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(ApiError::route("invalid_time_range"));
    }
    if let Some(acc) = &a.account_id
        && world.account_by_id(acc).is_none()
    {
        return Err(ApiError::route("account_id_not_found"));
    }
    Ok(EventsCursor {
        p: 0,
        l: a.limit,
        acc: a.account_id,
        from,
        to,
        cat,
        ty,
    })
}

/// Route entry for `team_log/*`.
pub fn dispatch(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let world = app.read_world();
    if world.team.is_none() {
        return Err(ApiError::bad(
            call.route,
            "This API function operates on an entire Dropbox Business team, but the OAuth 2 access token you provided is for a single Dropbox account.",
        ));
    }
    let mut cur = match call.route {
        "team_log/get_events" => parse(call, &world)?,
        "team_log/get_events/continue" => {
            let a: CursorArg = call.arg()?;
            EventsCursor::decode(&a.cursor)
                .filter(|c| c.p <= world.events.len())
                .ok_or_else(|| ApiError::route("bad_cursor"))?
        }
        _ => return Err(ApiError::Status(404, "Unknown API function".into())),
    };
    let mut events = Vec::new();
    let mut p = cur.p;
    while p < world.events.len() && events.len() < cur.l {
        let e = &world.events[p];
        p += 1;
        if cur.wants(e) {
            events.push(e.json.clone());
        }
    }
    cur.p = p;
    let has_more = world.events[p..].iter().any(|e| cur.wants(e));
    Ok(Reply::Json(json!({
        "events": events,
        "cursor": cur.encode(),
        "has_more": has_more,
    })))
}
