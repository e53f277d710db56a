//! Start a throwaway `osmem-server` (in-memory OpenSearch-compatible server) for a test.
//!
//! `ES_URL=http://...` makes [`TestCluster::start`] use that cluster instead (a real
//! Elasticsearch or OpenSearch); tests then must use unique index names, which they do.
//! The binary is `$OSMEM_SERVER_BIN`, else the one bundled with the `osmem-server` Python
//! package (`pip install osmem-server==0.1.6`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// A cluster to test against: our own osmem-server process, or `ES_URL`.
pub struct TestCluster {
    pub url: String,
    server: Option<OsmemServer>,
}

impl TestCluster {
    /// `ES_URL` if set, otherwise a fresh osmem-server.
    pub fn start() -> TestCluster {
        match std::env::var("ES_URL") {
            Ok(url) if !url.is_empty() => TestCluster {
                url: url.trim_end_matches('/').to_string(),
                server: None,
            },
            _ => {
                let server = OsmemServer::start();
                TestCluster {
                    url: server.url.clone(),
                    server: Some(server),
                }
            }
        }
    }

    /// Whether this is our own osmem-server (not a real cluster).
    pub fn is_osmem(&self) -> bool {
        self.server.is_some()
    }
}

/// A running osmem-server; killed on drop. It also exits by itself when this process dies
/// (its stdin closes and `-parent-pid` disappears), so no server outlives the test run.
pub struct OsmemServer {
    pub url: String,
    child: Child,
    _stdin: ChildStdin,
}

/// Where the osmem-server binary is.
pub fn binary() -> String {
    if let Ok(bin) = std::env::var("OSMEM_SERVER_BIN") {
        return bin;
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import osmem_server, os; print(os.path.dirname(osmem_server.__file__))",
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!("running python3 to find osmem-server: {e}; set OSMEM_SERVER_BIN")
        });
    assert!(
        out.status.success(),
        "the osmem-server Python package is not installed (pip install osmem-server==0.1.6) and OSMEM_SERVER_BIN is unset: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!(
        "{}/bin/osmem-server",
        String::from_utf8_lossy(&out.stdout).trim()
    )
}

impl OsmemServer {
    /// Start on a port the server picks itself (`-addr 127.0.0.1:0`); it announces its URL as
    /// the first line of stdout, so there is no port race. Then wait until `GET /` answers.
    pub fn start() -> OsmemServer {
        let bin = binary();
        let mut child = Command::new(&bin)
            .args([
                "-addr",
                "127.0.0.1:0",
                "-parent-pid",
                &std::process::id().to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {bin}: {e}"));
        let stdin = child
            .stdin
            .take()
            .unwrap_or_else(|| panic!("osmem-server stdin"));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("osmem-server stdout"));
        let mut first = String::new();
        let mut reader = BufReader::new(stdout);
        if let Err(e) = reader.read_line(&mut first) {
            let _ = child.kill();
            panic!("reading osmem-server's announcement: {e}");
        }
        let announced: serde_json::Value = serde_json::from_str(first.trim()).unwrap_or_default();
        let Some(url) = announced["url"].as_str().map(str::to_string) else {
            let _ = child.kill();
            panic!("osmem-server did not announce its URL; first line: {first:?}");
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });
        let server = OsmemServer {
            url,
            child,
            _stdin: stdin,
        };
        server.wait_ready(Duration::from_secs(20));
        server
    }

    fn wait_ready(&self, limit: Duration) {
        let addr = self.url.trim_start_matches("http://").to_string();
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(mut stream) = TcpStream::connect(&addr) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let request =
                    format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
                let mut answer = String::new();
                if stream.write_all(request.as_bytes()).is_ok()
                    && stream.read_to_string(&mut answer).is_ok()
                    && answer.starts_with("HTTP/1.1 200")
                {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "osmem-server at {} did not answer GET / within {limit:?}",
                self.url
            );
            // Polling a process that is still binding; nothing to wait on but the clock.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for OsmemServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
