//! JSON rendering of `Metadata` (file / folder / deleted) as a caller's view sees it.

use crate::clock;
use crate::state::{Kind, Node, View, World};
use serde_json::{Map, Value, json};

/// Sharing context of a global path: the shared folder it lives in, if any.
fn shared_parent<'a>(world: &'a World, node_lower: &str) -> Option<&'a String> {
    if world.shared_mounts.is_empty() {
        return None;
    }
    let rest = node_lower.get(1..)?;
    let top = match rest.find('/') {
        Some(i) => &node_lower[..=i],
        None => return None, // the mount point itself is not inside a shared folder
    };
    world.shared_mounts.get(top)
}

/// Render a file or folder. `with_tag` adds `.tag` (polymorphic `Metadata`).
pub fn render(world: &World, view: &View, node: &Node, with_tag: bool) -> Value {
    let mut m = Map::new();
    if with_tag {
        let t = match node.kind {
            Kind::File => "file",
            Kind::Folder => "folder",
        };
        m.insert(".tag".into(), Value::String(t.into()));
    }
    m.insert("name".into(), Value::String(node.name.clone()));
    m.insert(
        "path_lower".into(),
        Value::String(view.rel_lower(&node.path_lower).to_string()),
    );
    m.insert(
        "path_display".into(),
        Value::String(view.rel_display(&node.path_display).to_string()),
    );
    m.insert("id".into(), Value::String(node.id.clone()));
    let parent_shared = shared_parent(world, &node.path_lower);
    if let Some(ns) = parent_shared {
        m.insert("parent_shared_folder_id".into(), Value::String(ns.clone()));
    }
    match node.kind {
        Kind::File => {
            m.insert(
                "client_modified".into(),
                Value::String(clock::format(node.client_modified)),
            );
            m.insert(
                "server_modified".into(),
                Value::String(clock::format(node.server_modified)),
            );
            m.insert("rev".into(), Value::String(node.rev.clone()));
            let (size, hash) = node
                .data
                .as_ref()
                .map_or((0, crate::content_hash::EMPTY_HASH), |d| {
                    (d.size(), d.hash())
                });
            m.insert("size".into(), json!(size));
            if let Some(ns) = parent_shared {
                let modified_by = world
                    .accounts
                    .get(world.default_account())
                    .map(|a| a.account_id.clone())
                    .unwrap_or_default();
                m.insert(
                    "sharing_info".into(),
                    json!({"read_only": false, "parent_shared_folder_id": ns, "modified_by": modified_by}),
                );
            }
            let paper = node.is_paper();
            m.insert("is_downloadable".into(), Value::Bool(!paper));
            if paper {
                m.insert(
                    "export_info".into(),
                    json!({"export_as": "html", "export_options": ["html", "markdown"]}),
                );
            }
            m.insert("content_hash".into(), Value::String(hash.to_string()));
        }
        Kind::Folder => {
            if node.shared {
                if let Some(ns) = &node.mount_ns {
                    m.insert("shared_folder_id".into(), Value::String(ns.clone()));
                    m.insert(
                        "sharing_info".into(),
                        json!({"read_only": false, "shared_folder_id": ns,
                               "traverse_only": false, "no_access": false}),
                    );
                }
            } else if let Some(ns) = parent_shared {
                m.insert(
                    "sharing_info".into(),
                    json!({"read_only": false, "parent_shared_folder_id": ns,
                           "traverse_only": false, "no_access": false}),
                );
            }
        }
    }
    Value::Object(m)
}

/// Render a `deleted` entry (no id, rev or size).
pub fn render_deleted(view: &View, path_lower: &str, path_display: &str, name: &str) -> Value {
    json!({
        ".tag": "deleted",
        "name": name,
        "path_lower": view.rel_lower(path_lower),
        "path_display": view.rel_display(path_display),
    })
}
