//! Everything the template source does, as plain Rust that compiles and is tested natively.
//!
//! The source indexes a JSON array of items. The array is either given inline in the config
//! (`items`) or served by an HTTP API (`url`), which may split it into pages:
//!
//! ```json
//! [{"id": "1", "title": "Hello"}]                                   // one page
//! {"items": [{"id": "1", "title": "Hello"}], "next": "/items?page=2"} // one of several
//! ```
//!
//! Every item needs an `id`. An item with a `content_url` gets a content request: the host
//! downloads that URL later and extracts its text, skipping the download when the item's
//! `version` (or `updated`) is the one already indexed.
//!
//! Nothing here touches the WIT bindings: `lib.rs` converts at the edge. That split is what
//! lets `cargo test` run this file natively, with a scripted [`Host`] instead of the runner.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use url::Url;

/// The enumeration scope of every document (a source may have several; see the guide).
pub const SCOPE: &str = "items";

/// How often `tributary watch` re-reads the items: the API has no change feed to wait on.
pub const WATCH_INTERVAL_SECS: u32 = 60;

/// The kinds of config field this source uses (a subset of WIT `field-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Url,
    Boolean,
}

/// One config field, as `info()` declares it. The host checks the tenant's TOML against
/// these before the component sees anything, and `tributary fields` prints them.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    /// A JSON literal; the host applies it when the tenant leaves the field out.
    pub default: Option<&'static str>,
    /// Secret fields stay in the host: the component never receives their value.
    pub secret: bool,
    pub description: &'static str,
}

/// The config fields, in the order `tributary fields` shows them.
pub const FIELDS: &[Field] = &[
    Field {
        name: "items",
        kind: FieldKind::Text,
        // Not required: exactly one of `items` and `url` is, which only `parse` can say.
        required: false,
        default: None,
        secret: false,
        description: "The items as a JSON array, e.g. '[{\"id\": \"1\", \"title\": \"Hello\"}]'. Give this or `url`.",
    },
    Field {
        name: "url",
        kind: FieldKind::Url,
        required: false,
        default: None,
        secret: false,
        description: "An HTTP(S) API answering a JSON array of items, or {\"items\": [...], \"next\": URL} pages. Give this or `items`.",
    },
    Field {
        name: "use_api_key",
        kind: FieldKind::Boolean,
        required: false,
        default: Some("false"),
        secret: false,
        // The component cannot see whether `api_key` is set (secrets never reach it), so a
        // plain switch tells it whether to declare the credential.
        description: "Send `api_key` to the API as `Authorization: Bearer <api_key>`.",
    },
    Field {
        name: "api_key",
        kind: FieldKind::Text,
        required: false,
        default: None,
        secret: true,
        description: "The API key (kept by the runner; write it as { env = \"VAR\" } to keep it out of the file).",
    },
];

/// What went wrong, as the host should treat it (mirrors WIT `source.error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The user must change the config: the message names the field and the fix.
    InvalidConfig(String),
    /// The API refused the credential: the user must fix the key.
    Unauthorized(String),
    /// The checkpoint is not for this source: the host refuses it.
    CheckpointMismatch(String),
    /// Try again later (from the last committed checkpoint).
    Transient(String),
    /// Will not succeed on retry.
    Permanent(String),
}

/// Where the items come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Items {
    Inline(Vec<Value>),
    Remote(Url),
}

/// A validated config.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub items: Items,
    pub use_api_key: bool,
}

/// Parse and validate the config JSON (secrets removed, defaults applied by the host).
/// No network: `configure` calls this before the host has allowed any origin.
pub fn parse_config(json: &str) -> Result<Config, Error> {
    let config: Map<String, Value> = serde_json::from_str(json)
        .map_err(|e| Error::InvalidConfig(format!("the config is not a JSON object ({e})")))?;
    let text = |name: &str| {
        config
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let items = match (text("items"), text("url")) {
        (Some(items), None) => {
            let parsed: Value = serde_json::from_str(items).map_err(|e| {
                Error::InvalidConfig(format!("items: not valid JSON ({e}); give a JSON array"))
            })?;
            let Value::Array(list) = parsed else {
                return Err(Error::InvalidConfig(
                    "items: expected a JSON array of objects, e.g. [{\"id\": \"1\"}]".into(),
                ));
            };
            Items::Inline(list)
        }
        (None, Some(url)) => {
            let url = Url::parse(url)
                .map_err(|e| Error::InvalidConfig(format!("url: {url:?} is not a URL ({e})")))?;
            // The host only speaks HTTP(S); say so now rather than at the first request.
            if !matches!(url.scheme(), "http" | "https") {
                return Err(Error::InvalidConfig(format!(
                    "url: {url} must start with http:// or https://"
                )));
            }
            Items::Remote(url)
        }
        (Some(_), Some(_)) => {
            return Err(Error::InvalidConfig(
                "items and url are both set; keep one: inline items or the API that serves them"
                    .into(),
            ));
        }
        (None, None) => {
            return Err(Error::InvalidConfig(
                "set `items` (a JSON array) or `url` (an API that returns one)".into(),
            ));
        }
    };
    let use_api_key = config
        .get("use_api_key")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // A key for inline items would go nowhere: refuse it instead of silently ignoring it.
    if use_api_key && matches!(items, Items::Inline(_)) {
        return Err(Error::InvalidConfig(
            "use_api_key: only meaningful with `url`; remove it or set `url`".into(),
        ));
    }
    Ok(Config { items, use_api_key })
}

/// The WIT `plan`, in plain types: the origins the component will call, and whether the
/// host should authenticate requests to the API origin with `api_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub hosts: Vec<String>,
    /// `Some(origin)`: a header credential `Authorization: Bearer <api_key>` for that origin.
    pub api_key_for: Option<String>,
}

/// `scheme://host[:port]`, the form the host's allow-list compares.
fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Which origins the host must allow. Everything else is denied, so this lists the API and,
/// for inline items, the origin of each `content_url`.
pub fn plan(config: &Config) -> Result<Plan, Error> {
    let mut hosts = Vec::new();
    let mut api_key_for = None;
    match &config.items {
        Items::Remote(url) => {
            hosts.push(origin(url));
            api_key_for = config.use_api_key.then(|| origin(url));
        }
        Items::Inline(items) => {
            for (i, item) in items.iter().enumerate() {
                if let Some(u) = item.get("content_url").and_then(Value::as_str) {
                    let u = Url::parse(u).map_err(|e| {
                        Error::InvalidConfig(format!(
                            "items: item {i} has content_url {u:?}, which is not an absolute URL ({e})"
                        ))
                    })?;
                    hosts.push(origin(&u));
                }
            }
        }
    }
    hosts.sort();
    hosts.dedup();
    Ok(Plan { hosts, api_key_for })
}

/// A GET request through the host (the WIT `request`, reduced to what this source needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub url: String,
    /// Ask the host to add the credential. It does so only for the credential's origins.
    pub authenticate: bool,
}

/// The host's answer to a request that went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why the host could not perform a request (mirrors WIT `http.error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    Denied(String),
    InvalidRequest(String),
    Transport(String),
    TooLarge(u64),
    Credential(String),
}

/// Log levels this source uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
}

/// The host's imports, as a trait: the WIT `http` and `logging` in the component, a script
/// in the tests.
pub trait Host {
    fn get(&self, req: Request) -> Result<Response, HttpError>;
    fn log(&self, level: Level, message: &str);
}

/// Content for the host to fetch later (mirrors WIT `content-request` with an `http` source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    pub request: Request,
    pub file_name: String,
    pub size: Option<u64>,
    pub content_key: Option<String>,
}

/// A document (mirrors WIT `document`).
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub id: String,
    pub fields: Value,
    pub content: Option<Content>,
}

/// A change (the WIT `change` cases this source needs).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Upsert(Document),
    BeginEnumeration(String),
    EndEnumeration(String),
}

/// A page (mirrors WIT `page`).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub changes: Vec<Change>,
    pub checkpoint: Option<String>,
    pub has_more: bool,
}

/// The checkpoint: where an interrupted enumeration goes on. Versioned so a later format can
/// refuse an older one cleanly; naming the source so another tenant's is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Checkpoint {
    v: u32,
    /// The API URL, or "inline".
    source: String,
    /// The next page to fetch; `None` once the enumeration completed.
    next: Option<String>,
}

const CHECKPOINT_VERSION: u32 = 1;

fn source_name(config: &Config) -> String {
    match &config.items {
        Items::Inline(_) => "inline".into(),
        Items::Remote(url) => url.to_string(),
    }
}

/// What the next `next_page` call does.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// Open the enumeration and read the first page.
    Begin,
    /// Read this page of an enumeration already open (on the host too, after a resume).
    Fetch(Url),
    /// Nothing left: repeat the final checkpoint.
    Done(String),
}

/// One sync run. Every run is a complete enumeration: the API cannot say what changed, so
/// the host's end-of-enumeration purge is what removes deleted items, and unchanged content
/// is skipped through the content key.
pub struct Session {
    config: Config,
    step: Step,
}

impl Session {
    /// Start a run, resuming an interrupted enumeration when the checkpoint has a next page.
    pub fn start(config: Config, checkpoint: Option<&str>) -> Result<Session, Error> {
        let step = match checkpoint {
            None => Step::Begin,
            Some(text) => {
                let cp: Checkpoint = serde_json::from_str(text).map_err(|e| {
                    Error::CheckpointMismatch(format!(
                        "the checkpoint is not one of this source ({e}); run `tributary sync --full`"
                    ))
                })?;
                if cp.v != CHECKPOINT_VERSION || cp.source != source_name(&config) {
                    return Err(Error::CheckpointMismatch(format!(
                        "the checkpoint is for {:?} (format {}), not {:?}; run `tributary sync --full`",
                        cp.source,
                        cp.v,
                        source_name(&config)
                    )));
                }
                match cp.next {
                    // A stored URL is ours, but parse it as if it were not.
                    Some(next) => Step::Fetch(Url::parse(&next).map_err(|e| {
                        Error::CheckpointMismatch(format!(
                            "the checkpoint's next page is not a URL ({e})"
                        ))
                    })?),
                    // The last run completed: this one enumerates again from the start.
                    None => Step::Begin,
                }
            }
        };
        Ok(Session { config, step })
    }

    /// The next page. On error the session is unchanged, so the host may call again.
    pub fn next_page(&mut self, host: &impl Host) -> Result<Page, Error> {
        let mut changes = Vec::new();
        let (items, page_url, next) = match self.step.clone() {
            Step::Done(cp) => {
                return Ok(Page {
                    changes,
                    checkpoint: Some(cp),
                    has_more: false,
                });
            }
            Step::Begin => {
                // Begin before the first upsert: the host marks what this enumeration sees.
                changes.push(Change::BeginEnumeration(SCOPE.into()));
                match &self.config.items {
                    Items::Inline(items) => (items.clone(), None, None),
                    Items::Remote(url) => {
                        let (items, next) = fetch_items(host, url, self.config.use_api_key)?;
                        (items, Some(url.clone()), next)
                    }
                }
            }
            Step::Fetch(url) => {
                let (items, next) = fetch_items(host, &url, self.config.use_api_key)?;
                (items, Some(url), next)
            }
        };
        for (i, item) in items.iter().enumerate() {
            match document(item, page_url.as_ref(), self.config.use_api_key) {
                Ok(doc) => changes.push(Change::Upsert(doc)),
                // One bad item must not stop the others: say which, and go on.
                Err(why) => host.log(Level::Warn, &format!("skipping item {i}: {why}")),
            }
        }
        let source = source_name(&self.config);
        if let Some(next) = next {
            // The checkpoint points at the next page; the host commits it once everything up
            // to here is durable, so a crash resumes there.
            let checkpoint = serde_json::to_string(&Checkpoint {
                v: CHECKPOINT_VERSION,
                source,
                next: Some(next.to_string()),
            })
            .map_err(|e| Error::Permanent(format!("cannot encode the checkpoint ({e})")))?;
            self.step = Step::Fetch(next);
            return Ok(Page {
                changes,
                checkpoint: Some(checkpoint),
                has_more: true,
            });
        }
        // Every item was seen: ending the enumeration lets the host purge the rest.
        changes.push(Change::EndEnumeration(SCOPE.into()));
        let checkpoint = serde_json::to_string(&Checkpoint {
            v: CHECKPOINT_VERSION,
            source,
            next: None,
        })
        .map_err(|e| Error::Permanent(format!("cannot encode the checkpoint ({e})")))?;
        host.log(Level::Info, "all items read");
        self.step = Step::Done(checkpoint.clone());
        Ok(Page {
            changes,
            checkpoint: Some(checkpoint),
            has_more: false,
        })
    }
}

/// `wait-for-changes` for a source without a change feed: an interrupted enumeration goes on
/// at once; after a complete one, the next waits [`WATCH_INTERVAL_SECS`].
pub fn watch_backoff(checkpoint: &str) -> Option<u32> {
    match serde_json::from_str::<Checkpoint>(checkpoint) {
        Ok(Checkpoint { next: Some(_), .. }) => None,
        _ => Some(WATCH_INTERVAL_SECS),
    }
}

/// `check`: prove the config works (here: the API answers with items).
pub fn check(host: &impl Host, config: &Config) -> Result<String, Error> {
    match &config.items {
        Items::Inline(items) => Ok(format!("{} items given inline", items.len())),
        Items::Remote(url) => {
            let (items, next) = fetch_items(host, url, config.use_api_key)?;
            Ok(format!(
                "{url} answered {} items{}",
                items.len(),
                if next.is_some() {
                    " on its first page"
                } else {
                    ""
                }
            ))
        }
    }
}

/// GET one page of items and the URL of the next page, if any.
fn fetch_items(
    host: &impl Host,
    url: &Url,
    authenticate: bool,
) -> Result<(Vec<Value>, Option<Url>), Error> {
    let response = host
        .get(Request {
            url: url.to_string(),
            authenticate,
        })
        // The host already retried transport failures; what is left is classified here.
        .map_err(|e| match e {
            HttpError::Transport(m) => Error::Transient(format!("{url}: {m}")),
            HttpError::Credential(m) => Error::Unauthorized(format!("{url}: {m}")),
            HttpError::Denied(m) => Error::Permanent(format!("{url} is not allowed: {m}")),
            HttpError::InvalidRequest(m) => Error::Permanent(format!("{url}: {m}")),
            HttpError::TooLarge(n) => Error::Permanent(format!(
                "{url}: the answer is larger than the host allows ({n} bytes read); page the API"
            )),
        })?;
    match response.status {
        200..=299 => {}
        401 | 403 => {
            return Err(Error::Unauthorized(format!(
                "{url} answered {}; check api_key and use_api_key",
                response.status
            )));
        }
        404 => {
            return Err(Error::InvalidConfig(format!(
                "url: {url} answered 404; check the URL"
            )));
        }
        // The host retried these with backoff already; a later run may succeed.
        429 | 500..=599 => {
            return Err(Error::Transient(format!(
                "{url} answered {}",
                response.status
            )));
        }
        other => return Err(Error::Permanent(format!("{url} answered {other}"))),
    }
    let body: Value = serde_json::from_slice(&response.body)
        .map_err(|e| Error::Permanent(format!("{url} did not answer JSON ({e})")))?;
    let (items, next) = match body {
        Value::Array(items) => (items, None),
        Value::Object(mut page) => {
            let items = match page.remove("items") {
                Some(Value::Array(items)) => items,
                _ => {
                    return Err(Error::Permanent(format!(
                        "{url} answered an object without an `items` array"
                    )));
                }
            };
            let next = match page.get("next").and_then(Value::as_str) {
                // Relative links are common in paged APIs: resolve them against this page.
                Some(next) => Some(url.join(next).map_err(|e| {
                    Error::Permanent(format!("{url}: `next` {next:?} is not a URL ({e})"))
                })?),
                None => None,
            };
            (items, next)
        }
        _ => {
            return Err(Error::Permanent(format!(
                "{url} answered neither an array nor an {{\"items\": [...]}} object"
            )));
        }
    };
    // A next page on another origin would be denied by the host mid-run: fail clearly now.
    if let Some(next) = &next
        && next.origin() != url.origin()
    {
        return Err(Error::Permanent(format!(
            "{url}: the next page {next} is on another origin, which the plan does not allow"
        )));
    }
    // A next page equal to this one would loop forever.
    if next.as_ref() == Some(url) {
        return Err(Error::Permanent(format!(
            "{url}: `next` points at the same page"
        )));
    }
    Ok((items, next))
}

/// Turn one item into a document, or say why it cannot be one.
fn document(item: &Value, page_url: Option<&Url>, use_api_key: bool) -> Result<Document, String> {
    let Value::Object(fields) = item else {
        return Err("not a JSON object".into());
    };
    // The id must be stable across runs: it is the Elasticsearch `_id`, so the same item
    // overwrites itself instead of piling up copies.
    let id = match fields.get("id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err("no `id` (a non-empty string or a number)".into()),
    };
    let mut fields = fields.clone();
    // The URL is for the host to fetch, not for people to search.
    let content_url = fields.remove("content_url");
    let content = match content_url {
        Some(Value::String(u)) => {
            // Relative content links resolve against the page that listed them.
            let url = match page_url {
                Some(base) => base.join(&u),
                None => Url::parse(&u),
            }
            .map_err(|e| format!("content_url {u:?} is not a URL ({e})"))?;
            Some(Content {
                request: Request {
                    // Only requests to the API origin carry the key (the host would deny
                    // the credential elsewhere anyway).
                    authenticate: use_api_key
                        && page_url.is_some_and(|p| p.origin() == url.origin()),
                    url: url.to_string(),
                },
                // The extension picks the text extractor: take the item's name for the
                // file, or the last segment of its URL.
                file_name: fields
                    .get("file_name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| url.path_segments()?.next_back().map(str::to_string))
                    .unwrap_or_else(|| "content".into()),
                size: fields.get("size").and_then(Value::as_u64),
                // Whatever changes when the bytes change; without one the host fetches the
                // content on every run.
                content_key: ["version", "updated"]
                    .iter()
                    .find_map(|k| fields.get(*k))
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    }),
            })
        }
        Some(_) => return Err("content_url is not a string".into()),
        None => None,
    };
    Ok(Document {
        id,
        fields: Value::Object(fields),
        content,
    })
}

/// Mapping properties for the fields items usually have; the others are mapped dynamically.
pub fn index_properties() -> Value {
    json!({
        "id": {"type": "keyword"},
        "title": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}}},
        "body": {"type": "text"},
        "url": {"type": "keyword"},
        "updated": {"type": "date"},
        "version": {"type": "keyword"}
    })
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::*;

    /// Answers from a table of URL → (status, body) and records every request.
    #[derive(Default)]
    struct Script {
        answers: HashMap<String, (u16, String)>,
        requests: RefCell<Vec<Request>>,
        warnings: RefCell<Vec<String>>,
    }

    impl Script {
        fn answer(mut self, url: &str, status: u16, body: Value) -> Script {
            self.answers.insert(url.into(), (status, body.to_string()));
            self
        }
    }

    impl Host for Script {
        fn get(&self, req: Request) -> Result<Response, HttpError> {
            self.requests.borrow_mut().push(req.clone());
            match self.answers.get(&req.url) {
                Some((status, body)) => Ok(Response {
                    status: *status,
                    body: body.clone().into_bytes(),
                }),
                None => Err(HttpError::Denied(req.url)),
            }
        }
        fn log(&self, level: Level, message: &str) {
            if level == Level::Warn {
                self.warnings.borrow_mut().push(message.into());
            }
        }
    }

    fn config(v: Value) -> Config {
        parse_config(&v.to_string()).unwrap()
    }

    fn run(host: &Script, config: Config, checkpoint: Option<&str>) -> Vec<Page> {
        let mut session = Session::start(config, checkpoint).unwrap();
        let mut pages = Vec::new();
        loop {
            let page = session.next_page(host).unwrap();
            let more = page.has_more;
            pages.push(page);
            if !more {
                return pages;
            }
            assert!(pages.len() < 100, "the session does not end");
        }
    }

    fn ids(pages: &[Page]) -> Vec<String> {
        pages
            .iter()
            .flat_map(|p| &p.changes)
            .filter_map(|c| match c {
                Change::Upsert(d) => Some(d.id.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn inline_items_are_one_complete_enumeration() {
        let items = json!([
            {"id": "a", "title": "Alpha", "content_url": "https://files.example/a.txt", "version": 3},
            {"id": 7, "title": "Seven"},
            {"title": "no id"}
        ]);
        let host = Script::default();
        let pages = run(&host, config(json!({"items": items.to_string()})), None);
        assert_eq!(pages.len(), 1);
        let changes = &pages[0].changes;
        assert_eq!(
            changes.first(),
            Some(&Change::BeginEnumeration(SCOPE.into()))
        );
        assert_eq!(changes.last(), Some(&Change::EndEnumeration(SCOPE.into())));
        assert_eq!(ids(&pages), ["a", "7"]);
        let Change::Upsert(a) = &changes[1] else {
            panic!("{changes:?}")
        };
        assert_eq!(a.fields["title"], "Alpha");
        assert!(a.fields.get("content_url").is_none());
        let content = a.content.as_ref().unwrap();
        assert_eq!(content.request.url, "https://files.example/a.txt");
        assert!(!content.request.authenticate);
        assert_eq!(content.file_name, "a.txt");
        assert_eq!(content.content_key.as_deref(), Some("3"));
        assert_eq!(host.warnings.borrow().len(), 1);
        assert!(
            host.requests.borrow().is_empty(),
            "inline items need no request"
        );
    }

    #[test]
    fn paged_api_items_resume_from_the_checkpoint_without_a_second_begin() {
        let host = Script::default()
            .answer(
                "https://api.example/items",
                200,
                json!({"items": [{"id": "1", "content_url": "/files/1.md", "updated": "2024-01-01"}], "next": "/items?page=2"}),
            )
            .answer(
                "https://api.example/items?page=2",
                200,
                json!({"items": [{"id": "2"}], "next": null}),
            );
        let cfg = config(json!({"url": "https://api.example/items", "use_api_key": true}));
        let pages = run(&host, cfg.clone(), None);
        assert_eq!(ids(&pages), ["1", "2"]);
        assert!(pages[0].has_more && !pages[1].has_more);
        let Change::Upsert(one) = &pages[0].changes[1] else {
            panic!()
        };
        let content = one.content.as_ref().unwrap();
        assert_eq!(content.request.url, "https://api.example/files/1.md");
        assert!(
            content.request.authenticate,
            "same origin as the API: send the key"
        );
        assert!(host.requests.borrow().iter().all(|r| r.authenticate));

        // A run that died after page 1 resumes at page 2, in the same enumeration.
        let resumed = run(&host, cfg.clone(), pages[0].checkpoint.as_deref());
        assert_eq!(ids(&resumed), ["2"]);
        let all: Vec<&Change> = resumed.iter().flat_map(|p| &p.changes).collect();
        assert!(!all.iter().any(|c| matches!(c, Change::BeginEnumeration(_))));
        assert!(matches!(all.last(), Some(Change::EndEnumeration(_))));

        // After a complete run the next one enumerates everything again.
        let again = run(&host, cfg, pages[1].checkpoint.as_deref());
        assert_eq!(ids(&again), ["1", "2"]);
        assert_eq!(again[0].changes[0], Change::BeginEnumeration(SCOPE.into()));
    }

    #[test]
    fn plans_allow_the_api_origin_and_declare_the_key_only_when_asked() {
        let p = plan(&config(
            json!({"url": "http://127.0.0.1:8080/x", "use_api_key": true}),
        ))
        .unwrap();
        assert_eq!(p.hosts, ["http://127.0.0.1:8080"]);
        assert_eq!(p.api_key_for.as_deref(), Some("http://127.0.0.1:8080"));
        let p = plan(&config(json!({"url": "https://api.example/x"}))).unwrap();
        assert_eq!(p.api_key_for, None);
        let items = json!([{"id": 1, "content_url": "https://b.example/1"}, {"id": 2, "content_url": "https://a.example/2"}]);
        let p = plan(&config(json!({"items": items.to_string()}))).unwrap();
        assert_eq!(p.hosts, ["https://a.example", "https://b.example"]);
    }

    #[test]
    fn config_mistakes_name_the_field_and_the_fix() {
        let err = |v: Value| match parse_config(&v.to_string()) {
            Err(Error::InvalidConfig(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(err(json!({})).contains("`items`"));
        assert!(err(json!({"items": "[]", "url": "https://a.example"})).contains("both"));
        assert!(err(json!({"items": "{"})).starts_with("items:"));
        assert!(err(json!({"items": "{}"})).starts_with("items:"));
        assert!(err(json!({"url": "ftp://a.example/x"})).starts_with("url:"));
        assert!(err(json!({"items": "[]", "use_api_key": true})).starts_with("use_api_key:"));
        let bad = json!([{"id": 1, "content_url": "relative/x"}]);
        assert!(matches!(
            plan(&config(json!({"items": bad.to_string()}))),
            Err(Error::InvalidConfig(m)) if m.starts_with("items:")
        ));
    }

    #[test]
    fn http_outcomes_map_to_the_error_the_host_acts_on() {
        let url = "https://api.example/items";
        let cfg = config(json!({"url": url}));
        let outcome = |status: u16, body: Value| {
            let host = Script::default().answer(url, status, body);
            Session::start(cfg.clone(), None).unwrap().next_page(&host)
        };
        assert!(matches!(
            outcome(401, json!({})),
            Err(Error::Unauthorized(_))
        ));
        assert!(
            matches!(outcome(404, json!({})), Err(Error::InvalidConfig(m)) if m.starts_with("url:"))
        );
        assert!(matches!(outcome(503, json!({})), Err(Error::Transient(_))));
        assert!(matches!(
            outcome(200, json!({"no": "items"})),
            Err(Error::Permanent(_))
        ));
        assert!(matches!(
            outcome(200, json!({"items": [], "next": "https://elsewhere.example/p2"})),
            Err(Error::Permanent(m)) if m.contains("another origin")
        ));
        assert!(matches!(
            outcome(200, json!({"items": [], "next": url})),
            Err(Error::Permanent(m)) if m.contains("same page")
        ));
        let other = config(json!({"url": "https://other.example/items"}));
        let cp = run(&Script::default().answer(url, 200, json!([])), cfg, None)[0]
            .checkpoint
            .clone()
            .unwrap();
        assert!(matches!(
            Session::start(other, Some(&cp)),
            Err(Error::CheckpointMismatch(_))
        ));
    }

    #[test]
    fn watch_waits_only_after_a_complete_enumeration() {
        let url = "https://api.example/items";
        let host = Script::default()
            .answer(url, 200, json!({"items": [], "next": "/p2"}))
            .answer("https://api.example/p2", 200, json!([]));
        let pages = run(&host, config(json!({"url": url})), None);
        assert_eq!(watch_backoff(pages[0].checkpoint.as_deref().unwrap()), None);
        assert_eq!(
            watch_backoff(pages[1].checkpoint.as_deref().unwrap()),
            Some(WATCH_INTERVAL_SECS)
        );
    }

    #[test]
    fn check_reports_what_it_reached() {
        let url = "https://api.example/items";
        let host = Script::default().answer(url, 200, json!([{"id": 1}, {"id": 2}]));
        let msg = check(&host, &config(json!({"url": url}))).unwrap();
        assert!(msg.contains("2 items"), "{msg}");
        let host = Script::default().answer(url, 403, json!({}));
        assert!(matches!(
            check(&host, &config(json!({"url": url}))),
            Err(Error::Unauthorized(_))
        ));
    }
}
