//! Per-entry cost of a metadata page: decode → documents → serialized fields.
//! Run: `cargo test -p dropbox-source --release bench_ -- --ignored --nocapture`.

use std::fmt::Write as _;
use std::time::Instant;

use crate::api::{ListFolderResult, Metadata};
use crate::client::{Client, Level, Request, Response, Transport, TransportError};
use crate::config::Config;
use crate::document::{file_document, file_document_owned, folder_document, folder_document_owned};

struct NoNet;
impl Transport for NoNet {
    fn send(&self, _: Request) -> Result<Response, TransportError> {
        Err(TransportError::Denied("no network".into()))
    }
    fn log(&self, _: Level, _: &str) {}
}

fn page(n: usize) -> String {
    let mut s = String::from(r#"{"entries":["#);
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        if i % 10 == 9 {
            write!(
                s,
                r#"{{".tag":"folder","name":"Folder {i}","path_lower":"/team/projects/folder {i}","path_display":"/Team/Projects/Folder {i}","parent_shared_folder_id":"84528192421","sharing_info":{{"read_only":false,"parent_shared_folder_id":"84528192421","traverse_only":false,"no_access":false}},"id":"id:a4ayc_80_OEAAAAAAAA{i:06}"}}"#
            )
            .unwrap();
        } else {
            write!(
                s,
                r#"{{".tag":"file","name":"Quarterly Report {i}.pdf","path_lower":"/team/projects/folder {d}/quarterly report {i}.pdf","path_display":"/Team/Projects/Folder {d}/Quarterly Report {i}.pdf","parent_shared_folder_id":"84528192421","id":"id:a4ayc_80_OEAAAAAAAB{i:06}","client_modified":"2024-04-01T09:00:00Z","server_modified":"2024-04-01T09:00:05Z","rev":"015f1a2b3c4d5e6f70000{i:06}","size":{size},"sharing_info":{{"read_only":false,"parent_shared_folder_id":"84528192421","modified_by":"dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc"}},"is_downloadable":true,"has_explicit_shared_members":false,"content_hash":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}}"#,
                d = i / 10,
                size = 1000 + i
            )
            .unwrap();
        }
    }
    s.push_str(r#"],"cursor":"AAGvB2x","has_more":true}"#);
    s
}

#[test]
#[ignore]
fn bench_metadata_page() {
    const N: usize = 100_000;
    const CHUNK: usize = 2000;
    let pages: Vec<Vec<u8>> = (0..N / CHUNK).map(|_| page(CHUNK).into_bytes()).collect();
    let cfg = Config::parse(r#"{"app_key":"k"}"#).unwrap();
    let client = Client::new(&NoNet, &cfg);
    for round in 0..3 {
        let mut decode = 0.0;
        let mut map = 0.0;
        let mut bytes = 0usize;
        for body in &pages {
            let t = Instant::now();
            let r: ListFolderResult = serde_json::from_slice(body).unwrap();
            decode += t.elapsed().as_secs_f64();
            let t = Instant::now();
            // As the session does: entries are consumed.
            for e in r.entries {
                let d = match e {
                    Metadata::File(f) => file_document_owned(f, &client),
                    Metadata::Folder(f) => folder_document_owned(f, &cfg.web_url),
                    _ => unreachable!(),
                };
                let fields = d.fields.to_string();
                bytes += fields.len() + d.content.map_or(0, |c| c.request.headers[0].1.len());
            }
            map += t.elapsed().as_secs_f64();
        }
        println!(
            "round {round}: decode {:.0} ns/entry, map+serialize {:.0} ns/entry, total {:.0} ns/entry ({bytes} bytes)",
            decode * 1e9 / N as f64,
            map * 1e9 / N as f64,
            (decode + map) * 1e9 / N as f64
        );
    }
}

/// Writes every document of a synthetic page (with edge cases) to `$DROPBOX_DUMP`, so the
/// output can be diffed across implementations.
#[test]
#[ignore]
fn bench_dump_documents() {
    let Ok(path) = std::env::var("DROPBOX_DUMP") else {
        return;
    };
    let mut body = page(50);
    body.insert_str(
        body.find('[').unwrap() + 1,
        r#"{".tag":"file","name":"Plan.paper","id":"id:P","path_display":"/Ünï/資料 #1/Plan.paper","rev":"abc","size":3,"is_downloadable":false,"export_info":{"export_as":"html","export_options":["html","markdown"]}},{".tag":"file","name":"Sheet.gsheet","id":"id:G\"\\é😀","is_downloadable":false,"export_info":{"export_options":["xlsx"]}},{".tag":"file","name":".bashrc","id":"id:x\"\\é😀\u007f\n","sharing_info":{"read_only":true}},{".tag":"folder","name":"R & Co","id":"id:F","path_display":"/R & Co","shared_folder_id":"9","sharing_info":{"read_only":true,"shared_folder_id":"84"}},{".tag":"folder","name":"bare","id":"id:B"},"#,
    );
    let r: ListFolderResult = serde_json::from_str(&body).unwrap();
    let cfg = Config::parse(r#"{"app_key":"k"}"#).unwrap();
    let mut client = Client::new(&NoNet, &cfg);
    client.context = crate::client::Context::new(Some("dbmid:A".into()), Some("7"));
    let mut out = String::new();
    for e in &r.entries {
        let d = match e {
            Metadata::File(f) => file_document(f, &client),
            Metadata::Folder(f) => folder_document(f, &cfg.web_url),
            _ => unreachable!(),
        };
        writeln!(out, "{} {} {}", d.id, d.scope, d.fields).unwrap();
        writeln!(out, "  {:?}", d.content).unwrap();
    }
    std::fs::write(path, out).unwrap();
}
