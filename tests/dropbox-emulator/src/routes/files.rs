//! `files/*` routes: listing and cursors, metadata, download/export, search, writes.

use super::{Call, CursorArg, Reply, check_path, view_for_path};
use crate::app::App;
use crate::clock;
use crate::content::{Content, FileData};
use crate::errors::{ApiError, nest, tag};
use crate::journal::{self, Cursor};
use crate::metadata;
use crate::state::{Kind, Node, Target, View, World};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ListFolderArg {
    path: String,
    #[serde(default)]
    recursive: bool,
    #[serde(default)]
    include_media_info: bool,
    #[serde(default)]
    include_deleted: bool,
    #[serde(default)]
    include_has_explicit_shared_members: bool,
    #[serde(default = "yes")]
    include_mounted_folders: bool,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    shared_link: Option<Value>,
    #[serde(default)]
    include_property_groups: Option<Value>,
    #[serde(default = "yes")]
    include_non_downloadable_files: bool,
    #[serde(default)]
    include_restorable_info: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct LongpollArg {
    cursor: String,
    #[serde(default = "thirty")]
    timeout: u64,
}

fn thirty() -> u64 {
    30
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct GetMetadataArg {
    path: String,
    #[serde(default)]
    include_media_info: bool,
    #[serde(default)]
    include_deleted: bool,
    #[serde(default)]
    include_has_explicit_shared_members: bool,
    #[serde(default)]
    include_property_groups: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DownloadArg {
    path: String,
    #[serde(default)]
    rev: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportArg {
    path: String,
    #[serde(default)]
    export_format: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PathArg {
    path: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct UploadArg {
    path: String,
    #[serde(default)]
    mode: Option<Value>,
    #[serde(default)]
    autorename: bool,
    #[serde(default)]
    client_modified: Option<String>,
    #[serde(default)]
    mute: bool,
    #[serde(default)]
    property_groups: Option<Value>,
    #[serde(default)]
    strict_conflict: bool,
    #[serde(default)]
    content_hash: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct CreateFolderArg {
    path: String,
    #[serde(default)]
    autorename: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct DeleteArg {
    path: String,
    #[serde(default)]
    parent_rev: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct MoveArg {
    from_path: String,
    to_path: String,
    #[serde(default)]
    allow_shared_folder: bool,
    #[serde(default)]
    autorename: bool,
    #[serde(default)]
    allow_ownership_transfer: bool,
}

/// Route entry for synchronous `files/*` routes.
pub fn dispatch(app: &App, call: &Call) -> Result<Reply, ApiError> {
    match call.route {
        "files/list_folder" => list_folder(app, call, false),
        "files/list_folder/get_latest_cursor" => list_folder(app, call, true),
        "files/list_folder/continue" => list_continue(app, call),
        "files/get_metadata" => get_metadata(app, call),
        "files/download" => download(app, call),
        "files/export" => export(app, call),
        "files/get_temporary_link" => temporary_link(app, call),
        "files/search_v2" | "files/search/continue_v2" => super::search::dispatch(app, call),
        "files/upload" => upload(app, call),
        "files/create_folder_v2" => create_folder(app, call),
        "files/delete_v2" => delete(app, call),
        "files/move_v2" => move_(app, call),
        _ => Err(ApiError::Status(404, "Unknown API function".into())),
    }
}

/// Resolve a path to an existing node in `view`, or a LookupError.
fn lookup(world: &World, view: &View, path: &str) -> Result<Arc<Node>, ApiError> {
    match world.resolve(view, path)? {
        Target::Rev(n) => Ok(n),
        Target::Path(g) => world
            .get(view, &g)
            .cloned()
            .ok_or_else(|| ApiError::path("not_found")),
    }
}

fn list_folder(app: &App, call: &Call, latest: bool) -> Result<Reply, ApiError> {
    let a: ListFolderArg = call.arg()?;
    check_path(call, "path", &a.path, true)?;
    if let Some(l) = a.limit
        && !(1..=2000).contains(&l)
    {
        return Err(call.bad_field("limit", format!("{l} is not within range [1, 2000]")));
    }
    if let Some(link) = &a.shared_link {
        return list_shared_link(app, call, link);
    }
    // App auth (no caller) can only list a shared link.
    let caller = call.caller.as_ref().ok_or_else(|| {
        call.bad_field(
            "shared_link",
            "is required when the call uses app authentication",
        )
    })?;
    let world = app.read_world();
    let view = view_for_path(&world, caller, &a.path)?;
    let global = match world.resolve(&view, &a.path)? {
        Target::Path(g) => g,
        Target::Rev(_) => return Err(ApiError::path("not_folder")),
    };
    if !world.is_folder(&view, &global) {
        return Err(ApiError::path(if world.get(&view, &global).is_some() {
            "not_folder"
        } else {
            "not_found"
        }));
    }
    let listed = view
        .virt_lower(&global)
        .ok_or_else(|| ApiError::path("not_found"))?;
    let cur = Cursor::start(
        &world,
        &view,
        listed,
        journal::Flags {
            recursive: a.recursive,
            include_deleted: a.include_deleted,
            include_non_downloadable: a.include_non_downloadable_files,
            include_mounted: a.include_mounted_folders,
            explicit_members: a.include_has_explicit_shared_members,
        },
        a.limit,
    );
    if latest {
        return Ok(Reply::Json(json!({"cursor": cur.latest(&world).encode()})));
    }
    let page = journal::page(&world, &view, cur);
    Ok(Reply::Json(json!({
        "entries": page.entries, "cursor": page.cursor, "has_more": page.has_more,
    })))
}

/// `files/list_folder` with `shared_link` (§3.1; auth `app, user`). Every shared link the
/// emulator knows is a link to a single file, so a known link is `path/not_folder` and an
/// unknown one `path/not_found`.
fn list_shared_link(app: &App, call: &Call, link: &Value) -> Result<Reply, ApiError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct SharedLink {
        url: String,
        #[serde(default)]
        password: Option<String>,
    }
    let link = SharedLink::deserialize(link).map_err(|e| {
        crate::errors::decode_error(call.route, &format!("{}: shared_link", call.arg_source), &e)
    })?;
    let world = app.read_world();
    Err(ApiError::path(
        if crate::routes::sharing::find_link(&world, &link.url).is_ok() {
            "not_folder"
        } else {
            "not_found"
        },
    ))
}

fn list_continue(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let a: CursorArg = call.arg()?;
    let cur = Cursor::decode(call.route, &a.cursor)?;
    let world = app.read_world();
    let view = journal::check(&world, &cur)?;
    let page = journal::page(&world, &view, cur);
    Ok(Reply::Json(json!({
        "entries": page.entries, "cursor": page.cursor, "has_more": page.has_more,
    })))
}

/// `files/list_folder/longpoll`: wait until the journal moves past the cursor.
pub async fn longpoll(app: &App, call: &Call<'_>) -> Result<Reply, ApiError> {
    let a: LongpollArg = call.arg()?;
    if !(30..=480).contains(&a.timeout) {
        return Err(call.bad_field(
            "timeout",
            format!("{} is not within range [30, 480]", a.timeout),
        ));
    }
    let cur = Cursor::decode(call.route, &a.cursor)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(a.timeout);
    let mut rx = app.subscribe();
    loop {
        rx.borrow_and_update();
        {
            let world = app.read_world();
            if cur.e != world.epoch {
                return Err(ApiError::route("reset"));
            }
            let changed = match journal::view_of(&world, &cur) {
                Some(view) => {
                    !world.is_folder(&view, &cur.l) || journal::has_changes(&world, &view, &cur)
                }
                None => true,
            };
            if changed {
                return Ok(Reply::Json(json!({"changes": true})));
            }
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => continue,
            _ => return Ok(Reply::Json(json!({"changes": false}))),
        }
    }
}

fn get_metadata(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let a: GetMetadataArg = call.arg()?;
    check_path(call, "path", &a.path, false)?;
    let caller = call.caller()?;
    let world = app.read_world();
    let view = view_for_path(&world, caller, &a.path)?;
    let explicit = a.include_has_explicit_shared_members;
    match world.resolve(&view, &a.path)? {
        Target::Rev(n) => Ok(Reply::Json(metadata::render_with(
            &world, &view, &n, true, explicit,
        ))),
        Target::Path(g) => {
            if let Some(n) = world.get(&view, &g) {
                return Ok(Reply::Json(metadata::render_with(
                    &world, &view, n, true, explicit,
                )));
            }
            if a.include_deleted
                && view.contains(&g)
                && let Some((display, name)) = world.tombstones.get(&g)
            {
                return Ok(Reply::Json(metadata::render_deleted(
                    &view, &g, display, name,
                )));
            }
            Err(ApiError::path("not_found"))
        }
    }
}

/// Parse a `Range` header against a size: `(start, end_exclusive)`.
fn parse_range(h: &str, size: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = h.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let r = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 || size == 0 {
            Err(())
        } else {
            Ok((size.saturating_sub(n), size))
        }
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if b.is_empty() {
            size
        } else {
            b.parse::<u64>().ok()?.saturating_add(1).min(size)
        };
        if start >= size || start >= end {
            Err(())
        } else {
            Ok((start, end))
        }
    };
    Some(r)
}

/// Build a (possibly ranged) download reply.
pub fn send_bytes(call: &Call, data: &FileData, result: Value) -> Result<Reply, ApiError> {
    let size = data.size();
    let range = call
        .headers
        .get(http::header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| parse_range(h, size));
    match range {
        None => Ok(Reply::Download {
            result,
            body: data.body(0, size),
            status: 200,
            content_range: None,
        }),
        Some(Err(())) => Err(ApiError::Route(nest("range", tag("not_satisfiable")))),
        Some(Ok((start, end))) => Ok(Reply::Download {
            result,
            body: data.body(start, end),
            status: 206,
            content_range: Some(format!("bytes {start}-{}/{size}", end - 1)),
        }),
    }
}

fn download(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let a: DownloadArg = call.arg()?;
    check_path(call, "path", &a.path, false)?;
    let caller = call.caller()?;
    let world = app.read_world();
    let view = view_for_path(&world, caller, &a.path)?;
    let node = match &a.rev {
        Some(r) => lookup(&world, &view, &format!("rev:{r}"))?,
        None => lookup(&world, &view, &a.path)?,
    };
    let Some(data) = node.data.clone().filter(|_| node.kind == Kind::File) else {
        return Err(ApiError::path("not_file"));
    };
    if data.is_paper() {
        return Err(ApiError::route("unsupported_file"));
    }
    let result = metadata::render(&world, &view, &node, false);
    drop(world);
    send_bytes(call, &data, result)
}

/// Minimal markdown → HTML for Paper exports.
fn markdown_to_html(md: &str) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut out = String::from("<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>");
    for line in md.lines() {
        let t = line.trim_end();
        let level = t.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&level) && t[level..].starts_with(' ') {
            out.push_str(&format!("<h{level}>{}</h{level}>", esc(t[level..].trim())));
        } else if let Some(item) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
            out.push_str(&format!("<ul><li>{}</li></ul>", esc(item)));
        } else if !t.is_empty() {
            out.push_str(&format!("<p>{}</p>", esc(t)));
        }
    }
    out.push_str("</body></html>");
    out
}

fn export(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let a: ExportArg = call.arg()?;
    check_path(call, "path", &a.path, false)?;
    let caller = call.caller()?;
    let world = app.read_world();
    let view = view_for_path(&world, caller, &a.path)?;
    let node = lookup(&world, &view, &a.path)?;
    let md = match node.data.as_ref().map(|d| &d.content) {
        Some(Content::Paper(md)) => md.clone(),
        _ => return Err(ApiError::route("non_exportable")),
    };
    let format = a.export_format.as_deref().unwrap_or("html");
    let (bytes, ext) = match format {
        "markdown" => (md, "md"),
        "html" => (
            bytes::Bytes::from(markdown_to_html(&String::from_utf8_lossy(&md))),
            "html",
        ),
        _ => return Err(ApiError::route("invalid_export_format")),
    };
    let stem = node.name.strip_suffix(".paper").unwrap_or(&node.name);
    let data = FileData::new(Content::Stored(bytes));
    let result = json!({
        "export_metadata": {"name": format!("{stem}.{ext}"), "size": data.size(),
                            "export_hash": data.hash(), "paper_revision": node.paper_revision},
        "file_metadata": metadata::render(&world, &view, &node, false),
    });
    drop(world);
    send_bytes(call, &data, result)
}

fn temporary_link(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let a: PathArg = call.arg()?;
    check_path(call, "path", &a.path, false)?;
    let caller = call.caller()?;
    let world = app.read_world();
    let view = view_for_path(&world, caller, &a.path)?;
    let node = lookup(&world, &view, &a.path)?;
    if node.kind != Kind::File {
        return Err(ApiError::path("not_file"));
    }
    if node.is_paper() {
        return Err(ApiError::route("unsupported_file"));
    }
    Ok(Reply::Json(json!({
        "metadata": metadata::render(&world, &view, &node, false),
        "link": format!("https://dl.dropboxusercontent.com/apitl/1/{}", &node.id[3..]),
    })))
}

/// Global display path of a write target (`/a/b` in the caller's view).
fn write_target(
    world: &World,
    view: &View,
    call: &Call,
    field: &str,
    path: &str,
) -> Result<(String, String), ApiError> {
    check_path(call, field, path, false)?;
    if path.starts_with("rev:") {
        return Err(call.bad_field(field, "rev: paths are read-only"));
    }
    if path.starts_with('/') {
        let display = view
            .to_global_display(&format!("{}{}", view.prefix_display, path))
            .ok_or_else(|| ApiError::path("not_found"))?;
        return Ok((crate::state::lower(&display), display));
    }
    match world.resolve(view, path)? {
        Target::Path(g) => {
            let display = world
                .tree
                .get(&g)
                .map(|n| n.path_display.clone())
                .unwrap_or_else(|| g.clone());
            Ok((g, display))
        }
        Target::Rev(_) => Err(ApiError::path("not_found")),
    }
}

fn autorename(world: &World, display: &str) -> String {
    let (dir, name) = display.rsplit_once('/').unwrap_or(("", display));
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (name.to_string(), String::new()),
    };
    (1..)
        .map(|i| format!("{dir}/{stem} ({i}){ext}"))
        .find(|c| !world.tree.contains_key(&crate::state::lower(c)))
        .unwrap_or_else(|| display.to_string())
}

/// `UploadError.path` is `UploadWriteFailed`, a plain struct, so its fields are inlined next
/// to the tag (§0.4): `{".tag":"path","reason":<WriteError>,"upload_session_id":""}`.
fn upload_write_failed(reason: Value) -> ApiError {
    ApiError::Route(json!({".tag": "path", "reason": reason, "upload_session_id": ""}))
}

fn upload_conflict(kind: &str) -> ApiError {
    upload_write_failed(nest("conflict", tag(kind)))
}

/// Re-shape a `{".tag":"path","path":<reason>}` error from the shared write helpers into
/// `UploadError`'s inlined `UploadWriteFailed`.
fn as_upload_error(e: ApiError) -> ApiError {
    match e {
        ApiError::Route(v) if v.get(".tag").and_then(Value::as_str) == Some("path") => {
            match v.get("path") {
                Some(reason) => upload_write_failed(reason.clone()),
                None => ApiError::Route(v),
            }
        }
        other => other,
    }
}

fn upload(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let a: UploadArg = call.arg()?;
    let caller = call.caller()?;
    let now = clock::now_secs();
    let client_modified = match &a.client_modified {
        Some(s) => clock::parse(s).ok_or_else(|| {
            call.bad_field("client_modified", format!("'{s}' is not a valid timestamp"))
        })?,
        None => now,
    };
    let mode = a.mode.as_ref().map_or(("add".to_string(), None), |m| {
        let t = m
            .get(".tag")
            .and_then(Value::as_str)
            .or(m.as_str())
            .unwrap_or("add")
            .to_string();
        let rev = m.get("update").and_then(Value::as_str).map(str::to_string);
        (t, rev)
    });
    let data = if a.path.to_lowercase().ends_with(".paper") {
        FileData::new(Content::Paper(call.body.clone()))
    } else {
        FileData::new(Content::Stored(call.body.clone()))
    };
    if let Some(h) = &a.content_hash
        && h != data.hash()
    {
        return Err(ApiError::route("content_hash_mismatch"));
    }
    let mut world = app.write_world();
    let view = caller.view.clone();
    let (lower_p, mut display) =
        write_target(&world, &view, call, "path", &a.path).map_err(as_upload_error)?;
    if let Some(existing) = world.tree.get(&lower_p).cloned() {
        if existing.kind == Kind::Folder {
            if !a.autorename {
                return Err(upload_conflict("folder"));
            }
            display = autorename(&world, &display);
        } else {
            let same = existing
                .data
                .as_ref()
                .is_some_and(|d| d.hash() == data.hash());
            match mode.0.as_str() {
                "overwrite" => {}
                "update" if mode.1.as_deref() == Some(existing.rev.as_str()) => {}
                _ if same && mode.0 == "add" => {
                    return Ok(Reply::Json(metadata::render(
                        &world, &view, &existing, false,
                    )));
                }
                _ if a.autorename => display = autorename(&world, &display),
                _ => return Err(upload_conflict("file")),
            }
        }
    }
    let node = world
        .put_file(&display, data, client_modified, now, true)
        .map_err(as_upload_error)?;
    let out = metadata::render(&world, &view, &node, false);
    drop(world);
    app.notify();
    Ok(Reply::Json(out))
}

fn create_folder(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let a: CreateFolderArg = call.arg()?;
    let caller = call.caller()?;
    let mut world = app.write_world();
    let view = caller.view.clone();
    let (lower_p, mut display) = write_target(&world, &view, call, "path", &a.path)?;
    if world.tree.contains_key(&lower_p) && a.autorename {
        display = autorename(&world, &display);
    }
    let node = world.create_folder(&display, clock::now_secs())?;
    let out = metadata::render(&world, &view, &node, false);
    drop(world);
    app.notify();
    Ok(Reply::Json(json!({"metadata": out})))
}

fn delete(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let a: DeleteArg = call.arg()?;
    let caller = call.caller()?;
    let mut world = app.write_world();
    let view = caller.view.clone();
    let (lower_p, _) = write_target(&world, &view, call, "path", &a.path).map_err(|e| match e {
        ApiError::Route(v) if v.get(".tag").and_then(Value::as_str) == Some("path") => {
            ApiError::Route(nest("path_lookup", tag("not_found")))
        }
        other => other,
    })?;
    if !view.contains(&lower_p) {
        return Err(ApiError::Route(nest("path_lookup", tag("not_found"))));
    }
    if let (Some(pr), Some(n)) = (&a.parent_rev, world.tree.get(&lower_p))
        && &n.rev != pr
    {
        return Err(ApiError::Route(nest("path_lookup", tag("not_found"))));
    }
    let node = world.delete(&lower_p)?;
    let out = metadata::render(&world, &view, &node, true);
    drop(world);
    app.notify();
    Ok(Reply::Json(json!({"metadata": out})))
}

fn move_(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let a: MoveArg = call.arg()?;
    let caller = call.caller()?;
    let mut world = app.write_world();
    let view = caller.view.clone();
    let (from_lower, _) = write_target(&world, &view, call, "from_path", &a.from_path)?;
    let (to_lower, mut to_display) = write_target(&world, &view, call, "to_path", &a.to_path)?;
    if !view.contains(&from_lower) || !world.tree.contains_key(&from_lower) {
        return Err(ApiError::Route(nest("from_lookup", tag("not_found"))));
    }
    if to_lower != from_lower && world.tree.contains_key(&to_lower) && a.autorename {
        to_display = autorename(&world, &to_display);
    }
    let node = world.move_node(&from_lower, &to_display, clock::now_secs())?;
    let out = metadata::render(&world, &view, &node, true);
    drop(world);
    app.notify();
    Ok(Reply::Json(json!({"metadata": out})))
}
