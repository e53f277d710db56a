//! `search-fault-proxy` binary.

use clap::Parser;
use search_proxy::{ProxyConfig, start};
use std::io::Write;
use std::time::Duration;

/// A fault-injecting HTTP proxy in front of a search server, for tests.
#[derive(Parser, Debug)]
#[command(name = "search-fault-proxy", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// The search server, e.g. http://127.0.0.1:9200.
    #[arg(long)]
    upstream: String,
    /// Seed of the fault random stream until a POST /_proxy/faults gives one.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Indices whose name starts with this are the state index (request kind `state`).
    #[arg(long, default_value = "tributary-state")]
    state_index_prefix: String,
    /// Exit when this process is gone (so a killed test leaves no proxy behind).
    #[arg(long)]
    parent_pid: Option<u32>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let server = start(
        ProxyConfig {
            upstream: args.upstream.clone(),
            seed: args.seed,
            state_index_prefix: args.state_index_prefix.clone(),
        },
        &args.listen,
    )
    .await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "search-fault-proxy listening on {}", server.url())?;
        out.flush()?;
    }
    let parent_gone = async {
        match args.parent_pid {
            Some(pid) => loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                    break;
                }
            },
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        () = parent_gone => {}
    }
    Ok(())
}
