//! `--generate-team`: a deterministic team for end-to-end tests and the DLS benchmark.
//!
//! `members=200,files=500,groups=10,team_folders=2,shares=100,file_shares=200,wide=25,
//! invitees=20,depth=2,fanout=4,seed=7,max_size=65536,paper=0.01`
//!
//! - `members` members `Member 001`… (`member001@example.com`); the first is the admin unless
//!   the team (from a manifest) already has one;
//! - `groups` groups `Group 01`…, each member in one or two;
//! - `team_folders` team folders `Team Folder 1`…: the first shared with the everyone group,
//!   the others with one or two groups (editor or viewer);
//! - `files` files in every member home and every team folder, in `depth`×`fanout` folders;
//! - `shares` shared folders: generated folders of random members shared with one to four
//!   members, sometimes a group, every fifth one nested inside an earlier shared folder, the
//!   first `invitees` of them also with an outside email invitee;
//! - `file_shares` files shared individually with one to three members or a group, plus one
//!   file shared with `wide` members one by one (more than 20: the batch truncation case).

use crate::acl::{Access, Grant, NsKind, Principal};
use crate::content::{Content, FileData, SynthKind, VARIANTS, mix};
use crate::seed::BASE_TIME;
use crate::state::World;
use crate::team_changes::ShareTarget;
use anyhow::Context;

/// `--generate-team` parameters.
#[derive(Debug, Clone)]
pub struct TeamGenSpec {
    /// Members.
    pub members: usize,
    /// Files per member home and per team folder.
    pub files: usize,
    /// Groups.
    pub groups: usize,
    /// Team folders.
    pub team_folders: usize,
    /// Shared folders.
    pub shares: usize,
    /// Individually shared files (besides the wide one).
    pub file_shares: usize,
    /// Members on the widest file share.
    pub wide: usize,
    /// Shared folders that also invite an outside email.
    pub invitees: usize,
    /// Folder depth.
    pub depth: usize,
    /// Sub-folders per folder.
    pub fanout: usize,
    /// RNG seed.
    pub seed: u64,
    /// Largest file size.
    pub max_size: u64,
    /// Fraction of Paper docs.
    pub paper: f64,
}

impl std::str::FromStr for TeamGenSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut g = TeamGenSpec {
            members: 10,
            files: 50,
            groups: 3,
            team_folders: 2,
            shares: usize::MAX,
            file_shares: usize::MAX,
            wide: 25,
            invitees: usize::MAX,
            depth: 2,
            fanout: 4,
            seed: 7,
            max_size: 65_536,
            paper: 0.01,
        };
        for kv in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("expected key=value, got {kv:?}"))?;
            let bad = |e: &dyn std::fmt::Display| format!("{k}: {e}");
            let n = || v.trim().parse::<usize>().map_err(|e| bad(&e));
            match k.trim() {
                "members" => g.members = n()?,
                "files" => g.files = n()?,
                "groups" => g.groups = n()?,
                "team_folders" => g.team_folders = n()?,
                "shares" => g.shares = n()?,
                "file_shares" => g.file_shares = n()?,
                "wide" => g.wide = n()?,
                "invitees" => g.invitees = n()?,
                "depth" => g.depth = n()?,
                "fanout" => g.fanout = n()?,
                "seed" => g.seed = v.trim().parse().map_err(|e| bad(&e))?,
                "max_size" => g.max_size = v.trim().parse().map_err(|e| bad(&e))?,
                "paper" => g.paper = v.trim().parse().map_err(|e| bad(&e))?,
                other => {
                    return Err(format!(
                        "unknown team generator key {other:?} (members, files, groups, team_folders, shares, file_shares, wide, invitees, depth, fanout, seed, max_size, paper)"
                    ));
                }
            }
        }
        if g.members == 0 {
            return Err("members must be ≥ 1".into());
        }
        if g.fanout == 0 {
            return Err("fanout must be ≥ 1".into());
        }
        if g.shares == usize::MAX {
            g.shares = g.members / 2;
        }
        if g.file_shares == usize::MAX {
            g.file_shares = g.members;
        }
        if g.invitees == usize::MAX {
            g.invitees = g.shares.div_ceil(3);
        }
        Ok(g)
    }
}

const EXTS: [(&str, SynthKind); 12] = [
    ("txt", SynthKind::Text),
    ("md", SynthKind::Text),
    ("csv", SynthKind::Text),
    ("html", SynthKind::Text),
    ("pdf", SynthKind::Binary),
    ("docx", SynthKind::Binary),
    ("xlsx", SynthKind::Binary),
    ("pptx", SynthKind::Binary),
    ("jpg", SynthKind::Binary),
    ("png", SynthKind::Binary),
    ("mp3", SynthKind::Binary),
    ("zip", SynthKind::Binary),
];

/// A small deterministic random stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = mix(self.0 ^ 0x9E37_79B9_7F4A_7C15);
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Folders then files under `base` (a global display path); returns (folders, files).
fn fill(
    world: &mut World,
    rng: &mut Rng,
    g: &TeamGenSpec,
    base: &str,
    t0: &mut i64,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let mut folders = vec![(base.to_string(), 0usize)];
    let mut i = 0;
    while i < folders.len() {
        let (p, d) = folders[i].clone();
        i += 1;
        if d >= g.depth {
            continue;
        }
        for c in 0..g.fanout {
            let f = format!("{p}/Folder {d}-{c}");
            world
                .mkdirs(&f, BASE_TIME, false)
                .map_err(|e| anyhow::anyhow!("{f}: {e:?}"))?;
            folders.push((f, d + 1));
        }
    }
    let ln_max = ((g.max_size + 1) as f64).ln();
    let mut files = Vec::with_capacity(g.files);
    for n in 0..g.files {
        let folder = folders[rng.below(folders.len())].0.clone();
        *t0 += 1;
        if rng.unit() < g.paper {
            let path = format!("{folder}/Note {n:04}.paper");
            let md = format!("# Note {n}\n\nGenerated Paper doc in {base}.\n");
            crate::routes::admin::put_paper(world, &path, &md, *t0, false)
                .map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
            files.push(path);
            continue;
        }
        let (ext, kind) = EXTS[rng.below(EXTS.len())];
        let size = ((rng.unit() * ln_max).exp() - 1.0).max(0.0) as u64;
        let content = Content::Synthetic {
            kind,
            variant: (rng.next() % u64::from(VARIANTS)) as u32,
            size: size.min(g.max_size),
        };
        let path = format!("{folder}/Doc {n:04}.{ext}");
        world
            .put_file(&path, FileData::new(content), *t0, *t0, false)
            .map_err(|e| anyhow::anyhow!("{path}: {e:?}"))?;
        files.push(path);
    }
    Ok((folders.into_iter().skip(1).map(|(p, _)| p).collect(), files))
}

fn access(rng: &mut Rng) -> Access {
    if rng.below(3) == 0 {
        Access::Viewer
    } else {
        Access::Editor
    }
}

/// Generate the team; returns the number of files created.
pub fn generate_team(world: &mut World, g: &TeamGenSpec) -> anyhow::Result<usize> {
    let mut rng = Rng(g.seed ^ 0x7EA3_6E11);
    world.defer_mounts = true;
    if world.team.is_none() {
        world.set_team("Acme");
    }
    let any_admin = world.accounts.iter().any(|a| a.admin);
    let first = world.accounts.len();
    for i in 0..g.members {
        let n = first + i + 1;
        let name = format!("Member {n:03}");
        let email = format!("member{n:03}@example.com");
        world
            .join_member(
                &name,
                &email,
                !any_admin && i == 0,
                crate::directory::MemberStatus::Active,
                None,
                BASE_TIME,
            )
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    }
    let members: Vec<usize> = (first..world.accounts.len()).collect();
    let admin = world.default_account();
    let mut group_ids = Vec::new();
    for k in 0..g.groups {
        let name = format!("Group {:02}", k + 1);
        let mine: Vec<usize> = members
            .iter()
            .copied()
            .filter(|m| m % g.groups == k || mix(g.seed ^ (*m as u64) ^ (k as u64 * 977)) % 10 < 2)
            .collect();
        let id = world
            .create_group(
                &name,
                crate::directory::GroupManagement::CompanyManaged,
                None,
                &mine,
                admin,
                BASE_TIME,
            )
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        group_ids.push(id);
    }
    let mut t0 = BASE_TIME;
    let mut count = 0;
    let mut tf_folders: Vec<String> = Vec::new();
    for k in 0..g.team_folders {
        let name = format!("Team Folder {}", k + 1);
        let grants = if k == 0 || group_ids.is_empty() {
            Vec::new()
        } else {
            let mut v = vec![Grant {
                who: Principal::Group(group_ids[rng.below(group_ids.len())].clone()),
                access: access(&mut rng),
            }];
            let other = Principal::Group(group_ids[rng.below(group_ids.len())].clone());
            if rng.below(2) == 0 && v[0].who != other {
                v.push(Grant {
                    who: other,
                    access: access(&mut rng),
                });
            }
            v
        };
        world
            .create_team_folder(&name, grants, admin, BASE_TIME, false)
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let (folders, files) = fill(world, &mut rng, g, &format!("/{name}"), &mut t0)?;
        count += files.len();
        tf_folders.extend(folders);
    }
    let mut home_folders: Vec<(usize, Vec<String>)> = Vec::new();
    let mut all_files: Vec<String> = Vec::new();
    for &m in &members {
        let home = world.accounts[m].home_display.clone();
        let (folders, files) = fill(world, &mut rng, g, &home, &mut t0)?;
        count += files.len();
        all_files.extend(files);
        home_folders.push((m, folders));
    }
    // Shared folders.
    let mut shared: Vec<String> = Vec::new();
    for s in 0..g.shares {
        let nested = s % 5 == 4 && !shared.is_empty();
        let in_team_folder = s % 7 == 6 && !tf_folders.is_empty();
        let path = if nested {
            let parent = shared[rng.below(shared.len())].clone();
            let p = format!("{parent}/Nested {s}");
            let note = format!("{p}/Nested note {s}.txt");
            let data = FileData::new(Content::Synthetic {
                kind: SynthKind::Text,
                variant: (s as u32) % VARIANTS,
                size: 512,
            });
            world
                .put_file(&note, data, BASE_TIME, BASE_TIME, false)
                .map_err(|e| anyhow::anyhow!("{note}: {e:?}"))?;
            count += 1;
            p
        } else if in_team_folder {
            tf_folders[rng.below(tf_folders.len())].clone()
        } else {
            let (_, folders) = &home_folders[rng.below(home_folders.len())];
            if folders.is_empty() {
                continue;
            }
            folders[rng.below(folders.len())].clone()
        };
        let lower = crate::state::lower(&path);
        if world.ns_at.contains_key(&lower) {
            continue;
        }
        let ns = world
            .share_folder(&lower, None, admin, BASE_TIME, false)
            .map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
        let owner = world.namespaces.get(&ns).and_then(|n| n.owner);
        let mut grants = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let m = members[rng.below(members.len())];
            if Some(m) != owner && !grants.iter().any(|x: &Grant| x.who == Principal::User(m)) {
                grants.push(Grant {
                    who: Principal::User(m),
                    access: access(&mut rng),
                });
            }
        }
        if !group_ids.is_empty() && rng.below(3) == 0 {
            grants.push(Grant {
                who: Principal::Group(group_ids[rng.below(group_ids.len())].clone()),
                access: access(&mut rng),
            });
        }
        if s < g.invitees {
            grants.push(Grant {
                who: Principal::Email(format!("guest{s:03}@partner.example")),
                access: Access::Viewer,
            });
        }
        world
            .add_grants(
                &ShareTarget::Folder(ns.clone()),
                grants,
                admin,
                BASE_TIME,
                false,
            )
            .map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
        if world
            .namespaces
            .get(&ns)
            .is_some_and(|n| n.kind == NsKind::Shared)
        {
            shared.push(path);
        }
    }
    // Individually shared files.
    let files: Vec<&String> = all_files
        .iter()
        .filter(|f| !f.ends_with(".paper"))
        .collect();
    if !files.is_empty() {
        for _ in 0..g.file_shares {
            let f = files[rng.below(files.len())].clone();
            let lower = crate::state::lower(&f);
            let Some(id) = world.tree.get(&lower).map(|n| n.id.clone()) else {
                continue;
            };
            let owner = world.owner_of(&lower);
            let mut grants = Vec::new();
            if !group_ids.is_empty() && rng.below(4) == 0 {
                grants.push(Grant {
                    who: Principal::Group(group_ids[rng.below(group_ids.len())].clone()),
                    access: Access::Viewer,
                });
            } else {
                for _ in 0..1 + rng.below(3) {
                    let m = members[rng.below(members.len())];
                    if Some(m) != owner {
                        grants.push(Grant {
                            who: Principal::User(m),
                            access: access(&mut rng),
                        });
                    }
                }
            }
            world
                .add_grants(&ShareTarget::File(id), grants, admin, BASE_TIME, false)
                .map_err(|e| anyhow::anyhow!("{f}: {e}"))?;
        }
        let f = files[rng.below(files.len())].clone();
        let lower = crate::state::lower(&f);
        let id = world
            .tree
            .get(&lower)
            .map(|n| n.id.clone())
            .context("the wide file vanished")?;
        let owner = world.owner_of(&lower);
        let grants: Vec<Grant> = members
            .iter()
            .copied()
            .filter(|m| Some(*m) != owner)
            .take(g.wide)
            .map(|m| Grant {
                who: Principal::User(m),
                access: Access::Viewer,
            })
            .collect();
        world
            .add_grants(&ShareTarget::File(id), grants, admin, BASE_TIME, false)
            .map_err(|e| anyhow::anyhow!("{f}: {e}"))?;
    }
    crate::seed::finish_seeding(world);
    Ok(count)
}
