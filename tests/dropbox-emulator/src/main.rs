//! `dropbox-emulator` binary.

use clap::Parser;
use dropbox_emulator::cli::Args;
use std::io::Write;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let app = args.build()?;
    let server = dropbox_emulator::start(app, &args.listen).await?;
    let url = server.url();
    if let Some(p) = &args.port_file {
        std::fs::write(p, &url)?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "dropbox-emulator listening on {url}")?;
    out.flush()?;
    drop(out);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
