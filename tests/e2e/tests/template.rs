//! The template component (guest/template) builds, loads and syncs through the real runner:
//! items from a paged JSON API served here, content downloaded by the host with the API key
//! the component declared but never saw, and deleted items purged by the next run.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tributary_e2e::local_folder::component_tenant;
use tributary_e2e::{SearchServer, component_dir, tributary};

/// (path, Authorization header) of every request the API received.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A tiny HTTP API on 127.0.0.1:0: answers GETs from a table of path → body, checks the API
/// key on every request and records what it received.
struct ItemsApi {
    url: String,
    answers: Arc<Mutex<HashMap<String, String>>>,
    seen: Seen,
    stop: Arc<AtomicBool>,
}

const API_KEY: &str = "template-e2e-key-1234";

impl ItemsApi {
    fn start() -> anyhow::Result<ItemsApi> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let answers: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let seen: Seen = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (a, s, st) = (answers.clone(), seen.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(conn) = conn {
                    let _ = serve(conn, &a, &s);
                }
            }
        });
        Ok(ItemsApi {
            url,
            answers,
            seen,
            stop,
        })
    }

    fn set(&self, path: &str, body: impl Into<String>) {
        self.answers
            .lock()
            .expect("lock")
            .insert(path.into(), body.into());
    }
}

impl Drop for ItemsApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so the thread sees the flag and ends.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

fn serve(
    conn: TcpStream,
    answers: &Mutex<HashMap<String, String>>,
    seen: &Mutex<Vec<(String, Option<String>)>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut auth = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':')
            && name.eq_ignore_ascii_case("authorization")
        {
            auth = Some(value.trim().to_string());
        }
    }
    seen.lock()
        .map_err(|_| std::io::Error::other("lock"))?
        .push((path.clone(), auth.clone()));
    let (status, body) = if auth.as_deref() != Some(&format!("Bearer {API_KEY}")) {
        ("401 Unauthorized", "{}".to_string())
    } else {
        match answers
            .lock()
            .map_err(|_| std::io::Error::other("lock"))?
            .get(&path)
        {
            Some(b) => ("200 OK", b.clone()),
            None => ("404 Not Found", "{}".to_string()),
        }
    };
    let mut conn = conn;
    write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    conn.flush()
}

fn template_wasm() -> String {
    let p = component_dir().join("template.wasm");
    assert!(
        p.exists(),
        "{} is missing: build it with `make components`",
        p.display()
    );
    p.to_string_lossy().into_owned()
}

#[test]
fn the_template_component_loads_and_declares_its_fields() -> anyhow::Result<()> {
    let run = tributary(&["fields", &template_wasm()], &[])?;
    run.expect_code(0)?;
    for f in ["items", "url", "use_api_key", "api_key"] {
        assert!(run.stdout.contains(f), "{f}:\n{}", run.describe());
    }
    Ok(())
}

#[test]
fn the_template_component_syncs_a_paged_api_and_purges_deleted_items() -> anyhow::Result<()> {
    let api = ItemsApi::start()?;
    let es = SearchServer::start()?;
    api.set(
        "/items",
        json!({"items": [
            {"id": "1", "title": "Alpha", "content_url": "/files/alpha.txt", "version": "1"},
            {"id": "2", "title": "Beta"}
        ], "next": "/items?page=2"})
        .to_string(),
    );
    api.set(
        "/items?page=2",
        json!({"items": [{"id": 3, "title": "Gamma", "content_url": "/files/gamma.md", "version": "1"}], "next": null}).to_string(),
    );
    api.set("/files/alpha.txt", "alpha mentions a zebra");
    api.set("/files/gamma.md", "# Gamma\n\nabout a quokka");
    let mut tenant = component_tenant(
        &es,
        &template_wasm(),
        json!({"url": format!("{}/items", api.url), "use_api_key": true, "api_key": API_KEY}),
    )?;
    // Loaded from a path, the component may use the key only where the tenant says.
    tributary_e2e::sandbox::allow_credential(
        &mut tenant,
        "header",
        &[&api.url],
        None,
        &["api_key"],
    )?;
    let report = tenant.sync_ok()?;
    assert_eq!(report["seen"], 3, "{report}");
    let docs = es.all_docs(&tenant.index)?;
    let titles: Vec<(&str, &Value)> = docs
        .iter()
        .map(|(id, d)| (id.as_str(), &d["title"]))
        .collect();
    assert_eq!(
        titles,
        [
            ("1", &json!("Alpha")),
            ("2", &json!("Beta")),
            ("3", &json!("Gamma"))
        ]
    );
    assert_eq!(es.find_text(&tenant.index, "zebra")?, ["1"]);
    assert_eq!(es.find_text(&tenant.index, "quokka")?, ["3"]);
    // Every request, listings and downloads alike, carried the key the runner holds.
    let seen = api.seen.lock().expect("lock").clone();
    assert!(seen.len() >= 4, "{seen:?}");
    assert!(
        seen.iter()
            .all(|(_, a)| a.as_deref() == Some(&format!("Bearer {API_KEY}"))),
        "{seen:?}"
    );

    // Beta deleted, Alpha edited: the next run purges one and re-reads the other.
    api.set(
        "/items",
        json!({"items": [
            {"id": "1", "title": "Alpha", "content_url": "/files/alpha.txt", "version": "2"}
        ], "next": "/items?page=2"})
        .to_string(),
    );
    api.set("/files/alpha.txt", "alpha now mentions an ibex");
    let report = tenant.sync_ok()?;
    assert_eq!(report["purged"], 1, "{report}");
    let ids: Vec<String> = es.all_docs(&tenant.index)?.into_keys().collect();
    assert_eq!(ids, ["1", "3"]);
    assert_eq!(es.find_text(&tenant.index, "ibex")?, ["1"]);
    assert!(es.find_text(&tenant.index, "zebra")?.is_empty());

    // A wrong key is the credential's fault: exit code 3, and nothing purged.
    tenant.set("source", "api_key", "wrong-key")?;
    let run = tenant.sync(&[])?;
    run.expect_code(3)?;
    assert!(!run.stderr.contains("wrong-key"), "{}", run.describe());
    assert_eq!(es.all_docs(&tenant.index)?.len(), 2);
    Ok(())
}
