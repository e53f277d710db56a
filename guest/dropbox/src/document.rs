//! Dropbox metadata → search documents, content requests and changes.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;
use std::ops::Index;

use serde::Serialize;
use serde_json::Value;
#[cfg(test)]
use serde_json::json;

use crate::api::{FileMetadata, FolderMetadata, SharedFileMetadata, SharedLinkMetadata};
use crate::client::{Client, Request, Transport};
use crate::config::ExportFormat;
use crate::json_object::ObjectWriter;

/// Scope of documents found by listing the configured folder.
pub const SCOPE_FILES: &str = "files";
/// Scope of files shared with the account that are not in its Dropbox.
pub const SCOPE_RECEIVED: &str = "received";

/// `_allow_access_control` of a document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Access {
    /// Not written (document-level security is off and the document is only being
    /// updated): whatever the index holds stays.
    #[default]
    Omit,
    /// Written as `null`: document-level security is off, and a full enumeration clears
    /// what an earlier run with it on wrote (a partial update would otherwise keep it).
    Clear,
    /// The identities that may open the document.
    Allow(Vec<String>),
}

/// A download the host performs (mirrors WIT `content-request`).
#[derive(Debug, Clone, PartialEq)]
pub struct ContentRequest {
    pub request: Request,
    pub file_name: String,
    pub size: Option<u64>,
    pub content_key: Option<String>,
}

/// A document's fields: a JSON object, kept serialized (the form the host receives).
///
/// Lookups (`fields["name"]`, [`Fields::get`]) parse the JSON once, on first use; the
/// component itself only ever hands the text to the host.
#[derive(Default)]
pub struct Fields {
    json: String,
    /// Boxed: keeps `Fields` (and so [`Change`]) as small as a [`Value`].
    parsed: OnceCell<Box<Value>>,
}

impl Fields {
    /// Wrap an already-serialized JSON object.
    pub fn from_json(json: String) -> Fields {
        Fields {
            json,
            parsed: OnceCell::new(),
        }
    }

    /// Serialize `fields` (a struct or map serializing to a JSON object).
    pub fn new<T: Serialize + ?Sized>(fields: &T) -> Fields {
        Fields::with_capacity(fields, 128)
    }

    /// [`Fields::new`], reserving about `capacity` bytes up front (saves regrowing).
    pub fn with_capacity<T: Serialize + ?Sized>(fields: &T, capacity: usize) -> Fields {
        let mut buf = Vec::with_capacity(capacity);
        // Plain data with string keys always serializes, and always as UTF-8.
        let json = match serde_json::to_writer(&mut buf, fields) {
            Ok(()) => String::from_utf8(buf).unwrap_or_default(),
            Err(_) => String::new(),
        };
        Fields::from_json(json)
    }

    /// The serialized object.
    pub fn as_str(&self) -> &str {
        &self.json
    }

    /// The serialized object, without copying.
    pub fn into_string(self) -> String {
        self.json
    }

    /// The object as a [`Value`] (parsed on first use).
    pub fn value(&self) -> &Value {
        self.parsed
            .get_or_init(|| Box::new(serde_json::from_str(&self.json).unwrap_or(Value::Null)))
    }

    /// The value of field `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.value().get(key)
    }
}

impl From<Value> for Fields {
    fn from(v: Value) -> Fields {
        let f = Fields::from_json(v.to_string());
        let _ = f.parsed.set(Box::new(v));
        f
    }
}

impl Index<&str> for Fields {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        &self.value()[key]
    }
}

impl Clone for Fields {
    fn clone(&self) -> Fields {
        Fields::from_json(self.json.clone())
    }
}

impl PartialEq for Fields {
    fn eq(&self, other: &Fields) -> bool {
        self.json == other.json || self.value() == other.value()
    }
}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.json)
    }
}

impl fmt::Display for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.json)
    }
}

/// A document (mirrors WIT `document`).
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub id: String,
    pub scope: String,
    pub fields: Fields,
    pub content: Option<ContentRequest>,
}

/// One change (mirrors WIT `change`).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Upsert(Document),
    Delete {
        scope: String,
        id: String,
    },
    DeleteTree {
        scope: String,
        field: String,
        value: String,
    },
    BeginEnumeration(String),
    EndEnumeration(String),
}

/// A deleted path: the document there and everything below it go.
pub fn delete_tree(path_lower: &str) -> Change {
    Change::DeleteTree {
        scope: SCOPE_FILES.to_string(),
        field: "path_lower".to_string(),
        value: path_lower.to_string(),
    }
}

/// The extension of `name`: lower-case, without the dot, "" when there is none.
pub fn extension(name: &str) -> String {
    extension_cow(name).into_owned()
}

/// [`extension`], borrowing from `name` when it is already lower-case.
fn extension_cow(name: &str) -> Cow<'_, str> {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => {
            if ext.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
                Cow::Borrowed(ext)
            } else {
                Cow::Owned(ext.to_lowercase())
            }
        }
        _ => Cow::Borrowed(""),
    }
}

/// A MIME type guessed from the extension.
pub fn mime_type(ext: &str) -> &'static str {
    match ext {
        "txt" | "log" => "text/plain",
        "md" | "markdown" => "text/markdown",
        "csv" => "text/csv",
        "tsv" => "text/tab-separated-values",
        "html" | "htm" => "text/html",
        "xml" => "application/xml",
        "json" => "application/json",
        "rtf" => "application/rtf",
        "pdf" => "application/pdf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsm" => "application/vnd.ms-excel.sheet.macroEnabled.12",
        "xlsb" => "application/vnd.ms-excel.sheet.binary.macroEnabled.12",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "potx" => "application/vnd.openxmlformats-officedocument.presentationml.template",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "odp" => "application/vnd.oasis.opendocument.presentation",
        "vsd" => "application/vnd.visio",
        "vsdx" | "vsdm" => "application/vnd.ms-visio.drawing",
        "msg" => "application/vnd.ms-outlook",
        "eml" => "message/rfc822",
        "paper" => "application/vnd.dropbox.paper",
        "gdoc" => "application/vnd.google-apps.document",
        "gsheet" => "application/vnd.google-apps.spreadsheet",
        "gslides" => "application/vnd.google-apps.presentation",
        "py" => "text/x-python",
        "rs" => "text/x-rust",
        "rb" => "text/x-ruby",
        "sh" => "application/x-sh",
        "js" => "text/javascript",
        "css" => "text/css",
        "rst" => "text/x-rst",
        "aspx" => "text/html",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "tif" | "tiff" => "image/tiff",
        "bmp" => "image/bmp",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "m4a" => "audio/mp4",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "7z" => "application/x-7z-compressed",
        "epub" => "application/epub+zip",
        _ => "application/octet-stream",
    }
}

/// Append `s` percent-encoded (RFC 3986 unreserved chars kept) to `out`.
fn percent_encode_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut rest = s;
    while let Some(i) = rest
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')))
    {
        out.push_str(&rest[..i]);
        let c = rest[i..].chars().next().unwrap_or_default();
        let mut buf = [0u8; 4];
        for &b in c.encode_utf8(&mut buf).as_bytes() {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xF)] as char);
        }
        rest = &rest[i + c.len_utf8()..];
    }
    out.push_str(rest);
}

/// Percent-encode one URL path segment or query value (RFC 3986 unreserved chars kept).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    percent_encode_into(&mut out, s);
    out
}

/// Append every `/`-separated segment of `path` percent-encoded, keeping the slashes.
fn encode_path_into(out: &mut String, path: &str) {
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        percent_encode_into(out, segment);
    }
}

/// Percent-encode every segment of a `/`-separated path, keeping the slashes.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    encode_path_into(&mut out, path);
    out
}

/// Link to a file's preview on the Dropbox website.
pub fn file_web_url(web_url: &str, path_display: &str, name: &str) -> String {
    let parent = match path_display.rfind('/') {
        Some(i) => &path_display[..i],
        None => "",
    };
    let mut out = String::with_capacity(web_url.len() + 14 + parent.len() + name.len() + 16);
    out.push_str(web_url);
    out.push_str("/home");
    encode_path_into(&mut out, parent);
    out.push_str("?preview=");
    percent_encode_into(&mut out, name);
    out
}

/// Link to a folder on the Dropbox website.
pub fn folder_web_url(web_url: &str, path_display: &str) -> String {
    let mut out = String::with_capacity(web_url.len() + 5 + path_display.len() + 16);
    out.push_str(web_url);
    out.push_str("/home");
    encode_path_into(&mut out, path_display);
    out
}

/// How a file's content is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    /// `files/download`.
    Download,
    /// `files/export` in the configured format.
    Export,
    /// Not downloadable and not exportable in the configured format.
    None,
}

/// Decide how to fetch a file's content.
pub fn content_kind(f: &FileMetadata, format: ExportFormat) -> ContentKind {
    if f.is_downloadable {
        ContentKind::Download
    } else if f
        .export_info
        .as_ref()
        .is_some_and(|e| e.offers(format.as_str()))
    {
        ContentKind::Export
    } else if f.export_info.is_none() && extension_cow(&f.name) == "paper" {
        // Search results may leave export_info out; a Paper doc always exports to both
        // formats (Elastic's connector indexes such matches without content).
        ContentKind::Export
    } else {
        ContentKind::None
    }
}

/// Fields earlier versions wrote and this one does not: `file_path` carries `path_display`,
/// `_timestamp` carries `server_modified`. They are written as `null`, which the host leaves
/// out of a replacing write (no bytes sent) and sends in a merge, where it clears the value an
/// older version stored on a document whose content has not changed since (see
/// docs/mapping.md).
const RETIRED_PATH_DISPLAY: &str = "path_display";
const RETIRED_SERVER_MODIFIED: &str = "server_modified";

/// `_allow_access_control`: left out, `null` (cleared) or the identities.
fn write_access(w: &mut ObjectWriter, access: &Access) {
    match access {
        Access::Omit => {}
        Access::Clear => w.null("_allow_access_control"),
        Access::Allow(ids) => w.value("_allow_access_control", ids),
    }
}

/// `files/download` argument.
#[derive(Serialize)]
struct PathArg<'a> {
    path: &'a str,
}

/// `files/export` argument (key order).
#[derive(Serialize)]
struct ExportArg<'a> {
    export_format: &'static str,
    path: &'a str,
}

/// `sharing/get_shared_link_file` argument.
#[derive(Serialize)]
struct UrlArg<'a> {
    url: &'a str,
}

/// The document for a file or Paper doc found by `list_folder`.
pub fn file_document<T: Transport>(f: &FileMetadata, client: &Client<'_, T>) -> Document {
    file_document_owned(f.clone(), client)
}

/// [`file_document`] for an entry the caller no longer needs: its strings move into the
/// document instead of being copied.
pub fn file_document_owned<T: Transport>(f: FileMetadata, client: &Client<'_, T>) -> Document {
    file_document_with(f, client, &Access::Omit)
}

/// [`file_document_owned`] with its `_allow_access_control`.
pub fn file_document_with<T: Transport>(
    f: FileMetadata,
    client: &Client<'_, T>,
    access: &Access,
) -> Document {
    let cfg = client.config;
    let ext = extension_cow(&f.name);
    let is_paper = ext == "paper";
    let parent_shared = f.parent_shared_folder_id.as_deref().or_else(|| {
        f.sharing_info
            .as_ref()
            .and_then(|s| s.parent_shared_folder_id.as_deref())
    });
    let web_url = f
        .path_display
        .as_deref()
        .map(|p| file_web_url(&cfg.web_url, p, &f.name));
    let capacity = 400
        + f.id.len()
        + 2 * f.name.len()
        + f.path_display.as_ref().map_or(0, String::len)
        + f.path_lower.as_ref().map_or(0, String::len)
        + f.content_hash.as_ref().map_or(0, String::len)
        + f.rev.as_ref().map_or(0, String::len)
        + web_url.as_ref().map_or(0, String::len);
    // Members in key order (what a sorted map would write); absent options are left out.
    let mut w = ObjectWriter::with_capacity(capacity);
    write_access(&mut w, access);
    w.opt_str("_timestamp", f.server_modified.as_deref());
    w.opt_str("client_modified", f.client_modified.as_deref());
    w.opt_str("content_hash", f.content_hash.as_deref());
    w.str("extension", &ext);
    w.opt_str("file_path", f.path_display.as_deref());
    w.str("id", &f.id);
    w.bool("is_downloadable", f.is_downloadable);
    w.str("mime_type", mime_type(&ext));
    w.str("name", &f.name);
    if is_paper {
        w.bool("paper", true);
    }
    w.opt_str("parent_shared_folder_id", parent_shared);
    w.null(RETIRED_PATH_DISPLAY);
    w.opt_str("path_lower", f.path_lower.as_deref());
    w.opt_bool("read_only", f.sharing_info.as_ref().map(|s| s.read_only));
    w.opt_str("rev", f.rev.as_deref());
    w.null(RETIRED_SERVER_MODIFIED);
    w.u64("size", f.size);
    w.str("source", "dropbox");
    w.str("type", "File");
    w.opt_str("web_url", web_url.as_deref());
    let fields = Fields::from_json(w.finish());

    let kind = if cfg.fetch_content {
        content_kind(&f, cfg.export_format)
    } else {
        ContentKind::None
    };
    let content = match kind {
        ContentKind::Download => {
            let request = client.download_request("files/download", &PathArg { path: &f.id });
            Some(ContentRequest {
                request,
                file_name: f.name,
                size: Some(f.size),
                content_key: f.content_hash,
            })
        }
        ContentKind::Export => Some(ContentRequest {
            request: client.download_request(
                "files/export",
                &ExportArg {
                    export_format: cfg.export_format.as_str(),
                    path: &f.id,
                },
            ),
            file_name: export_file_name(&f.name, cfg.export_format),
            size: None,
            content_key: f.rev.as_ref().map(|r| format!("rev:{r}")),
        }),
        ContentKind::None => None,
    };
    Document {
        id: f.id,
        scope: SCOPE_FILES.to_string(),
        fields,
        content,
    }
}

/// The file name that makes the host pick the right extractor for exported bytes.
/// The file name the host's extractor sees: the export's own type, so no host needs to know
/// what a `.paper` file is.
fn export_file_name(name: &str, format: ExportFormat) -> String {
    match format {
        ExportFormat::Markdown => format!("{name}.md"),
        ExportFormat::Html => format!("{name}.html"),
    }
}

/// The document for a folder found by `list_folder`.
pub fn folder_document(f: &FolderMetadata, web_url: &str) -> Document {
    folder_document_owned(f.clone(), web_url)
}

/// [`folder_document`] for an entry the caller no longer needs (its id moves).
pub fn folder_document_owned(f: FolderMetadata, web_url: &str) -> Document {
    folder_document_with(f, web_url, &Access::Omit)
}

/// [`folder_document_owned`] with its `_allow_access_control`.
pub fn folder_document_with(f: FolderMetadata, web_url: &str, access: &Access) -> Document {
    let parent_shared = f.parent_shared_folder_id.as_deref().or_else(|| {
        f.sharing_info
            .as_ref()
            .and_then(|s| s.parent_shared_folder_id.as_deref())
    });
    let shared = f.shared_folder_id.as_deref().or_else(|| {
        f.sharing_info
            .as_ref()
            .and_then(|s| s.shared_folder_id.as_deref())
    });
    let url = f
        .path_display
        .as_deref()
        .map(|p| folder_web_url(web_url, p));
    let capacity = 300
        + f.id.len()
        + f.name.len()
        + f.path_display.as_ref().map_or(0, String::len)
        + f.path_lower.as_ref().map_or(0, String::len)
        + url.as_ref().map_or(0, String::len);
    let mut w = ObjectWriter::with_capacity(capacity);
    write_access(&mut w, access);
    w.opt_str("file_path", f.path_display.as_deref());
    w.str("id", &f.id);
    w.str("name", &f.name);
    w.opt_str("parent_shared_folder_id", parent_shared);
    w.null(RETIRED_PATH_DISPLAY);
    w.opt_str("path_lower", f.path_lower.as_deref());
    w.opt_bool("read_only", f.sharing_info.as_ref().map(|s| s.read_only));
    w.opt_str("shared_folder_id", shared);
    w.u64("size", 0);
    w.str("source", "dropbox");
    w.str("type", "Folder");
    w.opt_str("web_url", url.as_deref());
    let fields = Fields::from_json(w.finish());
    Document {
        id: f.id,
        scope: SCOPE_FILES.to_string(),
        fields,
        content: None,
    }
}

/// The document for a file shared with the account, resolved through its shared link.
pub fn received_document<T: Transport>(
    f: &SharedFileMetadata,
    link: &SharedLinkMetadata,
    client: &Client<'_, T>,
    access: &Access,
) -> Document {
    let ext = extension_cow(&f.name);
    let mut w = ObjectWriter::with_capacity(384 + 2 * f.preview_url.len());
    write_access(&mut w, access);
    w.opt_str("_timestamp", link.server_modified.as_deref());
    w.opt_str("client_modified", link.client_modified.as_deref());
    w.str("extension", &ext);
    w.str("id", &f.id);
    w.str("mime_type", mime_type(&ext));
    w.str("name", &f.name);
    if !f.owner_display_names.is_empty() {
        w.str("owner", &f.owner_display_names.join(", "));
    }
    w.opt_str(
        "parent_shared_folder_id",
        f.parent_shared_folder_id.as_deref(),
    );
    w.opt_str("rev", link.rev.as_deref());
    w.null(RETIRED_SERVER_MODIFIED);
    w.u64("size", link.size.unwrap_or(0));
    w.str("source", "dropbox");
    w.str("type", "File");
    w.str("url", &f.preview_url);
    w.str("web_url", &f.preview_url);
    let fields = Fields::from_json(w.finish());
    let content = client.config.fetch_content.then(|| ContentRequest {
        request: client.download_request(
            "sharing/get_shared_link_file",
            &UrlArg {
                url: &f.preview_url,
            },
        ),
        file_name: f.name.clone(),
        size: link.size,
        content_key: link.rev.as_ref().map(|r| format!("rev:{r}")),
    });
    Document {
        id: f.id.clone(),
        scope: SCOPE_RECEIVED.to_string(),
        fields,
        content,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ExportInfo, SharingInfo};
    use crate::client::{Context, Level, Response, TransportError};
    use crate::config::Config;

    struct NoNet;
    impl Transport for NoNet {
        fn send(&self, _: Request) -> Result<Response, TransportError> {
            Err(TransportError::Denied("no network in unit tests".into()))
        }
        fn log(&self, _: Level, _: &str) {}
    }

    fn config() -> Config {
        Config::parse(r#"{"app_key":"k"}"#).unwrap()
    }

    fn file() -> FileMetadata {
        FileMetadata {
            name: "Q1 Report.PDF".into(),
            id: "id:AAAAAAAAAAAAAAAAAAAAAg".into(),
            path_lower: Some("/reports/q1 report.pdf".into()),
            path_display: Some("/Reports/Q1 Report.PDF".into()),
            client_modified: Some("2024-04-01T09:00:00Z".into()),
            server_modified: Some("2024-04-01T09:00:05Z".into()),
            rev: Some("015f1a2b3c4d5e6f70000000100".into()),
            size: 7212,
            sharing_info: Some(SharingInfo {
                read_only: false,
                parent_shared_folder_id: Some("84528192421".into()),
                ..Default::default()
            }),
            is_downloadable: true,
            content_hash: Some("e3b0c442".into()),
            ..Default::default()
        }
    }

    #[test]
    fn file_fields_match_the_elastic_schema_and_more() {
        let cfg = config();
        let client = Client::new(&NoNet, &cfg);
        let d = file_document(&file(), &client);
        assert_eq!(d.id, "id:AAAAAAAAAAAAAAAAAAAAAg");
        assert_eq!(d.scope, "files");
        let f = &d.fields;
        assert_eq!(f["id"], "id:AAAAAAAAAAAAAAAAAAAAAg");
        assert_eq!(f["type"], "File");
        assert_eq!(f["name"], "Q1 Report.PDF");
        assert_eq!(f["file_path"], "/Reports/Q1 Report.PDF");
        assert_eq!(f["path_lower"], "/reports/q1 report.pdf");
        assert_eq!(f["extension"], "pdf");
        assert_eq!(f["mime_type"], "application/pdf");
        assert_eq!(f["size"], 7212);
        assert_eq!(f["_timestamp"], "2024-04-01T09:00:05Z");
        assert_eq!(f["client_modified"], "2024-04-01T09:00:00Z");
        assert_eq!(f["rev"], "015f1a2b3c4d5e6f70000000100");
        assert_eq!(f["content_hash"], "e3b0c442");
        assert_eq!(f["is_downloadable"], true);
        assert_eq!(f["parent_shared_folder_id"], "84528192421");
        assert_eq!(
            f["web_url"],
            "https://www.dropbox.com/home/Reports?preview=Q1%20Report.PDF"
        );
        assert_eq!(f["source"], "dropbox");
        assert!(f.get("paper").is_none());
        // Retired duplicates: written as null, so a merge clears what an older version stored.
        assert_eq!(f.get("path_display"), Some(&Value::Null));
        assert_eq!(f.get("server_modified"), Some(&Value::Null));
        let c = d.content.unwrap();
        assert_eq!(
            c.request.url,
            "https://content.dropboxapi.com/2/files/download"
        );
        assert_eq!(
            c.request.header("Dropbox-API-Arg"),
            Some(r#"{"path":"id:AAAAAAAAAAAAAAAAAAAAAg"}"#)
        );
        assert!(c.request.authorized);
        assert!(c.request.body.is_none());
        assert_eq!(c.file_name, "Q1 Report.PDF");
        assert_eq!(c.size, Some(7212));
        assert_eq!(c.content_key.as_deref(), Some("e3b0c442"));
    }

    #[test]
    fn team_context_headers_ride_on_downloads() {
        let cfg = config();
        let mut client = Client::new(&NoNet, &cfg);
        client.context = Context::new(Some("dbmid:AAA1".into()), Some("3235641"));
        let mut f = file();
        f.path_display = Some("/Team Space/Ünï/a.txt".into());
        f.name = "a.txt".into();
        let d = file_document(&f, &client);
        let req = d.content.unwrap().request;
        assert_eq!(req.header("Dropbox-API-Select-User"), Some("dbmid:AAA1"));
        assert_eq!(
            req.header("Dropbox-API-Path-Root"),
            Some(r#"{".tag":"root","root":"3235641"}"#)
        );
        assert_eq!(
            d.fields["web_url"],
            "https://www.dropbox.com/home/Team%20Space/%C3%9Cn%C3%AF?preview=a.txt"
        );
    }

    #[test]
    fn paper_is_exported_and_keyed_by_rev() {
        let cfg = config();
        let client = Client::new(&NoNet, &cfg);
        let f = FileMetadata {
            name: "Plan.paper".into(),
            id: "id:P".into(),
            path_lower: Some("/plan.paper".into()),
            path_display: Some("/Plan.paper".into()),
            server_modified: Some("2024-04-02T10:05:00Z".into()),
            client_modified: Some("2024-04-02T10:00:00Z".into()),
            rev: Some("6049e811a4f7f35ba4193".into()),
            size: 200,
            is_downloadable: false,
            export_info: Some(ExportInfo {
                export_as: Some("html".into()),
                export_options: vec!["html".into(), "markdown".into()],
            }),
            ..Default::default()
        };
        let d = file_document(&f, &client);
        assert_eq!(d.fields["paper"], true);
        assert_eq!(d.fields["_timestamp"], "2024-04-02T10:05:00Z");
        assert_eq!(d.fields["is_downloadable"], false);
        let c = d.content.unwrap();
        assert_eq!(
            c.request.url,
            "https://content.dropboxapi.com/2/files/export"
        );
        let arg: Value =
            serde_json::from_str(c.request.header("Dropbox-API-Arg").unwrap()).unwrap();
        assert_eq!(arg, json!({"path": "id:P", "export_format": "markdown"}));
        assert_eq!(c.file_name, "Plan.paper.md");
        assert_eq!(c.size, None);
        assert_eq!(c.content_key.as_deref(), Some("rev:6049e811a4f7f35ba4193"));
    }

    #[test]
    fn paper_without_export_info_is_still_exported() {
        let f = FileMetadata {
            name: "Notes.paper".into(),
            id: "id:P".into(),
            is_downloadable: false,
            ..Default::default()
        };
        assert_eq!(
            content_kind(&f, ExportFormat::Markdown),
            ContentKind::Export
        );
    }

    #[test]
    fn access_is_omitted_cleared_or_listed() {
        let cfg = config();
        let client = Client::new(&NoNet, &cfg);
        let d = file_document(&file(), &client);
        assert!(!d.fields.as_str().contains("_allow_access_control"));
        let d = file_document_with(file(), &client, &Access::Clear);
        assert!(
            d.fields
                .as_str()
                .starts_with(r#"{"_allow_access_control":null,"#)
        );
        let allow = Access::Allow(vec!["email:a@x.org".into(), "user_id:dbid:A".into()]);
        let d = file_document_with(file(), &client, &allow);
        assert_eq!(
            d.fields["_allow_access_control"],
            json!(["email:a@x.org", "user_id:dbid:A"])
        );
        let f = FolderMetadata {
            name: "d".into(),
            id: "id:F".into(),
            ..Default::default()
        };
        let d = folder_document_with(f, "https://www.dropbox.com", &allow);
        assert_eq!(d.fields["_allow_access_control"][1], "user_id:dbid:A");
    }

    #[test]
    fn non_exportable_google_doc_has_no_content() {
        let cfg = config();
        let client = Client::new(&NoNet, &cfg);
        let f = FileMetadata {
            name: "Sheet.gsheet".into(),
            id: "id:G".into(),
            is_downloadable: false,
            export_info: Some(ExportInfo {
                export_as: Some("xlsx".into()),
                export_options: vec!["xlsx".into()],
            }),
            ..Default::default()
        };
        let d = file_document(&f, &client);
        assert!(d.content.is_none());
        assert!(d.fields.get("web_url").is_none());
        assert!(d.fields.get("file_path").is_none());
    }

    #[test]
    fn html_export_gets_an_html_file_name() {
        let cfg = Config::parse(r#"{"app_key":"k","export_format":"html"}"#).unwrap();
        assert_eq!(
            export_file_name("Plan.paper", cfg.export_format),
            "Plan.paper.html"
        );
    }

    #[test]
    fn folder_fields_omit_timestamp_and_mime_type() {
        let f = FolderMetadata {
            name: "Reports & Co".into(),
            id: "id:F".into(),
            path_lower: Some("/shared/reports & co".into()),
            path_display: Some("/Shared/Reports & Co".into()),
            shared_folder_id: None,
            sharing_info: Some(SharingInfo {
                read_only: true,
                shared_folder_id: Some("84".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let d = folder_document(&f, "https://www.dropbox.com");
        assert_eq!(d.fields["type"], "Folder");
        assert_eq!(d.fields["size"], 0);
        assert_eq!(d.fields["shared_folder_id"], "84");
        assert_eq!(d.fields["read_only"], true);
        assert!(d.fields.get("_timestamp").is_none());
        assert!(d.fields.get("mime_type").is_none());
        assert!(d.fields.get("extension").is_none());
        assert_eq!(d.fields["file_path"], "/Shared/Reports & Co");
        assert_eq!(d.fields.get("path_display"), Some(&Value::Null));
        assert_eq!(
            d.fields["web_url"],
            "https://www.dropbox.com/home/Shared/Reports%20%26%20Co"
        );
        assert!(d.content.is_none());
    }

    #[test]
    fn received_file_uses_link_metadata_and_shared_link_download() {
        let cfg = config();
        let client = Client::new(&NoNet, &cfg);
        let f = SharedFileMetadata {
            id: "id:R".into(),
            name: "brief.docx".into(),
            preview_url: "https://www.dropbox.com/scl/fi/abc/brief.docx?dl=0".into(),
            owner_display_names: vec!["Bob".into(), "Carol".into()],
            ..Default::default()
        };
        let link = SharedLinkMetadata {
            tag: "file".into(),
            name: "brief.docx".into(),
            server_modified: Some("2024-05-01T12:00:00Z".into()),
            rev: Some("a1b2c3d4e5".into()),
            size: Some(99),
            ..Default::default()
        };
        let d = received_document(&f, &link, &client, &Access::Omit);
        assert_eq!(d.scope, "received");
        assert_eq!(d.fields["url"], f.preview_url);
        assert_eq!(d.fields["web_url"], f.preview_url);
        assert_eq!(d.fields["owner"], "Bob, Carol");
        assert_eq!(d.fields["size"], 99);
        assert_eq!(d.fields["_timestamp"], "2024-05-01T12:00:00Z");
        assert!(d.fields.get("file_path").is_none());
        let c = d.content.unwrap();
        assert_eq!(
            c.request.url,
            "https://content.dropboxapi.com/2/sharing/get_shared_link_file"
        );
        assert_eq!(c.content_key.as_deref(), Some("rev:a1b2c3d4e5"));
    }

    #[test]
    fn extensions_and_web_urls_handle_edge_cases() {
        assert_eq!(extension("README"), "");
        assert_eq!(extension(".bashrc"), "");
        assert_eq!(extension("a.tar.GZ"), "gz");
        assert_eq!(
            file_web_url("https://www.dropbox.com", "/a.txt", "a.txt"),
            "https://www.dropbox.com/home?preview=a.txt"
        );
        assert_eq!(
            file_web_url("https://www.dropbox.com", "/d/資料 #1.txt", "資料 #1.txt"),
            "https://www.dropbox.com/home/d?preview=%E8%B3%87%E6%96%99%20%231.txt"
        );
        assert_eq!(percent_encode("a+b?c"), "a%2Bb%3Fc");
    }
}
