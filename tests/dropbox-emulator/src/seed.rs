//! Seeding: a manifest (JSON), a local directory mirror, and a deterministic generator.

use crate::clock;
use crate::content::{Content, FileData, SynthKind, VARIANTS, mix};
use crate::directory::{GroupManagement, MemberStatus};
use crate::routes::admin::{ReceivedArg, add_received, put_paper};
use crate::state::World;
use crate::team_changes::{GrantSpec, ShareTarget};
use anyhow::{Context, bail};
use base64::Engine;
use serde::Deserialize;
use std::path::Path;

/// Base time for seeded items: 2024-01-01T00:00:00Z.
pub const BASE_TIME: i64 = 1_704_067_200;

/// `account` in a manifest.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct AccountSpec {
    /// Display name.
    pub display_name: String,
    /// Email.
    pub email: String,
}

/// `files[]` in a manifest.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// Path (team mode: under the team root).
    pub path: String,
    /// UTF-8 content.
    #[serde(default)]
    pub content: Option<String>,
    /// Base64 content.
    #[serde(default)]
    pub content_base64: Option<String>,
    /// Synthetic filler of this size.
    #[serde(default)]
    pub size: Option<u64>,
    /// Client modification time.
    #[serde(default)]
    pub client_modified: Option<String>,
    /// Server modification time.
    #[serde(default)]
    pub server_modified: Option<String>,
}

/// `paper[]` in a manifest.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperSpec {
    /// Path ending in `.paper`.
    pub path: String,
    /// Markdown body.
    pub markdown: String,
}

/// `team.members[]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSpec {
    /// Email.
    pub email: String,
    /// Display name (also the home folder name).
    pub display_name: String,
    /// Team admin.
    #[serde(default)]
    pub admin: bool,
    /// `active` (default), `invited`, `suspended` or `removed`.
    #[serde(default)]
    pub status: Option<String>,
    /// External id (directory sync).
    #[serde(default)]
    pub external_id: Option<String>,
}

/// `team.groups[]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// Group name (unique).
    pub name: String,
    /// Members by email or team member id.
    #[serde(default)]
    pub members: Vec<String>,
    /// Members who manage the group (added as members too).
    #[serde(default)]
    pub owners: Vec<String>,
    /// External id.
    #[serde(default)]
    pub external_id: Option<String>,
    /// `company_managed` (default) or `user_managed`.
    #[serde(default)]
    pub management: Option<String>,
}

/// `team.team_folders[]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamFolderSpec {
    /// Folder name.
    pub name: String,
    /// Who may open it (default: the everyone group, as editors).
    #[serde(default)]
    pub members: Vec<GrantSpec>,
}

/// `team.shared_folders[]` and `team.shared_files[]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareSpec {
    /// Team-root path of the folder (created if missing) or file (must exist).
    pub path: String,
    /// Shared folders: the owner (default: whose home it is in, else the admin).
    #[serde(default)]
    pub owner: Option<String>,
    /// Members.
    #[serde(default)]
    pub members: Vec<GrantSpec>,
}

/// `team` in a manifest.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamSpec {
    /// Team name.
    pub name: String,
    /// Members; the first `admin: true` one is the admin (else the first).
    #[serde(default)]
    pub members: Vec<MemberSpec>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<GroupSpec>,
    /// Team folders.
    #[serde(default)]
    pub team_folders: Vec<TeamFolderSpec>,
    /// Folders shared with members, groups and email invitees.
    #[serde(default)]
    pub shared_folders: Vec<ShareSpec>,
    /// Files shared individually.
    #[serde(default)]
    pub shared_files: Vec<ShareSpec>,
}

/// The manifest file.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Personal account identity.
    #[serde(default)]
    pub account: Option<AccountSpec>,
    /// Folders to create (may be empty).
    #[serde(default)]
    pub folders: Vec<String>,
    /// Files.
    #[serde(default)]
    pub files: Vec<FileSpec>,
    /// Paper docs.
    #[serde(default)]
    pub paper: Vec<PaperSpec>,
    /// Files shared with the account.
    #[serde(default)]
    pub received_files: Vec<ReceivedArg>,
    /// Team mode.
    #[serde(default)]
    pub team: Option<TeamSpec>,
}

const TEXT_EXTS: [&str; 5] = ["txt", "md", "csv", "json", "html"];
const BINARY_EXTS: [&str; 4] = ["bin", "jpg", "png", "zip"];

fn kind_for(path: &str) -> SynthKind {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_lowercase())
        .unwrap_or_default();
    if TEXT_EXTS.contains(&ext.as_str()) {
        SynthKind::Text
    } else {
        SynthKind::Binary
    }
}

fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0x51_7E, |h, b| mix(h ^ u64::from(b)))
}

fn ts(s: &Option<String>, default: i64) -> anyhow::Result<i64> {
    match s {
        Some(s) => clock::parse(s)
            .with_context(|| format!("bad timestamp {s:?} (want %Y-%m-%dT%H:%M:%SZ)")),
        None => Ok(default),
    }
}

fn check_abs(p: &str) -> anyhow::Result<()> {
    if !p.starts_with('/') || p.ends_with('/') {
        bail!("manifest path {p:?} must start with '/' and not end with '/'");
    }
    Ok(())
}

/// Build the world from an optional manifest (accounts, team, content).
pub fn world_from_manifest(m: Option<&Manifest>) -> anyhow::Result<World> {
    let acc = m.and_then(|m| m.account.clone()).unwrap_or(AccountSpec {
        display_name: "Ann Lee".into(),
        email: "ann@example.com".into(),
    });
    let mut world = World::new(&acc.display_name, &acc.email, 0xD80B);
    let Some(m) = m else {
        return Ok(world);
    };
    world.defer_mounts = true;
    if let Some(team) = &m.team {
        seed_team_directory(&mut world, team)?;
    }
    for f in &m.folders {
        check_abs(f)?;
        world
            .mkdirs(f, BASE_TIME, false)
            .map_err(|e| anyhow::anyhow!("folder {f}: {e:?}"))?;
    }
    for (i, f) in m.files.iter().enumerate() {
        check_abs(&f.path)?;
        let content = match (&f.content, &f.content_base64, f.size) {
            (Some(c), None, None) => Content::Stored(bytes::Bytes::from(c.clone().into_bytes())),
            (None, Some(b), None) => Content::Stored(bytes::Bytes::from(
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .with_context(|| format!("{}: bad content_base64", f.path))?,
            )),
            (None, None, Some(size)) => Content::Synthetic {
                kind: kind_for(&f.path),
                variant: (hash_str(&f.path) % u64::from(VARIANTS)) as u32,
                size,
            },
            (None, None, None) => Content::Stored(bytes::Bytes::new()),
            _ => bail!("{}: give only one of content, content_base64, size", f.path),
        };
        let t = BASE_TIME + i as i64;
        let sm = ts(&f.server_modified, t)?;
        let cm = ts(&f.client_modified, sm)?;
        world
            .put_file(&f.path, FileData::new(content), cm, sm, false)
            .map_err(|e| anyhow::anyhow!("file {}: {e:?}", f.path))?;
    }
    for p in &m.paper {
        check_abs(&p.path)?;
        put_paper(&mut world, &p.path, &p.markdown, BASE_TIME, false)
            .map_err(|e| anyhow::anyhow!("paper {}: {e}", p.path))?;
    }
    for r in &m.received_files {
        add_received(&mut world, r, BASE_TIME);
    }
    if let Some(team) = &m.team {
        seed_team_shares(&mut world, team)?;
    }
    finish_seeding(&mut world);
    Ok(world)
}

/// Seeding is history from before any cursor: mounts settle, the journal starts empty.
pub fn finish_seeding(world: &mut World) {
    world.defer_mounts = false;
    world.sync_mounts(false);
    world.journal.clear();
}

fn member_ref(world: &World, who: &str, what: &str) -> anyhow::Result<usize> {
    world
        .find_member(who)
        .with_context(|| format!("{what}: unknown team member {who:?} (give an email or dbmid:)"))
}

/// Members, groups and team folders of a manifest team.
fn seed_team_directory(world: &mut World, team: &TeamSpec) -> anyhow::Result<()> {
    if team.members.is_empty() {
        bail!("manifest team needs at least one member");
    }
    world.set_team(&team.name);
    let any_admin = team.members.iter().any(|x| x.admin);
    for (i, mem) in team.members.iter().enumerate() {
        let status = match mem.status.as_deref() {
            None => MemberStatus::Active,
            Some(s) => MemberStatus::parse(s).with_context(|| {
                format!(
                    "member {}: status {s:?}: want active, invited, suspended or removed",
                    mem.email
                )
            })?,
        };
        let idx = world
            .join_member(
                &mem.display_name,
                &mem.email,
                mem.admin || (!any_admin && i == 0),
                status,
                None,
                BASE_TIME,
            )
            .map_err(|e| anyhow::anyhow!("member {}: {e}", mem.email))?;
        world.accounts[idx].external_id = mem.external_id.clone();
    }
    let admin = world.default_account();
    for g in &team.groups {
        let management = match g.management.as_deref() {
            None => GroupManagement::CompanyManaged,
            Some(s) => GroupManagement::parse(s).with_context(|| {
                format!(
                    "group {}: management {s:?}: want company_managed or user_managed",
                    g.name
                )
            })?,
        };
        let members = g
            .members
            .iter()
            .map(|m| member_ref(world, m, &format!("group {}", g.name)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let owners = g
            .owners
            .iter()
            .map(|m| member_ref(world, m, &format!("group {}", g.name)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let id = world
            .create_group(
                &g.name,
                management,
                g.external_id.clone(),
                &members,
                admin,
                BASE_TIME,
            )
            .map_err(|e| anyhow::anyhow!("group {}: {e}", g.name))?;
        world
            .group_add(&id, &owners, admin, BASE_TIME, true)
            .map_err(|e| anyhow::anyhow!("group {}: {e}", g.name))?;
    }
    for tf in &team.team_folders {
        let grants = world
            .parse_grants(&tf.members, None)
            .map_err(|e| anyhow::anyhow!("team folder {}: {e}", tf.name))?;
        world
            .create_team_folder(&tf.name, grants, admin, BASE_TIME, false)
            .map_err(|e| anyhow::anyhow!("team folder {}: {e}", tf.name))?;
    }
    Ok(())
}

/// Shared folders and shared files of a manifest team (after the content exists).
fn seed_team_shares(world: &mut World, team: &TeamSpec) -> anyhow::Result<()> {
    let admin = world.default_account();
    for sf in &team.shared_folders {
        check_abs(&sf.path)?;
        let what = format!("shared folder {}", sf.path);
        let owner = sf
            .owner
            .as_deref()
            .map(|o| member_ref(world, o, &what))
            .transpose()?;
        world
            .mkdirs(&sf.path, BASE_TIME, false)
            .map_err(|e| anyhow::anyhow!("{what}: {e:?}"))?;
        let lower_p = crate::state::lower(&sf.path);
        let ns = world
            .share_folder(&lower_p, owner, admin, BASE_TIME, false)
            .map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
        let owner = world.namespaces.get(&ns).and_then(|n| n.owner);
        let grants = world
            .parse_grants(&sf.members, owner)
            .map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
        world
            .add_grants(&ShareTarget::Folder(ns), grants, admin, BASE_TIME, false)
            .map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
    }
    for sf in &team.shared_files {
        check_abs(&sf.path)?;
        let what = format!("shared file {}", sf.path);
        let (target, global) = world
            .find_target(&sf.path)
            .map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
        let Some(t @ ShareTarget::File(_)) = target else {
            bail!("{what}: not a file (share folders under shared_folders)");
        };
        let owner = world.owner_of(&global);
        let grants = world
            .parse_grants(&sf.members, owner)
            .map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
        world
            .add_grants(&t, grants, admin, BASE_TIME, false)
            .map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
    }
    Ok(())
}

/// Parse and validate a manifest file.
pub fn load_manifest(path: &Path) -> anyhow::Result<Manifest> {
    let raw =
        std::fs::read(path).with_context(|| format!("reading manifest {}", path.display()))?;
    serde_json::from_slice(&raw).with_context(|| format!("parsing manifest {}", path.display()))
}

fn home_display(world: &World) -> String {
    world
        .accounts
        .get(world.default_account())
        .map(|a| a.home_display.clone())
        .unwrap_or_default()
}

/// Mirror a local directory into the default account's home (`*.paper` → Paper docs).
pub fn mirror_dir(world: &mut World, dir: &Path) -> anyhow::Result<usize> {
    let home = home_display(world);
    let mut count = 0;
    let mut stack = vec![(dir.to_path_buf(), home)];
    while let Some((local, remote)) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&local)
            .with_context(|| format!("reading {}", local.display()))?
            .collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().to_string();
            let target = format!("{remote}/{name}");
            let ft = e.file_type()?;
            if ft.is_dir() {
                world
                    .mkdirs(&target, BASE_TIME, false)
                    .map_err(|e| anyhow::anyhow!("{target}: {e:?}"))?;
                stack.push((e.path(), target));
            } else if ft.is_file() {
                let bytes = bytes::Bytes::from(std::fs::read(e.path())?);
                let mtime = e
                    .metadata()
                    .ok()
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(BASE_TIME, |d| d.as_secs() as i64);
                let content = if name.to_lowercase().ends_with(".paper") {
                    Content::Paper(bytes)
                } else {
                    Content::Stored(bytes)
                };
                world
                    .put_file(&target, FileData::new(content), mtime, mtime, false)
                    .map_err(|e| anyhow::anyhow!("{target}: {e:?}"))?;
                count += 1;
            }
        }
    }
    Ok(count)
}

/// `--generate` parameters.
#[derive(Debug, Clone)]
pub struct GenSpec {
    /// Number of files.
    pub files: usize,
    /// Maximum folder depth.
    pub depth: usize,
    /// Sub-folders per folder and files per folder.
    pub fanout: usize,
    /// RNG seed.
    pub seed: u64,
    /// Largest file size.
    pub max_size: u64,
    /// Fraction of Paper docs.
    pub paper: f64,
    /// Fraction of text files among the rest.
    pub text: f64,
}

impl std::str::FromStr for GenSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut g = GenSpec {
            files: 1000,
            depth: 4,
            fanout: 10,
            seed: 7,
            max_size: 1 << 20,
            paper: 0.01,
            text: 0.8,
        };
        for kv in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("expected key=value, got {kv:?}"))?;
            let bad = |e: &dyn std::fmt::Display| format!("{k}: {e}");
            match k.trim() {
                "files" => g.files = v.parse().map_err(|e| bad(&e))?,
                "depth" => g.depth = v.parse().map_err(|e| bad(&e))?,
                "fanout" => g.fanout = v.parse().map_err(|e| bad(&e))?,
                "seed" => g.seed = v.parse().map_err(|e| bad(&e))?,
                "max_size" => g.max_size = v.parse().map_err(|e| bad(&e))?,
                "paper" => g.paper = v.parse().map_err(|e| bad(&e))?,
                "text" => g.text = v.parse().map_err(|e| bad(&e))?,
                other => {
                    return Err(format!(
                        "unknown generator key {other:?} (files, depth, fanout, seed, max_size, paper, text)"
                    ));
                }
            }
        }
        if g.fanout == 0 {
            return Err("fanout must be ≥ 1".into());
        }
        Ok(g)
    }
}

fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Generate a deterministic tree under the default account's home; returns the file count.
pub fn generate(world: &mut World, g: &GenSpec) -> anyhow::Result<usize> {
    let home = home_display(world);
    let target_folders = (g.files / g.fanout).max(1);
    let mut folders = vec![(home.clone(), 0usize)];
    let mut next = 0;
    while folders.len() < target_folders && next < folders.len() {
        let (parent, depth) = folders[next].clone();
        next += 1;
        if depth >= g.depth {
            continue;
        }
        for c in 0..g.fanout {
            if folders.len() >= target_folders {
                break;
            }
            let p = format!("{parent}/folder-{depth}-{c:03}");
            world
                .mkdirs(&p, BASE_TIME, false)
                .map_err(|e| anyhow::anyhow!("{p}: {e:?}"))?;
            folders.push((p, depth + 1));
        }
    }
    let ln_max = ((g.max_size + 1) as f64).ln();
    for i in 0..g.files {
        let r = mix(g.seed ^ mix(i as u64));
        let folder = &folders[(r % folders.len() as u64) as usize].0;
        let u = unit(mix(r ^ 1));
        let t = BASE_TIME + i as i64;
        if u < g.paper {
            let path = format!("{folder}/doc-{i:06}.paper");
            let md = format!(
                "# Document {i}\n\nGenerated Paper doc {i} (seed {}).\n\n- planning\n- review\n",
                g.seed
            );
            put_paper(world, &path, &md, t, false).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
            continue;
        }
        let text = unit(mix(r ^ 2)) < g.text;
        let ext = if text {
            TEXT_EXTS[(mix(r ^ 3) % TEXT_EXTS.len() as u64) as usize]
        } else {
            BINARY_EXTS[(mix(r ^ 3) % BINARY_EXTS.len() as u64) as usize]
        };
        let size = ((unit(mix(r ^ 4)) * ln_max).exp() - 1.0).max(0.0) as u64;
        let content = Content::Synthetic {
            kind: if text {
                SynthKind::Text
            } else {
                SynthKind::Binary
            },
            variant: (mix(r ^ 5) % u64::from(VARIANTS)) as u32,
            size: size.min(g.max_size),
        };
        let path = format!("{folder}/file-{i:06}.{ext}");
        world
            .put_file(&path, FileData::new(content), t, t, false)
            .map_err(|e| anyhow::anyhow!("{path}: {e:?}"))?;
    }
    Ok(g.files)
}
