//! `/_admin/*`: test control (stats, faults, tokens, cursors) and ground truth (tree, content).

use crate::app::App;
use crate::clock;
use crate::content::{Body, Content, FileData};
use crate::faults::{FaultConfig, Faults};
use crate::metadata;
use crate::oauth::parse_form;
use crate::routes::sharing::{link_metadata, outside_account_id, shared_file_metadata};
use crate::routes::users::full_account;
use crate::server::{json_response, respond};
use crate::state::{Kind, Received, View, World};
use http::{Method, Response};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Lifetime {
    secs: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PaperArg {
    path: String,
    markdown: String,
}

/// Body of `POST /_admin/received` (also used by manifests).
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ReceivedArg {
    /// File name.
    pub name: String,
    /// UTF-8 content.
    #[serde(default)]
    pub content: String,
    /// Owner display name.
    #[serde(default = "default_owner")]
    pub owner: String,
}

fn default_owner() -> String {
    "Bob Smith".into()
}

/// `{"error": msg}` with a status.
pub fn err(status: u16, msg: impl Into<String>) -> Response<Body> {
    json_response(status, &json!({"error": msg.into()}))
}

/// `{"ok": true}`.
pub fn ok() -> Response<Body> {
    json_response(200, &json!({"ok": true}))
}

/// Decode a JSON body, or a 400 response naming what was wrong.
#[allow(clippy::result_large_err)] // admin-only, cold path
pub fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, Response<Body>> {
    serde_json::from_slice(body).map_err(|e| err(400, format!("bad request body: {e}")))
}

/// Add a received shared file; returns (id, url).
pub fn add_received(world: &mut World, arg: &ReceivedArg, now: i64) -> (String, String) {
    let id = world.new_id();
    let rev = world.new_rev();
    let token = crate::ids::token_chars(
        crate::content::mix(world.received.len() as u64 + 11) ^ now as u64,
        15,
    );
    let url = format!(
        "https://www.dropbox.com/scl/fi/{}/{}?rlkey=emu&dl=0",
        token.to_lowercase(),
        arg.name.replace(' ', "%20")
    );
    world.received.push(Received {
        id: id.clone(),
        name: arg.name.clone(),
        owner: arg.owner.clone(),
        owner_account_id: outside_account_id(&arg.owner),
        url: url.clone(),
        data: FileData::new(Content::Stored(bytes::Bytes::from(
            arg.content.clone().into_bytes(),
        ))),
        rev,
        time: now,
    });
    (id, url)
}

/// Create or edit a Paper doc at a global display path (journaled).
pub fn put_paper(
    world: &mut World,
    path: &str,
    markdown: &str,
    now: i64,
    journal: bool,
) -> Result<Value, String> {
    let data = FileData::new(Content::Paper(bytes::Bytes::from(
        markdown.to_string().into_bytes(),
    )));
    let node = world
        .put_file(path, data, now, now, journal)
        .map_err(|e| format!("{e:?}"))?;
    let view = world.whole_view(world.default_account());
    Ok(metadata::render(world, &view, &node, true))
}

#[allow(clippy::result_large_err)] // admin-only, cold path
fn tree_view(world: &World, query: &str) -> Result<View, Response<Body>> {
    let q = parse_form(query.as_bytes());
    let account = match q.get("member") {
        Some(m) => world.find_member(m).ok_or_else(|| {
            err(
                404,
                format!("unknown member {m:?} (give a dbmid: or an email)"),
            )
        })?,
        None => world.default_account(),
    };
    if q.get("all").is_some_and(|v| v == "true" || v == "1") {
        return Ok(world.whole_view(account));
    }
    Ok(match q.get("root").map(String::as_str) {
        Some("home") => world.home_view(account),
        _ if world.team.is_some() => world.root_view(account),
        _ => world.home_view(account),
    })
}

fn tree(world: &World, view: &View) -> Value {
    let opts = crate::views::ScanOpts {
        recursive: true,
        mounted: true,
    };
    let entries: Vec<Value> = crate::views::collect(world, view, &view.prefix_lower, opts)
        .iter()
        .map(|n| metadata::render(world, view, n, true))
        .collect();
    let me = view.account;
    let received: Vec<Value> = world
        .received
        .iter()
        .map(|r| json!({"shared": shared_file_metadata(world, me, r), "link": link_metadata(r)}))
        .collect();
    json!({"entries": entries, "received_files": received, "account": full_account(world, me)})
}

/// Handle `/_admin/<sub>`.
pub fn handle(app: &App, method: &Method, sub: &str, query: &str, body: &[u8]) -> Response<Body> {
    let now = clock::now_secs();
    match (method.as_str(), sub) {
        ("GET", "stats") => json_response(200, &app.stats().to_json()),
        ("GET", "stats/timeline") => {
            let q = crate::oauth::parse_form(query.as_bytes());
            let prefix = q.get("route").map(String::as_str).unwrap_or("");
            json_response(200, &app.stats().timeline_json(prefix))
        }
        ("POST", "stats/reset") => {
            app.stats().reset();
            ok()
        }
        ("POST", "faults") => match parse::<FaultConfig>(body) {
            Ok(cfg) => {
                *app.faults() = Faults::new(cfg);
                ok()
            }
            Err(r) => r,
        },
        ("DELETE", "faults") => {
            *app.faults() = Faults::new(FaultConfig {
                seed: 0,
                rules: Vec::new(),
            });
            ok()
        }
        ("POST", "tokens/expire") => {
            app.tokens().expire_all();
            ok()
        }
        ("POST", "tokens/lifetime") => match parse::<Lifetime>(body) {
            Ok(l) => {
                app.tokens().lifetime = l.secs;
                ok()
            }
            Err(r) => r,
        },
        ("POST", "cursors/reset") => {
            app.write_world().reset_cursors();
            app.notify();
            ok()
        }
        ("GET", "tree") => {
            let world = app.read_world();
            match tree_view(&world, query) {
                Ok(view) => json_response(200, &tree(&world, &view)),
                Err(r) => r,
            }
        }
        ("GET", "content") => {
            let q = parse_form(query.as_bytes());
            let id = q.get("id").cloned().unwrap_or_default();
            let world = app.read_world();
            let data = world
                .ids
                .get(&id)
                .and_then(|p| world.tree.get(p))
                .filter(|n| n.kind == Kind::File)
                .and_then(|n| n.data.clone())
                .or_else(|| {
                    world
                        .received
                        .iter()
                        .find(|r| r.id == id)
                        .map(|r| r.data.clone())
                });
            drop(world);
            match data {
                Some(d) => {
                    let size = d.size();
                    let mut r = Response::new(d.body(0, size));
                    r.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/octet-stream"),
                    );
                    r
                }
                None => err(404, "unknown id"),
            }
        }
        ("POST", "paper") => match parse::<PaperArg>(body) {
            Ok(p) => {
                if !p.path.starts_with('/') {
                    return err(400, "path must start with /");
                }
                let res = put_paper(&mut app.write_world(), &p.path, &p.markdown, now, true);
                app.notify();
                match res {
                    Ok(v) => json_response(200, &v),
                    Err(e) => err(409, e),
                }
            }
            Err(r) => r,
        },
        ("POST", "received") => match parse::<ReceivedArg>(body) {
            Ok(a) => {
                let (id, url) = add_received(&mut app.write_world(), &a, now);
                json_response(200, &json!({"id": id, "url": url}))
            }
            Err(r) => r,
        },
        ("DELETE", "received") => {
            let q = parse_form(query.as_bytes());
            let id = q.get("id").cloned().unwrap_or_default();
            let mut world = app.write_world();
            let before = world.received.len();
            world.received.retain(|r| r.id != id);
            if world.received.len() == before {
                err(404, "unknown id")
            } else {
                ok()
            }
        }
        _ => match super::admin_team::handle(app, method, sub, query, body) {
            Some(r) => r,
            None => respond(404, "text/plain; charset=utf-8", "unknown admin route"),
        },
    }
}
