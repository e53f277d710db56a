//! `files/search_v2` and `files/search/continue_v2` (reference §4.5).
//!
//! Matching: the query is split on whitespace; an item matches on its name when every term is
//! in the name (case-insensitive), on its content when every term is in the name or the text
//! content (stored UTF-8 files and Paper markdown; generated filler is not searchable), unless
//! `filename_only`. An empty query matches every item the filters let through. Results follow
//! `order_by`: `relevance` (name matches first, exact names first, then path order) or
//! `last_modified_time` (newest first). At most 10,000 matches over all pages, like Dropbox.

use super::{Call, CursorArg, Reply, check_path};
use crate::app::App;
use crate::errors::{ApiError, nest};
use crate::metadata;
use crate::state::{Kind, Node, Target, View, World};
use crate::views::{self, ScanOpts, strictly_below};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;

const MAX_MATCHES: usize = 10_000;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SearchOptions {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    max_results: Option<usize>,
    #[serde(default)]
    order_by: Option<Value>,
    #[serde(default)]
    file_status: Option<Value>,
    #[serde(default)]
    filename_only: bool,
    #[serde(default)]
    file_extensions: Option<Vec<String>>,
    #[serde(default)]
    file_categories: Option<Vec<Value>>,
    #[serde(default)]
    account_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchFieldOptions {
    #[serde(default)]
    include_highlights: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchArg {
    query: String,
    #[serde(default)]
    options: Option<SearchOptions>,
    #[serde(default)]
    match_field_options: Option<MatchFieldOptions>,
    #[serde(default)]
    include_highlights: Option<bool>,
}

/// Everything a continuation needs (opaque to clients).
#[derive(Serialize, Deserialize, Clone)]
struct SearchCursor {
    q: String,
    p: Option<String>,
    x: Option<Vec<String>>,
    c: Option<Vec<String>>,
    m: usize,
    o: usize,
    #[serde(default)]
    f: bool,
    #[serde(default)]
    del: bool,
    #[serde(default)]
    t: bool,
    #[serde(default)]
    hl: bool,
    #[serde(default)]
    acc: Option<String>,
}

impl SearchCursor {
    fn encode(&self) -> String {
        format!(
            "S{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
        )
    }
    fn decode(s: &str) -> Option<Self> {
        let raw = URL_SAFE_NO_PAD.decode(s.strip_prefix('S')?).ok()?;
        serde_json::from_slice(&raw).ok()
    }
}

/// Dropbox's `FileCategory` of an item, by extension.
pub fn category(node: &Node) -> &'static str {
    if node.kind == Kind::Folder {
        return "folder";
    }
    category_of_name(&node.name)
}

/// `FileCategory` of a file name.
pub fn category_of_name(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "paper" => "paper",
        "pdf" => "pdf",
        "jpg" | "jpeg" | "png" | "gif" | "bmp" | "webp" | "heic" | "heif" | "tif" | "tiff"
        | "svg" | "ico" | "raw" | "cr2" | "nef" => "image",
        "doc" | "docx" | "docm" | "dot" | "dotx" | "odt" | "rtf" | "txt" | "text" | "md"
        | "markdown" | "html" | "htm" | "pages" | "tex" | "wpd" | "wps" | "log" => "document",
        "xls" | "xlsx" | "xlsm" | "xlsb" | "csv" | "tsv" | "ods" | "numbers" => "spreadsheet",
        "ppt" | "pptx" | "pps" | "ppsx" | "key" | "odp" => "presentation",
        "mp3" | "wav" | "flac" | "m4a" | "aac" | "ogg" | "wma" | "aif" | "aiff" | "mid"
        | "midi" => "audio",
        "mp4" | "mov" | "avi" | "mkv" | "wmv" | "webm" | "flv" | "m4v" | "mpg" | "mpeg" | "3gp" => {
            "video"
        }
        _ => "others",
    }
}

fn union_tag(v: &Value) -> Option<String> {
    v.get(".tag")
        .and_then(Value::as_str)
        .or(v.as_str())
        .map(str::to_string)
}

const CATEGORIES: [&str; 10] = [
    "image",
    "document",
    "pdf",
    "spreadsheet",
    "presentation",
    "audio",
    "video",
    "folder",
    "paper",
    "others",
];

fn parse(call: &Call) -> Result<SearchCursor, ApiError> {
    let a: SearchArg = call.arg()?;
    if a.query.chars().count() > 1000 {
        return Err(call.bad_field("query", "longer than 1000 characters"));
    }
    let o = a.options.unwrap_or_default();
    if let Some(p) = &o.path {
        check_path(call, "options.path", p, true)?;
    }
    let m = o.max_results.unwrap_or(100);
    if !(1..=1000).contains(&m) {
        return Err(call.bad_field(
            "options.max_results",
            format!("{m} is not within range [1, 1000]"),
        ));
    }
    let del = match o.file_status.as_ref().map(union_tag) {
        None => false,
        Some(Some(t)) if t == "active" => false,
        Some(Some(t)) if t == "deleted" => true,
        Some(t) => {
            return Err(call.bad_field(
                "options.file_status",
                format!("unknown tag {:?}", t.unwrap_or_default()),
            ));
        }
    };
    let by_time = match o.order_by.as_ref().map(union_tag) {
        None => false,
        Some(Some(t)) if t == "relevance" => false,
        Some(Some(t)) if t == "last_modified_time" => true,
        Some(t) => {
            return Err(call.bad_field(
                "options.order_by",
                format!("unknown tag {:?}", t.unwrap_or_default()),
            ));
        }
    };
    let cats = match o.file_categories {
        None => None,
        Some(cs) => {
            let mut out = Vec::new();
            for c in cs {
                let t = union_tag(&c).unwrap_or_default();
                if !CATEGORIES.contains(&t.as_str()) {
                    return Err(
                        call.bad_field("options.file_categories", format!("unknown tag {t:?}"))
                    );
                }
                out.push(t);
            }
            Some(out)
        }
    };
    let exts = o.file_extensions.map(|x| {
        x.iter()
            .map(|e| e.trim_start_matches('.').to_lowercase())
            .collect()
    });
    let hl = a.match_field_options.is_some_and(|m| m.include_highlights)
        || a.include_highlights.unwrap_or(false);
    Ok(SearchCursor {
        q: a.query,
        p: o.path,
        x: exts,
        c: cats,
        m,
        o: 0,
        f: o.filename_only,
        del,
        t: by_time,
        hl,
        acc: o.account_id,
    })
}

/// Route entry.
pub fn dispatch(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let cur = if call.route == "files/search/continue_v2" {
        let a: CursorArg = call.arg()?;
        // SearchError.invalid_argument is a nullable String, nested under its tag.
        SearchCursor::decode(&a.cursor)
            .ok_or_else(|| ApiError::Route(nest("invalid_argument", json!("Invalid cursor"))))?
    } else {
        parse(call)?
    };
    let caller = call.caller()?;
    let world = app.read_world();
    let view = caller.view.clone();
    search(&world, &view, cur)
}

/// How an item matched.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum How {
    Filename,
    FilenameAndContent,
    Content,
}

impl How {
    fn tag(self) -> &'static str {
        match self {
            How::Filename => "filename",
            How::FilenameAndContent => "filename_and_content",
            How::Content => "file_content",
        }
    }
}

fn text_of(node: &Node) -> Option<String> {
    use crate::content::Content;
    let d = node.data.as_ref()?;
    let bytes = match &d.content {
        Content::Stored(b) | Content::Paper(b) => b,
        _ => return None,
    };
    let cut = &bytes[..bytes.len().min(1 << 20)];
    std::str::from_utf8(cut).ok().map(str::to_lowercase)
}

fn matches(node: &Node, terms: &[String], filename_only: bool) -> Option<How> {
    let name = node.name.to_lowercase();
    let in_name = terms.iter().all(|t| name.contains(t.as_str()));
    if filename_only || node.kind == Kind::Folder {
        return in_name.then_some(How::Filename);
    }
    let text = text_of(node);
    let in_text = text
        .as_ref()
        .is_some_and(|t| !terms.is_empty() && terms.iter().all(|x| t.contains(x.as_str())));
    match (in_name, in_text) {
        (true, true) => Some(How::FilenameAndContent),
        (true, false) => Some(How::Filename),
        (false, true) => Some(How::Content),
        (false, false) => {
            let both = text.as_ref().is_some_and(|t| {
                terms
                    .iter()
                    .all(|x| name.contains(x.as_str()) || t.contains(x.as_str()))
            });
            both.then_some(How::Content)
        }
    }
}

/// `HighlightSpan`s of a name: the parts matching a term are highlighted.
fn highlight(name: &str, terms: &[String]) -> Vec<Value> {
    let chars: Vec<char> = name.chars().collect();
    let low: Vec<char> = name.to_lowercase().chars().collect();
    if low.len() != chars.len() {
        return vec![json!({"highlight_str": name, "is_highlighted": false})];
    }
    let mut mark = vec![false; chars.len()];
    for t in terms {
        let tc: Vec<char> = t.chars().collect();
        if tc.is_empty() || tc.len() > low.len() {
            continue;
        }
        for i in 0..=low.len() - tc.len() {
            if low[i..i + tc.len()] == tc[..] {
                mark[i..i + tc.len()].iter_mut().for_each(|m| *m = true);
            }
        }
    }
    let mut spans = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let j = (i..chars.len())
            .find(|&j| mark[j] != mark[i])
            .unwrap_or(chars.len());
        spans.push(
            json!({"highlight_str": chars[i..j].iter().collect::<String>(),
                          "is_highlighted": mark[i]}),
        );
        i = j;
    }
    spans
}

/// One match: how, its metadata, its modification time, its sort key, its highlights.
type Found = (How, Value, i64, String, Option<Vec<Value>>);

fn search(world: &World, view: &View, cur: SearchCursor) -> Result<Reply, ApiError> {
    let scope_virt = match &cur.p {
        Some(p) if !p.is_empty() => {
            let g = match world.resolve(view, p)? {
                Target::Path(g) => g,
                Target::Rev(_) => return Err(ApiError::path("not_folder")),
            };
            if !world.is_folder(view, &g) {
                return Err(ApiError::path(if world.get(view, &g).is_some() {
                    "not_folder"
                } else {
                    "not_found"
                }));
            }
            view.virt_lower(&g)
                .ok_or_else(|| ApiError::path("not_found"))?
        }
        _ => view.prefix_lower.clone(),
    };
    let terms: Vec<String> = cur
        .q
        .to_lowercase()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let owner_filter = cur.acc.as_ref().map(|id| world.account_by_id(id));
    let keep = |node: &Node| -> bool {
        if let Some(x) = &cur.x {
            let name = node.name.to_lowercase();
            let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
            if node.kind == Kind::Folder || !x.iter().any(|e| e == ext) {
                return false;
            }
        }
        if let Some(c) = &cur.c
            && !c.iter().any(|c| c == category(node))
        {
            return false;
        }
        if let Some(want) = owner_filter
            && (want.is_none() || world.owner_of(&node.path_lower) != want)
        {
            return false;
        }
        true
    };
    let mut found: Vec<Found> = Vec::new();
    if cur.del {
        for (k, (display, name)) in &world.tombstones {
            if found.len() >= MAX_MATCHES {
                break;
            }
            let Some(v) = view.virt_lower(k) else {
                continue;
            };
            if !strictly_below(&v, &scope_virt) || world.tree.contains_key(k) {
                continue;
            }
            let low = name.to_lowercase();
            if !terms.iter().all(|t| low.contains(t.as_str())) {
                continue;
            }
            if cur.x.is_some() || cur.c.is_some() {
                continue; // extension and category filters work with active files only
            }
            let d = view.virt_display(k, display).unwrap_or_default();
            let md = metadata::render_deleted_virtual(view, &v, &d, name);
            let hl = cur.hl.then(|| highlight(name, &terms));
            found.push((How::Filename, md, 0, v, hl));
        }
    } else {
        let nodes: Vec<Arc<Node>> = views::collect(
            world,
            view,
            &scope_virt,
            ScanOpts {
                recursive: true,
                mounted: true,
            },
        );
        for node in nodes {
            if found.len() >= MAX_MATCHES {
                break;
            }
            let Some(how) = matches(&node, &terms, cur.f) else {
                continue;
            };
            if !keep(&node) {
                continue;
            }
            let md = metadata::render(world, view, &node, true);
            let t = if node.kind == Kind::File {
                node.server_modified
            } else {
                i64::MIN
            };
            let exact = node.name.to_lowercase() == cur.q.trim().to_lowercase();
            let how = if exact { How::Filename } else { how };
            let hl = cur.hl.then(|| highlight(&node.name, &terms));
            let key = format!("{}{}", u8::from(!exact), node.path_lower);
            found.push((how, md, t, key, hl));
        }
    }
    if cur.t {
        found.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.3.cmp(&b.3)));
    } else {
        found.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.3.cmp(&b.3)));
    }
    let end = (cur.o + cur.m).min(found.len());
    let page: Vec<Value> = found
        .get(cur.o.min(end)..end)
        .unwrap_or(&[])
        .iter()
        .map(|(how, md, _, _, hl)| {
            let mut v = json!({"metadata": {".tag": "metadata", "metadata": md},
                               "match_type": {".tag": how.tag()}});
            if let (Some(hl), Some(o)) = (hl, v.as_object_mut()) {
                o.insert("highlight_spans".into(), Value::Array(hl.clone()));
            }
            v
        })
        .collect();
    let more = end < found.len();
    let mut out = json!({"matches": page, "has_more": more});
    if more {
        let next = SearchCursor { o: end, ..cur };
        if let Some(o) = out.as_object_mut() {
            o.insert("cursor".into(), json!(next.encode()));
        }
    }
    Ok(Reply::Json(out))
}
