//! JSON rendering of `Metadata` (file / folder / deleted) as a caller's view sees it.

use crate::clock;
use crate::state::{Kind, Node, View, World};
use serde_json::{Map, Value, json};

/// Whether the viewer may only read inside a namespace (admins acting team-wide may write).
fn read_only(world: &World, view: &View, ns: &crate::acl::Namespace) -> bool {
    if view.admin || world.team.is_none() {
        return false;
    }
    world
        .ns_access(view.account, ns)
        .is_none_or(|a| a.read_only())
}

/// Render a file or folder. `with_tag` adds `.tag` (polymorphic `Metadata`).
pub fn render(world: &World, view: &View, node: &Node, with_tag: bool) -> Value {
    render_with(world, view, node, with_tag, false)
}

/// Render, with `has_explicit_shared_members` on files when `explicit_members` is asked for.
pub fn render_with(
    world: &World,
    view: &View,
    node: &Node,
    with_tag: bool,
    explicit_members: bool,
) -> Value {
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
        Value::String(view.rel_lower(&node.path_lower)),
    );
    m.insert(
        "path_display".into(),
        Value::String(view.rel_display(&node.path_lower, &node.path_display)),
    );
    m.insert("id".into(), Value::String(node.id.clone()));
    let parent_shared = world.shared_parent(&node.path_lower);
    if let Some(ns) = parent_shared {
        m.insert(
            "parent_shared_folder_id".into(),
            Value::String(ns.id.clone()),
        );
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
                    json!({"read_only": read_only(world, view, ns),
                           "parent_shared_folder_id": ns.id, "modified_by": modified_by}),
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
            if explicit_members {
                let explicit = world
                    .file_grants
                    .get(&node.id)
                    .is_some_and(|g| !g.is_empty());
                m.insert("has_explicit_shared_members".into(), Value::Bool(explicit));
            }
            m.insert("content_hash".into(), Value::String(hash.to_string()));
        }
        Kind::Folder => {
            let own = node
                .mount_ns
                .as_ref()
                .and_then(|id| world.namespaces.get(id))
                .filter(|ns| node.shared && ns.kind.is_shared());
            if let Some(ns) = own {
                m.insert("shared_folder_id".into(), Value::String(ns.id.clone()));
                let mut info = json!({"read_only": read_only(world, view, ns),
                                      "shared_folder_id": ns.id,
                                      "traverse_only": false, "no_access": false});
                if let (Some(p), Some(o)) = (parent_shared, info.as_object_mut()) {
                    o.insert("parent_shared_folder_id".into(), json!(p.id));
                }
                m.insert("sharing_info".into(), info);
            } else if let Some(ns) = parent_shared {
                m.insert(
                    "sharing_info".into(),
                    json!({"read_only": read_only(world, view, ns), "parent_shared_folder_id": ns.id,
                           "traverse_only": false, "no_access": false}),
                );
            }
        }
    }
    Value::Object(m)
}

/// Render a `deleted` entry (no id, rev or size) from global paths.
pub fn render_deleted(view: &View, path_lower: &str, path_display: &str, name: &str) -> Value {
    json!({
        ".tag": "deleted",
        "name": name,
        "path_lower": view.rel_lower(path_lower),
        "path_display": view.rel_display(path_lower, path_display),
    })
}

/// Render a `deleted` entry from virtual paths (journal replays, unmounts).
pub fn render_deleted_virtual(
    view: &View,
    virt_lower: &str,
    virt_display: &str,
    name: &str,
) -> Value {
    json!({
        ".tag": "deleted",
        "name": name,
        "path_lower": view.strip(virt_lower, &view.prefix_lower),
        "path_display": view.strip(virt_display, &view.prefix_display),
    })
}
