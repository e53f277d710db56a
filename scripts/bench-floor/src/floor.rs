//! The I/O floor: list (and download) the tree the way the runner's Dropbox component does,
//! and nothing else. Pages are parsed only as far as needed to go on (cursor, `has_more`,
//! and for downloads each file's id), so the figure is what the emulator and the network
//! cost, not what a client does with the entries.
use anyhow::{Context, bail};
use futures::StreamExt;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::json;
use std::time::Instant;
use tokio::sync::mpsc;

/// Entries per `list_folder` page: the component asks for Dropbox's maximum too.
const LIST_LIMIT: u32 = 2000;

#[derive(clap::Args)]
pub struct ListArgs {
    /// The emulator's base URL (API, content and OAuth on one port).
    #[arg(long)]
    pub url: String,
    /// The folder to list.
    #[arg(long, default_value = "")]
    pub path: String,
}

#[derive(clap::Args)]
pub struct DownloadArgs {
    #[command(flatten)]
    pub list: ListArgs,
    /// Downloads in flight (the runner's `concurrent_downloads`).
    #[arg(long, default_value_t = 100)]
    pub concurrency: usize,
    /// Files larger than this are not downloaded (the runner's default `content.max_bytes`).
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    pub max_bytes: u64,
}

#[derive(Deserialize)]
struct Page<E> {
    entries: Vec<E>,
    cursor: String,
    has_more: bool,
}

/// What a download needs of an entry.
#[derive(Deserialize)]
struct Entry {
    #[serde(rename = ".tag")]
    tag: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    is_downloadable: bool,
}

#[derive(Deserialize)]
struct Token {
    access_token: String,
}

pub struct Session {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Session {
    /// One refresh-token grant, as the runner does before its first call.
    pub async fn open(url: &str) -> anyhow::Result<Session> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?;
        let url = url.trim_end_matches('/').to_string();
        let response = http
            .post(format!("{url}/oauth2/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "emulator-refresh-token"),
                ("client_id", "emulator-app-key"),
                ("client_secret", "emulator-app-secret"),
            ])
            .send()
            .await
            .with_context(|| format!("POST {url}/oauth2/token"))?;
        if !response.status().is_success() {
            bail!("the token endpoint answered {}", response.status());
        }
        let token: Token = response.json().await.context("reading the token")?;
        Ok(Session {
            http,
            url,
            token: token.access_token,
        })
    }

    async fn rpc<E: serde::de::DeserializeOwned>(
        &self,
        route: &str,
        arg: &serde_json::Value,
    ) -> anyhow::Result<Page<E>> {
        let response = self
            .http
            .post(format!("{}/2/{route}", self.url))
            .bearer_auth(&self.token)
            .json(arg)
            .send()
            .await
            .with_context(|| format!("POST /2/{route}"))?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            bail!(
                "/2/{route} answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        serde_json::from_slice(&body).with_context(|| format!("decoding the /2/{route} answer"))
    }

    /// Walk every page; `each` gets each page's entries.
    async fn walk<E: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        mut each: impl FnMut(Vec<E>) -> anyhow::Result<()>,
    ) -> anyhow::Result<u64> {
        let mut page: Page<E> = self
            .rpc(
                "files/list_folder",
                &json!({
                    "path": path,
                    "recursive": true,
                    "limit": LIST_LIMIT,
                    "include_non_downloadable_files": true,
                }),
            )
            .await?;
        let mut pages = 1;
        loop {
            let Page {
                entries,
                cursor,
                has_more,
            } = page;
            each(entries)?;
            if !has_more {
                return Ok(pages);
            }
            page = self
                .rpc("files/list_folder/continue", &json!({ "cursor": cursor }))
                .await?;
            pages += 1;
        }
    }

    async fn download(&self, id: &str) -> anyhow::Result<u64> {
        let response = self
            .http
            .post(format!("{}/2/files/download", self.url))
            .bearer_auth(&self.token)
            .header("Dropbox-API-Arg", json!({ "path": id }).to_string())
            .send()
            .await
            .with_context(|| format!("downloading {id}"))?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            bail!("downloading {id}: {status}");
        }
        Ok(body.len() as u64)
    }
}

pub async fn list(args: ListArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let session = Session::open(&args.url).await?;
    let mut entries = 0u64;
    let pages = session
        .walk::<IgnoredAny>(&args.path, |page| {
            entries += page.len() as u64;
            Ok(())
        })
        .await?;
    println!(
        "{}",
        json!({"entries": entries, "pages": pages, "secs": started.elapsed().as_secs_f64()})
    );
    Ok(())
}

pub async fn download(args: DownloadArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let session = std::sync::Arc::new(Session::open(&args.list.url).await?);
    // The listing feeds the downloads as pages arrive, like the runner's pipeline.
    let (tx, rx) = mpsc::unbounded_channel::<String>();
    let lister = {
        let session = session.clone();
        let path = args.list.path.clone();
        let max = args.max_bytes;
        tokio::spawn(async move {
            let mut entries = 0u64;
            let pages = session
                .walk::<Entry>(&path, |page| {
                    entries += page.len() as u64;
                    for e in page {
                        if e.tag == "file" && e.is_downloadable && e.size <= max {
                            tx.send(e.id).context("the download side stopped")?;
                        }
                    }
                    Ok(())
                })
                .await;
            pages.map(|p| (p, entries))
        })
    };
    let downloads = tokio_stream_of(rx)
        .map(|id| {
            let session = session.clone();
            async move { session.download(&id).await }
        })
        .buffer_unordered(args.concurrency.max(1));
    let (files, bytes) = downloads
        .fold(
            Ok((0u64, 0u64)),
            |acc: anyhow::Result<(u64, u64)>, r| async move {
                let (n, b) = acc?;
                Ok((n + 1, b + r?))
            },
        )
        .await?;
    let (pages, entries) = lister.await.context("the listing task panicked")??;
    println!(
        "{}",
        json!({"entries": entries, "pages": pages, "downloads": files, "bytes": bytes,
               "secs": started.elapsed().as_secs_f64()})
    );
    Ok(())
}

fn tokio_stream_of<T: Send + 'static>(
    mut rx: mpsc::UnboundedReceiver<T>,
) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
