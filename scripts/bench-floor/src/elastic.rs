//! The Elastic Dropbox connector's documents for the emulator's tree, bulked into a search
//! server by a plain client with the Elastic framework's batch sizes. This is the comparison
//! for documents/s into a server: only the indexing is timed (not the listing), so the
//! figure is the best the Elastic connector's documents could do on this server.
//!
//! Document shape (`_adapt_dropbox_doc_to_es_doc` plus what the framework adds; see
//! /work/shared/reference/peers-and-elastic-connector.md §1.8):
//! `{id, type: "File"|"Folder", name, file_path, size, _timestamp, _extract_binary_content,
//! _reduce_whitespace, _run_ml_inference}`, `_timestamp` = `server_modified` for files,
//! `client_modified` for Paper, the current time for folders. Batches: 500 operations
//! (an index is 2), at most 3 MiB, 5 requests in flight (`elasticsearch.bulk.*` defaults).
use anyhow::{Context, bail};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(clap::Args)]
pub struct Args {
    /// The emulator's base URL.
    #[arg(long)]
    pub emulator: String,
    /// The search server's base URL.
    #[arg(long)]
    pub es: String,
    /// Index to create and fill (must not exist).
    #[arg(long, default_value = "elastic-docs")]
    pub index: String,
    /// Documents per `_bulk` request (the framework's `chunk_size` 500 counts an index as 2).
    #[arg(long, default_value_t = 250)]
    pub batch: usize,
    /// Bytes per `_bulk` request (`chunk_max_mem_size`).
    #[arg(long, default_value_t = 3 * 1024 * 1024)]
    pub max_bytes: usize,
    /// `_bulk` requests in flight (`max_concurrency`).
    #[arg(long, default_value_t = 5)]
    pub concurrency: usize,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(rename = ".tag")]
    tag: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    path_display: Option<String>,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    server_modified: Option<String>,
    #[serde(default)]
    client_modified: Option<String>,
}

#[derive(Deserialize)]
struct Tree {
    entries: Vec<Entry>,
}

/// The current time as Python's `datetime.now(timezone.utc).isoformat()` writes it.
fn iso_utc_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_micros()
    )
}

fn document(e: &Entry) -> Option<(String, String)> {
    let kind = match e.tag.as_str() {
        "file" => "File",
        "folder" => "Folder",
        _ => return None,
    };
    let timestamp = match kind {
        "Folder" => iso_utc_now(),
        _ if e.name.ends_with(".paper") => e.client_modified.clone().unwrap_or_default(),
        _ => e.server_modified.clone().unwrap_or_default(),
    };
    let source = json!({
        "id": e.id,
        "type": kind,
        "name": e.name,
        "file_path": e.path_display,
        "size": if kind == "Folder" { 0 } else { e.size },
        "_timestamp": timestamp,
        "_extract_binary_content": true,
        "_reduce_whitespace": true,
        "_run_ml_inference": true,
    });
    Some((e.id.clone(), source.to_string()))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let emulator = args.emulator.trim_end_matches('/');
    let es = args.es.trim_end_matches('/');
    // The tree, untimed: the emulator's admin view lists what a recursive list_folder would.
    let tree: Tree = http
        .get(format!("{emulator}/_admin/tree"))
        .send()
        .await
        .context("GET /_admin/tree")?
        .json()
        .await
        .context("decoding /_admin/tree")?;
    let docs: Vec<(String, String)> = tree.entries.iter().filter_map(document).collect();
    let mut bodies: Vec<String> = Vec::new();
    let mut body = String::new();
    let mut in_body = 0;
    for (id, source) in &docs {
        let action = json!({"index": {"_index": args.index, "_id": id}}).to_string();
        if in_body > 0
            && (in_body >= args.batch
                || body.len() + action.len() + source.len() + 2 > args.max_bytes)
        {
            bodies.push(std::mem::take(&mut body));
            in_body = 0;
        }
        body.push_str(&action);
        body.push('\n');
        body.push_str(source);
        body.push('\n');
        in_body += 1;
    }
    if in_body > 0 {
        bodies.push(body);
    }
    let bytes: usize = bodies.iter().map(String::len).sum();

    let started = Instant::now();
    let created = http.put(format!("{es}/{}", args.index)).send().await?;
    if !created.status().is_success() {
        bail!(
            "creating index {} answered {}: {}",
            args.index,
            created.status(),
            created.text().await.unwrap_or_default()
        );
    }
    let sent = futures::stream::iter(bodies)
        .map(|body| {
            let http = http.clone();
            async move {
                let answer = http
                    .post(format!("{es}/_bulk"))
                    .header("content-type", "application/x-ndjson")
                    .body(body)
                    .send()
                    .await?;
                let status = answer.status();
                let reply: serde_json::Value = answer.json().await?;
                if !status.is_success() || reply["errors"].as_bool() != Some(false) {
                    bail!(
                        "_bulk answered {status} with errors: {:.300}",
                        reply.to_string()
                    );
                }
                Ok(())
            }
        })
        .buffer_unordered(args.concurrency.max(1))
        .collect::<Vec<anyhow::Result<()>>>()
        .await;
    for r in sent {
        r?;
    }
    http.post(format!("{es}/{}/_refresh", args.index))
        .send()
        .await?
        .error_for_status()?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"docs": docs.len(), "secs": secs, "docs_per_sec": docs.len() as f64 / secs,
               "bulk_bytes": bytes, "bytes_per_doc": bytes as f64 / docs.len().max(1) as f64})
    );
    Ok(())
}
