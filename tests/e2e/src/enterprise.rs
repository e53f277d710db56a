//! An enterprise team (issue 11) and the emulator's ground truth of who can open what, to
//! check document-level security end to end: each document's `_allow_access_control`, the
//! access-control index, and a search filtered as Elastic's DLS filters it.

use crate::{Emulator, SearchServer, Tenant, header_json, http};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Members who only add numbers (so that a file shared with everyone has more than 20).
const FILLER: usize = 20;

/// The team: homes, nested shared folders, team folders shared with groups, a file shared
/// with every member one by one, email invitees, a suspended, an invited and a removed
/// member (the world of `tests/conformance/team_world.py`).
pub fn manifest() -> Value {
    let mut members = vec![
        json!({"email": "ann@example.com", "display_name": "Ann Lee", "admin": true}),
        json!({"email": "bob@example.com", "display_name": "Bob Smith"}),
        json!({"email": "carol@example.com", "display_name": "Carol Diaz"}),
        json!({"email": "dave@example.com", "display_name": "Dave Kim"}),
        json!({"email": "erin@example.com", "display_name": "Erin Wu", "status": "suspended"}),
        json!({"email": "frank@example.com", "display_name": "Frank Ode", "status": "invited"}),
        json!({"email": "gina@example.com", "display_name": "Gina Roe", "status": "removed"}),
    ];
    members.extend((1..=FILLER).map(|i| {
        json!({"email": format!("member{i:02}@example.com"), "display_name": format!("Member {i:02}")})
    }));
    json!({
        "team": {
            "name": "Acme",
            "members": members,
            "groups": [
                {"name": "Finance", "members": ["bob@example.com"], "owners": ["carol@example.com"]},
                {"name": "Design", "members": ["dave@example.com"], "management": "user_managed"},
            ],
            "team_folders": [
                {"name": "Engineering"},
                {"name": "Finance Docs", "members": [{"group": "Finance", "access": "editor"},
                                                     {"user": "ann@example.com", "access": "viewer"}]},
            ],
            "shared_folders": [
                {"path": "/Ann Lee/Project X",
                 "members": [{"user": "bob@example.com", "access": "editor"},
                             {"group": "Design", "access": "viewer"},
                             {"email": "guest@partner.org", "access": "viewer"}]},
                {"path": "/Ann Lee/Project X/Secret",
                 "members": [{"user": "carol@example.com", "access": "viewer"}]},
                {"path": "/Engineering/Specs",
                 "members": [{"email": "contractor@outside.org", "access": "editor"}]},
                {"path": "/Bob Smith/Bob Shared", "members": [{"user": "carol@example.com"}]},
            ],
            "shared_files": [
                {"path": "/Ann Lee/report.txt",
                 "members": [{"user": "dave@example.com", "access": "viewer"},
                             {"group": "Finance", "access": "viewer"},
                             {"email": "auditor@outside.org", "access": "viewer"}]},
                {"path": "/Ann Lee/wide.txt", "members": [{"user": "*", "access": "viewer"}]},
                {"path": "/Ann Lee/Project X/plan.md",
                 "members": [{"user": "carol@example.com", "access": "editor"}]},
            ],
        },
        "files": [
            {"path": "/Ann Lee/notes.txt", "content": "ann private notes about the budget"},
            {"path": "/Ann Lee/report.txt", "content": "quarterly report"},
            {"path": "/Ann Lee/wide.txt", "content": "everyone reads this"},
            {"path": "/Ann Lee/Project X/plan.md", "content": "# Plan\n\nlaunch on budget\n"},
            {"path": "/Ann Lee/Project X/Secret/keys.txt", "content": "secret keys"},
            {"path": "/Bob Smith/private.txt", "content": "bob private"},
            {"path": "/Bob Smith/Bob Shared/shared.txt", "content": "bob shares this"},
            {"path": "/Carol Diaz/carol.txt", "content": "carol"},
            {"path": "/Dave Kim/dave.csv", "content": "a,b\n1,2\n"},
            {"path": "/Engineering/design.txt", "content": "design notes"},
            {"path": "/Engineering/Specs/api.md", "content": "# API spec\n\nbudget endpoints\n"},
            {"path": "/Finance Docs/q1.csv", "content": "quarter,total\nq1,10\n"},
            {"path": "/Finance Docs/summary.txt", "content": "budget summary"},
            {"path": "/Erin Wu/erin.txt", "content": "erin"},
            {"path": "/Gina Roe/gina.txt", "content": "gina"},
        ],
        "paper": [{"path": "/Engineering/Roadmap.paper", "markdown": "# Roadmap\n\n- budget review\n"}],
    })
}

fn get(url: &str) -> Result<Value> {
    let resp = http()
        .get(url)
        .send()
        .with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    let text = resp.text()?;
    if !status.is_success() {
        bail!("GET {url}: HTTP {status}: {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("GET {url}: not JSON"))
}

fn post(url: &str, body: &Value) -> Result<Value> {
    let resp = http()
        .post(url)
        .json(body)
        .send()
        .with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let text = resp.text()?;
    if !status.is_success() {
        bail!("POST {url}: HTTP {status}: {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("POST {url}: not JSON"))
}

/// A tenant that indexes the team with document-level security and inherited members.
pub fn dls_tenant(emu: &Emulator, es: &SearchServer, team_scope: &str) -> Result<Tenant> {
    let mut t = Tenant::new(emu, es)?;
    t.set("source", "team_scope", team_scope)?;
    t.set("source", "use_document_level_security", true)?;
    t.set("source", "include_inherited_users_and_groups", true)?;
    t.set("source", "include_received_files", false)?;
    Ok(t)
}

/// The emulator's access list of every item: id → identities in Elastic's format, built
/// from the direct and inherited members it reports (users by account id and email,
/// groups, email invitees).
pub fn expected_identities(emu: &Emulator) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let all = get(&format!("{}/_admin/acl?all=true", emu.url))?;
    let mut out = BTreeMap::new();
    for item in all["items"].as_array().context("items")? {
        let Some(id) = item["id"].as_str() else {
            continue;
        };
        let mut ids = BTreeSet::new();
        for m in item["members"].as_array().context("members")? {
            match m["type"].as_str() {
                Some("user") => {
                    if let Some(a) = m["account_id"].as_str() {
                        ids.insert(format!("user_id:{a}"));
                    }
                    ids.insert(format!("email:{}", m["email"].as_str().unwrap_or_default()));
                }
                Some("group") => {
                    ids.insert(format!(
                        "group:{}",
                        m["group_id"].as_str().unwrap_or_default()
                    ));
                }
                _ => {
                    ids.insert(format!("email:{}", m["email"].as_str().unwrap_or_default()));
                }
            }
        }
        out.insert(id.to_string(), ids);
    }
    Ok(out)
}

/// What `member` (an email) can open, by id, as the emulator says.
pub fn accessible(emu: &Emulator, member: &str) -> Result<BTreeMap<String, String>> {
    let v = get(&format!(
        "{}/_admin/access?member={}",
        emu.url,
        crate::urlencode(member)
    ))?;
    Ok(v["entries"]
        .as_array()
        .context("entries")?
        .iter()
        .filter_map(|e| {
            Some((
                e["id"].as_str()?.to_string(),
                e["path_display"].as_str().unwrap_or_default().to_string(),
            ))
        })
        .collect())
}

/// Every team member's profile (the Dropbox API, as the admin).
pub fn members(emu: &Emulator) -> Result<Vec<Value>> {
    let token = emu.access_token()?;
    let resp = http()
        .post(format!("{}/2/team/members/list_v2", emu.url))
        .bearer_auth(token)
        .json(&json!({"limit": 1000}))
        .send()?;
    let v: Value = serde_json::from_str(&resp.text()?)?;
    Ok(v["members"]
        .as_array()
        .context("members")?
        .iter()
        .map(|m| m["profile"].clone())
        .collect())
}

/// The access-control documents: `_id` (email) → document.
pub fn access_docs(es: &SearchServer, tenant: &Tenant) -> Result<BTreeMap<String, Value>> {
    let index = format!(".search-acl-filter-{}", tenant.index);
    es.refresh(&index)?;
    let v = es.search(&index, &json!({"size": 10000, "query": {"match_all": {}}}))?;
    Ok(v["hits"]["hits"]
        .as_array()
        .context("hits")?
        .iter()
        .filter_map(|h| Some((h["_id"].as_str()?.to_string(), h["_source"].clone())))
        .collect())
}

/// The ids a member finds: a search filtered by the query the member's access-control
/// document stores, rendered as Elastic renders its template.
pub fn search_as(
    es: &SearchServer,
    tenant: &Tenant,
    access_doc: &Value,
) -> Result<BTreeSet<String>> {
    let template = &access_doc["query"]["template"];
    let source = template["source"]
        .as_str()
        .context("query.template.source")?;
    let params = serde_json::to_string(&template["params"]["access_control"])?;
    let filter: Value =
        serde_json::from_str(&source.replace("{{#toJson}}access_control{{/toJson}}", &params))
            .context("the stored DLS template does not render to JSON")?;
    let v = es.search(
        &tenant.index,
        &json!({"size": 10000, "_source": false, "query": {"bool": {"filter": [filter]}}}),
    )?;
    Ok(v["hits"]["hits"]
        .as_array()
        .context("hits")?
        .iter()
        .filter_map(|h| h["_id"].as_str().map(str::to_string))
        .collect())
}

/// Every document carries exactly the identities of who can open it.
pub fn assert_documents_carry_their_members(
    docs: &BTreeMap<String, Value>,
    expected: &BTreeMap<String, BTreeSet<String>>,
) -> Result<()> {
    let mut errors = Vec::new();
    for (id, doc) in docs {
        let got: BTreeSet<String> = doc["_allow_access_control"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        match expected.get(id) {
            Some(want) if *want == got => {}
            Some(want) => errors.push(format!(
                "{} ({id}): indexed {got:?}, should be {want:?}",
                doc["file_path"]
            )),
            None => errors.push(format!("{id} is indexed but not in the emulator's tree")),
        }
    }
    if !errors.is_empty() {
        bail!(
            "{} documents with wrong identities:\n  {}",
            errors.len(),
            errors.join("\n  ")
        );
    }
    Ok(())
}

/// Every member with an access-control document finds exactly what they can open among the
/// indexed documents (all of it when everything is indexed).
pub fn assert_each_member_finds_what_they_can_open(
    emu: &Emulator,
    es: &SearchServer,
    tenant: &Tenant,
    indexed: &BTreeSet<String>,
) -> Result<usize> {
    let mut errors = Vec::new();
    let docs = access_docs(es, tenant)?;
    for (email, doc) in &docs {
        let found = search_as(es, tenant, doc)?;
        let can = accessible(emu, email)?;
        let should: BTreeSet<String> = can
            .keys()
            .filter(|id| indexed.contains(*id))
            .cloned()
            .collect();
        if found != should {
            let extra: Vec<&String> = found.difference(&should).collect();
            let missing: Vec<&String> = should.difference(&found).map(|id| &can[id]).collect();
            errors.push(format!(
                "{email} finds {extra:?} it cannot open, misses {missing:?}"
            ));
        }
    }
    if !errors.is_empty() {
        bail!(
            "{} members search wrongly:\n  {}",
            errors.len(),
            errors.join("\n  ")
        );
    }
    Ok(docs.len())
}

/// `POST /_admin/share`: give `members` (grant specs) access to `target` (path or id).
pub fn share(emu: &Emulator, target: &str, members: Value) -> Result<Value> {
    post(
        &format!("{}/_admin/share", emu.url),
        &json!({"target": target, "members": members}),
    )
}

/// `POST /_admin/unshare`: take `members` off `target`.
pub fn unshare(emu: &Emulator, target: &str, members: Value) -> Result<Value> {
    post(
        &format!("{}/_admin/unshare", emu.url),
        &json!({"target": target, "members": members}),
    )
}

/// A new team member; returns what the emulator says (team member id, home path…).
pub fn add_member(emu: &Emulator, email: &str, name: &str) -> Result<Value> {
    post(
        &format!("{}/_admin/members", emu.url),
        &json!({"email": email, "display_name": name}),
    )
}

/// Change a member's status (`removed`, `suspended`, …).
pub fn set_status(emu: &Emulator, member: &str, status: &str) -> Result<()> {
    post(
        &format!("{}/_admin/members/status", emu.url),
        &json!({"member": member, "status": status}),
    )
    .map(drop)
}

/// Upload a file into a member's home, as that member.
pub fn upload_as(emu: &Emulator, team_member_id: &str, path: &str, bytes: &[u8]) -> Result<Value> {
    let token = emu.access_token()?;
    let resp = http()
        .post(format!("{}/2/files/upload", emu.url))
        .bearer_auth(token)
        .header("Dropbox-API-Select-User", team_member_id)
        .header(
            "Dropbox-API-Arg",
            header_json(&json!({"path": path, "mode": "overwrite"})),
        )
        .header("Content-Type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()?;
    let status = resp.status();
    let text = resp.text()?;
    if !status.is_success() {
        bail!("uploading {path} as {team_member_id}: HTTP {status}: {text}");
    }
    Ok(serde_json::from_str(&text)?)
}
