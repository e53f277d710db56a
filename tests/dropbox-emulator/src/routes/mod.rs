//! API route table, the per-call context, and helpers shared by the route modules.

pub mod admin;
pub mod admin_team;
pub mod files;
pub mod search;
pub mod sharing;
pub mod team;
pub mod team_log;
pub mod users;

use crate::app::App;
use crate::content::Body;
use crate::errors::{ApiError, decode_error};
use crate::state::{View, World};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How the argument and result travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// JSON body in, JSON body out.
    Rpc,
    /// `Dropbox-API-Arg` in, bytes out with `Dropbox-API-Result`.
    Download,
    /// `Dropbox-API-Arg` + bytes in, JSON out.
    Upload,
}

/// Which token a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// A user token, or a team token with Select-User/Select-Admin.
    User,
    /// A team token.
    Team,
    /// `app, user`: a user token (as [`AuthKind::User`]) or HTTP Basic app auth
    /// (`app_key:app_secret`), which leaves the call without a caller.
    AppUser,
    /// Any valid bearer token, user or team, with no Select-User needed (`auth/token/revoke`).
    AnyToken,
    /// No token (longpoll).
    None,
}

/// Static facts about a route.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Transport style.
    pub style: Style,
    /// Auth type.
    pub auth: AuthKind,
    /// The argument is Void.
    pub void: bool,
}

const fn rpc(auth: AuthKind) -> Spec {
    Spec {
        style: Style::Rpc,
        auth,
        void: false,
    }
}

/// Look a route up by name (`files/list_folder`).
pub fn spec(name: &str) -> Option<Spec> {
    use AuthKind::*;
    Some(match name {
        "users/get_current_account" => Spec {
            void: true,
            ..rpc(User)
        },
        "team/token/get_authenticated_admin" => Spec {
            void: true,
            ..rpc(Team)
        },
        "files/list_folder/longpoll" => rpc(None),
        "auth/token/revoke" => Spec {
            void: true,
            ..rpc(AnyToken)
        },
        "files/download" | "files/export" => Spec {
            style: Style::Download,
            auth: User,
            void: false,
        },
        "sharing/get_shared_link_file" => Spec {
            style: Style::Download,
            auth: AppUser,
            void: false,
        },
        "files/upload" => Spec {
            style: Style::Upload,
            auth: User,
            void: false,
        },
        "files/list_folder" | "sharing/get_shared_link_metadata" => rpc(AppUser),
        "files/list_folder/continue"
        | "files/list_folder/get_latest_cursor"
        | "files/get_metadata"
        | "files/get_temporary_link"
        | "files/search_v2"
        | "files/search/continue_v2"
        | "files/create_folder_v2"
        | "files/delete_v2"
        | "files/move_v2"
        | "sharing/list_received_files"
        | "sharing/list_received_files/continue"
        | "sharing/list_file_members"
        | "sharing/list_file_members/batch"
        | "sharing/list_file_members/continue"
        | "sharing/list_folder_members"
        | "sharing/list_folder_members/continue"
        | "sharing/get_folder_metadata"
        | "sharing/list_folders"
        | "sharing/list_folders/continue"
        | "users/get_account"
        | "users/get_account_batch" => rpc(User),
        "team/members/list_v2"
        | "team/members/list/continue_v2"
        | "team/members/list"
        | "team/members/list/continue"
        | "team/groups/list"
        | "team/groups/list/continue"
        | "team/groups/members/list"
        | "team/groups/members/list/continue"
        | "team/namespaces/list"
        | "team/namespaces/list/continue"
        | "team/team_folder/list"
        | "team/team_folder/list/continue"
        | "team_log/get_events"
        | "team_log/get_events/continue" => rpc(Team),
        _ => return Option::None,
    })
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Account index (the admin for team routes).
    pub account: usize,
    /// Path view (home, team root, or a namespace).
    pub view: View,
    /// The bearer token the call was made with.
    pub token: String,
}

/// One decoded API call.
pub struct Call<'a> {
    /// Route name.
    pub route: &'a str,
    /// Decoded JSON argument.
    pub arg: Value,
    /// Where the argument came from, for error wording.
    pub arg_source: &'static str,
    /// Caller (absent on noauth routes and on `app, user` routes called with app auth).
    pub caller: Option<Caller>,
    /// Request body (uploads).
    pub body: bytes::Bytes,
    /// Request headers.
    pub headers: &'a HeaderMap,
}

impl Call<'_> {
    /// Decode the argument strictly (unknown fields are a 400).
    pub fn arg<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        T::deserialize(&self.arg).map_err(|e| decode_error(self.route, self.arg_source, &e))
    }

    /// The caller; noauth routes never ask.
    pub fn caller(&self) -> Result<&Caller, ApiError> {
        self.caller
            .as_ref()
            .ok_or_else(|| ApiError::Status(500, "route needs a caller".into()))
    }

    /// A 400 about one argument field.
    pub fn bad_field(&self, field: &str, reason: impl AsRef<str>) -> ApiError {
        ApiError::bad(
            self.route,
            format!("{}: {field}: {}", self.arg_source, reason.as_ref()),
        )
    }
}

/// A successful answer.
pub enum Reply {
    /// JSON body.
    Json(Value),
    /// Bytes with a `Dropbox-API-Result` header.
    Download {
        /// Header JSON.
        result: Value,
        /// Bytes.
        body: Body,
        /// 200 or 206.
        status: u16,
        /// `Content-Range` for 206.
        content_range: Option<String>,
    },
}

const PATH_PATTERN: &str = r"(/(.|[\r\n])*)?|id:.*|(ns:[0-9]+(/.*)?)";

/// Validate a path argument; `root_ok` for list_folder-style routes.
pub fn check_path(call: &Call, field: &str, p: &str, root_ok: bool) -> Result<(), ApiError> {
    if p == "/" {
        return Err(call.bad_field(
            field,
            "Specify the root folder as an empty string rather than as \"/\".",
        ));
    }
    if p.is_empty() {
        return if root_ok {
            Ok(())
        } else {
            Err(call.bad_field(field, "The root folder is unsupported."))
        };
    }
    let ok = if p.starts_with("id:") || p.starts_with("rev:") {
        p.len() > 3
    } else if let Some(rest) = p.strip_prefix("ns:") {
        let ns = rest.split('/').next().unwrap_or("");
        !ns.is_empty() && ns.bytes().all(|b| b.is_ascii_digit())
    } else {
        p.starts_with('/') && !p.ends_with('/') && !p.ends_with(char::is_whitespace)
    };
    if ok {
        Ok(())
    } else {
        Err(call.bad_field(
            field,
            format!("'{p}' did not match pattern '{PATH_PATTERN}'"),
        ))
    }
}

/// The view a path argument is interpreted in (`ns:` paths re-root the view).
/// Borrowed unless the path names another namespace (views of big teams are costly to copy).
pub fn view_for_path<'a>(
    world: &World,
    caller: &'a Caller,
    path: &str,
) -> Result<std::borrow::Cow<'a, View>, ApiError> {
    if let Some(rest) = path.strip_prefix("ns:") {
        let ns = rest.split('/').next().unwrap_or("");
        return world
            .namespace_view(caller.account, ns, caller.view.admin)
            .map(std::borrow::Cow::Owned)
            .ok_or_else(|| ApiError::path("not_found"));
    }
    Ok(std::borrow::Cow::Borrowed(&caller.view))
}

/// Generic offset cursor for sharing and team listings.
#[derive(Serialize, Deserialize, Default, Clone)]
pub struct OffsetCursor {
    /// Listing kind.
    pub k: String,
    /// Next offset.
    pub o: usize,
    /// Page size.
    pub l: usize,
    /// Listing subject (file id, folder id).
    #[serde(default)]
    pub x: String,
    /// Include inherited members (member listings).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub i: bool,
    /// Actions to report permissions for (member listings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub a: Vec<String>,
    /// The account the listing was made for (a cursor is not transferable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub u: Option<usize>,
}

impl OffsetCursor {
    /// Opaque string form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Parse a cursor of kind `kind`; `None` when invalid.
    pub fn decode(s: &str, kind: &str) -> Option<Self> {
        let raw = URL_SAFE_NO_PAD.decode(s).ok()?;
        let c: OffsetCursor = serde_json::from_slice(&raw).ok()?;
        (c.k == kind).then_some(c)
    }
}

/// `{"cursor": …}` argument of continue routes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CursorArg {
    /// The cursor.
    pub cursor: String,
}

/// Run a synchronous route.
pub fn dispatch(app: &App, call: &Call) -> Result<Reply, ApiError> {
    match call.route {
        "users/get_current_account" => users::get_current_account(app, call),
        "users/get_account" => users::get_account(app, call),
        "users/get_account_batch" => users::get_account_batch(app, call),
        "auth/token/revoke" => {
            let caller = call.caller()?;
            app.tokens().revoke(&caller.token);
            Ok(Reply::Json(Value::Null))
        }
        r if r.starts_with("files/") => files::dispatch(app, call),
        r if r.starts_with("sharing/") => sharing::dispatch(app, call),
        r if r.starts_with("team/") => team::dispatch(app, call),
        r if r.starts_with("team_log/") => team_log::dispatch(app, call),
        r => Err(ApiError::Status(
            404,
            format!("Unknown API function: \"{r}\""),
        )),
    }
}
