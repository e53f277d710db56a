//! Model test: replaying `list_folder/continue` from old cursors with Dropbox's client rules
//! must reproduce a fresh full listing after every random write.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Emu, Model, apply, spawn};
use serde_json::json;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = dropbox_emulator::content::mix(self.0);
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

async fn replay(emu: &Emu, cursor: &str, model: &mut Model) -> String {
    let mut cursor = cursor.to_string();
    loop {
        let page = emu
            .ok("files/list_folder/continue", json!({"cursor": cursor}))
            .await;
        apply(model, page["entries"].as_array().unwrap());
        cursor = page["cursor"].as_str().unwrap().to_string();
        if !page["has_more"].as_bool().unwrap() {
            return cursor;
        }
    }
}

async fn fresh(emu: &Emu) -> Model {
    let (entries, _) = emu.list_all("", Some(7)).await;
    let mut m = Model::new();
    apply(&mut m, &entries);
    m
}

async fn random_step(emu: &Emu, rng: &mut Rng, step: usize) -> String {
    let current = fresh(emu).await;
    let folders: Vec<&String> = current
        .iter()
        .filter(|(_, v)| v.0 == "folder")
        .map(|(k, _)| k)
        .collect();
    let all: Vec<&String> = current.keys().collect();
    let pick_folder = |rng: &mut Rng| -> String {
        if folders.is_empty() || rng.below(4) == 0 {
            String::new()
        } else {
            folders[rng.below(folders.len())].clone()
        }
    };
    match rng.below(10) {
        0..=3 => {
            let path = if !all.is_empty() && rng.below(3) == 0 {
                let p = all[rng.below(all.len())];
                if current[p].0 == "file" {
                    p.clone()
                } else {
                    format!("{p}/f{step}.txt")
                }
            } else {
                format!("{}/F{step}.txt", pick_folder(rng))
            };
            emu.upload(&path, format!("content {step}").as_bytes())
                .await;
            format!("upload {path}")
        }
        4..=5 => {
            let path = format!("{}/Dir{step}", pick_folder(rng));
            emu.ok("files/create_folder_v2", json!({"path": path}))
                .await;
            format!("mkdir {path}")
        }
        6..=7 if !all.is_empty() => {
            let p = all[rng.below(all.len())].clone();
            emu.ok("files/delete_v2", json!({"path": p})).await;
            format!("delete {p}")
        }
        _ if !all.is_empty() => {
            let p = all[rng.below(all.len())].clone();
            let to = if rng.below(4) == 0 {
                // Case-only rename: must not be reported.
                let (dir, name) = p.rsplit_once('/').unwrap();
                format!("{dir}/{}", name.to_uppercase())
            } else {
                let dest = pick_folder(rng);
                if dest == p || dest.starts_with(&format!("{p}/")) {
                    format!("/moved{step}")
                } else {
                    format!("{dest}/moved{step}")
                }
            };
            emu.ok("files/move_v2", json!({"from_path": p, "to_path": to}))
                .await;
            format!("move {p} -> {to}")
        }
        _ => {
            emu.ok(
                "files/create_folder_v2",
                json!({"path": format!("/Top{step}")}),
            )
            .await;
            "mkdir top".into()
        }
    }
}

async fn run_seed(seed: u64, steps: usize) {
    let emu =
        spawn(json!({"folders": ["/A", "/A/B"], "files": [{"path": "/A/x.txt", "content": "x"}]}))
            .await;
    let mut rng = Rng(seed);
    let (initial_entries, initial_cursor) = emu.list_all("", Some(3)).await;
    let mut from_start = Model::new();
    apply(&mut from_start, &initial_entries);
    let mut rolling = from_start.clone();
    let mut rolling_cursor = initial_cursor.clone();
    let mut log = Vec::new();
    for step in 0..steps {
        log.push(random_step(&emu, &mut rng, step).await);
        let truth = fresh(&emu).await;
        // Replay everything since the very first cursor.
        let mut m = from_start.clone();
        replay(&emu, &initial_cursor, &mut m).await;
        assert_eq!(
            m, truth,
            "SEED={seed} step {step} (from start); ops: {log:#?}"
        );
        // Replay incrementally, one step at a time.
        rolling_cursor = replay(&emu, &rolling_cursor, &mut rolling).await;
        assert_eq!(
            rolling, truth,
            "SEED={seed} step {step} (rolling); ops: {log:#?}"
        );
    }
}

#[tokio::test]
async fn continue_from_any_cursor_reproduces_a_fresh_listing() {
    let seeds: Vec<u64> = match std::env::var("SEED") {
        Ok(s) => vec![s.parse().expect("SEED must be a number")],
        Err(_) => vec![1, 2, 3, 4],
    };
    for seed in seeds {
        eprintln!("cursor model SEED={seed}");
        run_seed(seed, 40).await;
    }
}
