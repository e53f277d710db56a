//! Throughput benchmark: listed entries/s and download MB/s against an in-process emulator.
//!
//! `cargo run --release -p dropbox-emulator --bin emulator-bench -- --generate files=100000,...`

use bytes::Bytes;
use clap::Parser;
use dropbox_emulator::cli::Args as EmuArgs;
use dropbox_emulator::seed::GenSpec;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::time::Instant;

/// Benchmark flags.
#[derive(Parser, Debug)]
#[command(name = "emulator-bench")]
struct Args {
    /// Generator spec for the seeded tree.
    #[arg(
        long,
        default_value = "files=100000,depth=6,fanout=10,seed=7,max_size=1048576,paper=0.01,text=0.8"
    )]
    generate: GenSpec,
    /// Stop downloading after this many bytes.
    #[arg(long, default_value_t = 4 << 30)]
    download_bytes: u64,
    /// Concurrent download connections.
    #[arg(long, default_value_t = 2)]
    connections: usize,
}

async fn connect(addr: std::net::SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn rpc(
    s: &mut SendRequest<Full<Bytes>>,
    token: &str,
    route: &str,
    arg: &Value,
) -> anyhow::Result<Value> {
    let req = http::Request::post(format!("/2/{route}"))
        .header("host", "127.0.0.1")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(arg)?)))?;
    s.ready().await?;
    let resp = s.send_request(req).await?;
    anyhow::ensure!(resp.status() == 200, "{route}: {}", resp.status());
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(serde_json::from_slice(&body)?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut emu = EmuArgs::defaults();
    emu.generate = Some(args.generate.clone());
    let t0 = Instant::now();
    let app = emu.build()?;
    println!(
        "seeded {} files in {:.2}s",
        args.generate.files,
        t0.elapsed().as_secs_f64()
    );
    let server = dropbox_emulator::start(app, "127.0.0.1:0").await?;
    let addr = server.addr;

    let mut s = connect(addr).await?;
    let req = http::Request::post("/oauth2/token?grant_type=refresh_token&refresh_token=emulator-refresh-token&client_id=emulator-app-key&client_secret=emulator-app-secret".to_string())
    .header("host", "127.0.0.1")
    .body(Full::new(Bytes::new()))?;
    let body = s
        .send_request(req)
        .await?
        .into_body()
        .collect()
        .await?
        .to_bytes();
    let token = serde_json::from_slice::<Value>(&body)?["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    // Listing: full recursive enumeration, twice (the first includes lazy hash computation).
    let mut files: Vec<(String, u64)> = Vec::new();
    for round in 1..=2 {
        files.clear();
        let t = Instant::now();
        let mut page = rpc(
            &mut s,
            &token,
            "files/list_folder",
            &json!({"path": "", "recursive": true, "limit": 2000}),
        )
        .await?;
        let mut n = 0usize;
        loop {
            if let Some(es) = page["entries"].as_array() {
                n += es.len();
                for e in es {
                    if e[".tag"] == "file" && e["is_downloadable"] == true {
                        files.push((
                            e["id"].as_str().unwrap_or_default().to_string(),
                            e["size"].as_u64().unwrap_or(0),
                        ));
                    }
                }
            }
            if page["has_more"] != true {
                break;
            }
            page = rpc(
                &mut s,
                &token,
                "files/list_folder/continue",
                &json!({"cursor": page["cursor"]}),
            )
            .await?;
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "list round {round}: {n} entries in {secs:.2}s = {:.0} entries/s",
            n as f64 / secs
        );
    }

    // Downloads: largest files first, spread over connections.
    files.sort_by_key(|f| std::cmp::Reverse(f.1));
    let mut budget = args.download_bytes;
    let mut chosen = Vec::new();
    for f in files {
        if budget == 0 {
            break;
        }
        budget = budget.saturating_sub(f.1);
        chosen.push(f.0);
    }
    let t = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..args.connections.max(1) {
        let ids: Vec<String> = chosen
            .iter()
            .skip(c)
            .step_by(args.connections.max(1))
            .cloned()
            .collect();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = connect(addr).await?;
            let mut bytes = 0u64;
            for id in ids {
                let req = http::Request::post("/2/files/download")
                    .header("host", "127.0.0.1")
                    .header("authorization", format!("Bearer {token}"))
                    .header("dropbox-api-arg", json!({"path": id}).to_string())
                    .body(Full::new(Bytes::new()))?;
                s.ready().await?;
                let mut body = s.send_request(req).await?.into_body();
                while let Some(frame) = body.frame().await {
                    if let Ok(d) = frame?.into_data() {
                        bytes += d.len() as u64;
                    }
                }
            }
            anyhow::Ok(bytes)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "download: {} files, {:.1} MB in {secs:.2}s = {:.0} MB/s ({} connections)",
        chosen.len(),
        total as f64 / 1e6,
        total as f64 / 1e6 / secs,
        args.connections
    );
    server.abort();
    Ok(())
}
