//! Advanced sync rules against the live account: `check` looks each rule's `options.path` up
//! and counts what each rule selects; `search_error` names the rule whose search Dropbox
//! rejected. (The rules themselves, and their validation without network, are `rules`.)

use serde_json::json;

use crate::api::{Metadata, SearchResult};
use crate::client::{CallError, Client, RouteKind, Transport};
use crate::error::Error;
use crate::rules::{AdvancedRule, invalid};

/// Search pages read per rule when `check` counts its results (Dropbox stops at 10,000).
const CHECK_MAX_PAGES: usize = 100;

/// `check`: every rule's path exists, and how many items each selects on the live account.
pub fn check<T: Transport>(
    client: &Client<'_, T>,
    rules: &[AdvancedRule],
    default_path: &str,
) -> Result<String, Error> {
    let mut counts = Vec::with_capacity(rules.len());
    for (i, rule) in rules.iter().enumerate() {
        let name = rule.describe(i + 1);
        if let Some(path) = rule.path() {
            match client.rpc::<Metadata>(
                "files/get_metadata",
                Some(&json!({ "path": path })),
                RouteKind::Files,
            ) {
                Ok(Metadata::Folder(_)) => {}
                Ok(_) => {
                    return Err(invalid(format!(
                        "{name}: options.path {path:?} is a file; set it to a folder"
                    )));
                }
                Err(CallError::Status(e)) if e.status == 409 => {
                    return Err(invalid(format!(
                        "{name}: options.path {path:?} does not exist in this Dropbox ({}); fix the path or remove it",
                        e.label()
                    )));
                }
                Err(e) => return Err(e.into_error()),
            }
        }
        let mut ids = std::collections::HashSet::new();
        let mut r: SearchResult = client
            .rpc(
                "files/search_v2",
                Some(&rule.search_arg(default_path)),
                RouteKind::Files,
            )
            .map_err(|e| search_error(&name, e))?;
        let mut pages = 1;
        loop {
            for m in r.matches {
                match m.metadata.metadata {
                    Some(Metadata::File(f)) => ids.insert(f.id),
                    Some(Metadata::Folder(f)) => ids.insert(f.id),
                    _ => false,
                };
            }
            let Some(cursor) = r.cursor.filter(|c| r.has_more && !c.is_empty()) else {
                break;
            };
            if pages >= CHECK_MAX_PAGES {
                break;
            }
            pages += 1;
            r = client
                .rpc(
                    "files/search/continue_v2",
                    Some(&json!({ "cursor": cursor })),
                    RouteKind::Files,
                )
                .map_err(|e| search_error(&name, e))?;
        }
        counts.push(format!("{name}: {} item(s)", ids.len()));
    }
    Ok(format!("advanced rules select {}", counts.join(", ")))
}

/// A search failure, naming the rule.
pub fn search_error(rule: &str, e: CallError) -> Error {
    if let Some(api) = e.api()
        && (api.status == 400 || api.status == 409)
    {
        let why = if api.status == 400 && !api.text.is_empty() {
            api.text.clone()
        } else {
            api.label()
        };
        return invalid(format!(
            "{rule}: Dropbox rejected the search ({why}); fix the rule"
        ));
    }
    e.into_error()
}
