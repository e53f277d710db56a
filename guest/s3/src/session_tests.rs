//! Session, check and watch behaviour against a scripted fake S3 (ListObjectsV2 with
//! continuation tokens and `encoding-type=url`, HeadObject, `<Error>` bodies).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use crate::check::check;
use crate::checkpoint::Checkpoint;
use crate::config::Config;
use crate::document::{Change, document_id};
use crate::error::Error;
use crate::session::{Page, Session};
use crate::transport::{Level, Method, Request, Response, Transport, TransportError};
use crate::uri;
use crate::watch::wait_for_changes;

const ORIGIN: &str = "http://127.0.0.1:9000";

#[derive(Clone)]
struct FakeObject {
    etag: String,
    size: u64,
    meta: Vec<(String, String)>,
}

/// A fake S3 bucket `docs` served path-style at [`ORIGIN`].
struct FakeS3 {
    objects: RefCell<BTreeMap<String, FakeObject>>,
    sent: RefCell<Vec<Request>>,
    many_calls: Cell<usize>,
    logs: RefCell<Vec<(Level, String)>>,
    /// Answer the next list request with this instead.
    list_override: RefCell<Option<Response>>,
    /// HEAD answers by key instead of the object's headers.
    head_override: RefCell<BTreeMap<String, u16>>,
    /// Tokens the fake no longer accepts (as after a server-side expiry).
    expired_tokens: RefCell<Vec<String>>,
    /// Keys per page when the request does not say.
    repeat_token: Cell<bool>,
}

impl FakeS3 {
    fn new(keys: &[&str]) -> FakeS3 {
        let objects = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                (
                    k.to_string(),
                    FakeObject {
                        etag: format!("etag{i:04}"),
                        size: 10 + i as u64,
                        meta: vec![],
                    },
                )
            })
            .collect();
        FakeS3 {
            objects: RefCell::new(objects),
            sent: RefCell::new(Vec::new()),
            many_calls: Cell::new(0),
            logs: RefCell::new(Vec::new()),
            list_override: RefCell::new(None),
            head_override: RefCell::new(BTreeMap::new()),
            expired_tokens: RefCell::new(Vec::new()),
            repeat_token: Cell::new(false),
        }
    }

    fn query(url: &str) -> BTreeMap<String, String> {
        let q = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (n, v) = p.split_once('=').unwrap_or((p, ""));
                (
                    n.to_string(),
                    percent_decode_str(v).decode_utf8().unwrap().into_owned(),
                )
            })
            .collect()
    }

    /// S3's `encoding-type=url` form: percent-encoded, space as `+`.
    fn s3_url_encode(key: &str) -> String {
        uri::encode_key(key).replace("%20", "+")
    }

    fn list(&self, req: &Request) -> Response {
        if let Some(r) = self.list_override.borrow_mut().take() {
            return r;
        }
        assert!(
            req.url.starts_with(&format!("{ORIGIN}/docs?")),
            "{}",
            req.url
        );
        let q = Self::query(&req.url);
        assert_eq!(q["list-type"], "2");
        assert_eq!(q["encoding-type"], "url");
        let max: usize = q["max-keys"].parse().unwrap();
        let prefix = q.get("prefix").cloned().unwrap_or_default();
        let after = match q.get("continuation-token") {
            Some(t) if self.expired_tokens.borrow().contains(t) => {
                return error(
                    400,
                    "InvalidArgument",
                    "The continuation token provided is incorrect",
                );
            }
            Some(t) => Some(t.strip_prefix("after:").unwrap().to_string()),
            None => None,
        };
        let objects = self.objects.borrow();
        let matching: Vec<(&String, &FakeObject)> = objects
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| after.as_ref().is_none_or(|a| *k > a))
            .collect();
        let page = &matching[..matching.len().min(max)];
        let truncated = matching.len() > max;
        let mut xml = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>docs</Name>",
        );
        xml.push_str(&format!(
            "<Prefix>{}</Prefix><KeyCount>{}</KeyCount><MaxKeys>{max}</MaxKeys><EncodingType>url</EncodingType><IsTruncated>{truncated}</IsTruncated>",
            Self::s3_url_encode(&prefix),
            page.len()
        ));
        for (k, o) in page {
            xml.push_str(&format!(
                "<Contents><Key>{}</Key><LastModified>2024-04-01T09:00:05.000Z</LastModified><ETag>&quot;{}&quot;</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
                Self::s3_url_encode(k),
                o.etag,
                o.size
            ));
        }
        if truncated {
            let token = if self.repeat_token.get() {
                q.get("continuation-token").cloned().unwrap_or_default()
            } else {
                format!("after:{}", page.last().unwrap().0)
            };
            xml.push_str(&format!(
                "<NextContinuationToken>{}</NextContinuationToken>",
                token
            ));
        }
        xml.push_str("</ListBucketResult>");
        Response {
            status: 200,
            headers: vec![("Content-Type".into(), "application/xml".into())],
            body: xml.into_bytes(),
        }
    }

    fn head(&self, req: &Request) -> Response {
        let path = req.url.strip_prefix(&format!("{ORIGIN}/docs/")).unwrap();
        let key = percent_decode_str(path).decode_utf8().unwrap().into_owned();
        if let Some(status) = self.head_override.borrow().get(&key) {
            return Response {
                status: *status,
                headers: vec![],
                body: vec![],
            };
        }
        match self.objects.borrow().get(&key) {
            Some(o) => {
                let mut headers = vec![
                    ("Content-Type".to_string(), "text/plain".to_string()),
                    ("ETag".to_string(), format!("\"{}\"", o.etag)),
                ];
                headers.extend(o.meta.iter().cloned());
                Response {
                    status: 200,
                    headers,
                    body: vec![],
                }
            }
            None => Response {
                status: 404,
                headers: vec![],
                body: vec![],
            },
        }
    }

    fn sent_lists(&self) -> Vec<Request> {
        self.sent
            .borrow()
            .iter()
            .filter(|r| r.method == Method::Get)
            .cloned()
            .collect()
    }
}

impl Transport for &FakeS3 {
    fn send(&self, req: Request) -> Result<Response, TransportError> {
        assert!(req.authenticate, "every S3 request is signed by the host");
        for (name, _) in &req.headers {
            assert!(
                !name.eq_ignore_ascii_case("authorization")
                    && !name.to_ascii_lowercase().starts_with("x-amz-"),
                "the component sets no auth header: {name}"
            );
        }
        self.sent.borrow_mut().push(req.clone());
        Ok(match req.method {
            Method::Get => self.list(&req),
            Method::Head => self.head(&req),
        })
    }

    fn send_many(&self, reqs: Vec<Request>) -> Vec<Result<Response, TransportError>> {
        self.many_calls.set(self.many_calls.get() + 1);
        reqs.into_iter().map(|r| self.send(r)).collect()
    }

    fn log(&self, level: Level, message: &str) {
        self.logs.borrow_mut().push((level, message.to_string()));
    }
}

fn error(status: u16, code: &str, message: &str) -> Response {
    Response {
        status,
        headers: vec![("Content-Type".into(), "application/xml".into())],
        body: format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>R</RequestId></Error>"
        )
        .into_bytes(),
    }
}

fn config(extra: Value) -> Config {
    let mut v = json!({"bucket": "docs", "endpoint": ORIGIN, "path_style": true});
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    Config::parse(&v.to_string()).unwrap()
}

/// Run a session to the end; returns the pages.
fn run(fake: &FakeS3, config: Config, checkpoint: Option<&str>) -> Result<Vec<Page>, Error> {
    let mut s = Session::start(fake, config, checkpoint)?;
    let mut pages = Vec::new();
    for _ in 0..10_000 {
        let p = s.next_page()?;
        let more = p.has_more;
        pages.push(p);
        if !more {
            return Ok(pages);
        }
    }
    panic!("the session never ended");
}

fn upserted(pages: &[Page]) -> Vec<(String, Value)> {
    pages
        .iter()
        .flat_map(|p| &p.changes)
        .filter_map(|c| match c {
            Change::Upsert(d) => Some((d.id.clone(), serde_json::from_str(&d.fields).unwrap())),
            _ => None,
        })
        .collect()
}

fn keys_of(pages: &[Page]) -> Vec<String> {
    upserted(pages)
        .into_iter()
        .map(|(_, f)| f["key"].as_str().unwrap().to_string())
        .collect()
}

const AWKWARD: &[&str] = &[
    "a b/space name.txt",
    "plus+sign.md",
    "percent%41.txt",
    "tilde~/x.txt",
    "日本語/ファイル.txt",
    "emoji 🚀.md",
    "folder/",
    "z-last.csv",
];

#[test]
fn a_full_sync_follows_the_continuation_chain_and_closes_the_enumeration() {
    let fake = FakeS3::new(AWKWARD);
    let pages = run(&fake, config(json!({"page_size": 3})), None).unwrap();
    assert_eq!(pages.len(), 3, "8 keys at 3 per page");
    assert_eq!(
        pages[0].changes.first(),
        Some(&Change::BeginEnumeration("objects".into()))
    );
    assert_eq!(
        pages[2].changes.last(),
        Some(&Change::EndEnumeration("objects".into()))
    );
    let begins = pages
        .iter()
        .flat_map(|p| &p.changes)
        .filter(|c| matches!(c, Change::BeginEnumeration(_)))
        .count();
    assert_eq!(begins, 1);
    assert!(pages[0].has_more && pages[1].has_more && !pages[2].has_more);

    // Every key exactly once, in S3's order, with the right id.
    let mut expected: Vec<String> = AWKWARD.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(keys_of(&pages), expected);
    for (id, f) in upserted(&pages) {
        assert_eq!(id, document_id("docs", f["key"].as_str().unwrap()));
    }

    // Checkpoints carry the next token, then none.
    let cps: Vec<Checkpoint> = pages
        .iter()
        .map(|p| Checkpoint::decode(p.checkpoint.as_deref().unwrap()).unwrap())
        .collect();
    assert_eq!(cps[0].token.as_deref(), Some("after:folder/"));
    assert!(cps[1].token.is_some());
    assert_eq!(cps[2].token, None);

    // The second and third requests carried the previous page's token.
    let lists = fake.sent_lists();
    assert_eq!(lists.len(), 3);
    assert!(!lists[0].url.contains("continuation-token"));
    assert!(
        lists[1]
            .url
            .contains("continuation-token=after%3Afolder%2F&"),
        "{}",
        lists[1].url
    );
    assert_eq!(fake.many_calls.get(), 0, "no HeadObject unless asked");
}

#[test]
fn documents_of_awkward_keys_carry_decoded_keys_and_encoded_urls() {
    let fake = FakeS3::new(AWKWARD);
    let pages = run(&fake, config(json!({})), None).unwrap();
    let docs: BTreeMap<String, Value> = upserted(&pages)
        .into_iter()
        .map(|(_, f)| (f["key"].as_str().unwrap().to_string(), f))
        .collect();
    let plus = &docs["plus+sign.md"];
    assert_eq!(plus["name"], "plus+sign.md");
    assert_eq!(plus["url"], format!("{ORIGIN}/docs/plus%2Bsign.md"));
    assert_eq!(plus["etag"], "etag0001");
    assert_eq!(plus["mime_type"], "text/markdown");
    let jp = &docs["日本語/ファイル.txt"];
    assert_eq!(jp["folder"], "日本語");
    assert_eq!(jp["name"], "ファイル.txt");
    assert_eq!(
        docs["a b/space name.txt"]["url"],
        format!("{ORIGIN}/docs/a%20b/space%20name.txt")
    );
    assert_eq!(
        docs["percent%41.txt"]["url"],
        format!("{ORIGIN}/docs/percent%2541.txt")
    );
    assert_eq!(docs["folder/"]["type"], "folder");

    // Content requests: signed GETs of the object URL, keyed by ETag; none for the folder.
    let contents: Vec<_> = pages
        .iter()
        .flat_map(|p| &p.changes)
        .filter_map(|c| match c {
            Change::Upsert(d) => Some((d, d.content.as_ref())),
            _ => None,
        })
        .collect();
    for (d, content) in contents {
        let f: Value = serde_json::from_str(&d.fields).unwrap();
        match content {
            None => assert_eq!(f["type"], "folder"),
            Some(c) => {
                assert_eq!(c.request.url, f["url"]);
                assert!(c.request.authenticate);
                assert_eq!(c.content_key.as_deref(), f["etag"].as_str());
                assert_eq!(c.file_name, f["name"]);
            }
        }
    }
}

#[test]
fn a_resumed_session_continues_after_the_token_without_a_new_begin() {
    let fake = FakeS3::new(AWKWARD);
    let first = run(&fake, config(json!({"page_size": 3})), None).unwrap();
    let mid = first[0].checkpoint.clone().unwrap();

    let fake = FakeS3::new(AWKWARD);
    let pages = run(&fake, config(json!({"page_size": 3})), Some(&mid)).unwrap();
    assert!(
        pages
            .iter()
            .flat_map(|p| &p.changes)
            .all(|c| !matches!(c, Change::BeginEnumeration(_)))
    );
    assert_eq!(
        pages.last().unwrap().changes.last(),
        Some(&Change::EndEnumeration("objects".into()))
    );
    let mut expected: Vec<String> = AWKWARD.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(keys_of(&pages), expected[3..].to_vec());
}

#[test]
fn after_a_completed_run_the_next_one_is_a_new_complete_enumeration() {
    let fake = FakeS3::new(&["a.txt", "b.txt"]);
    let pages = run(&fake, config(json!({})), None).unwrap();
    let done = pages.last().unwrap().checkpoint.clone().unwrap();

    fake.objects.borrow_mut().remove("a.txt");
    let pages = run(&fake, config(json!({})), Some(&done)).unwrap();
    assert_eq!(pages.len(), 1);
    assert_eq!(
        pages[0].changes.first(),
        Some(&Change::BeginEnumeration("objects".into()))
    );
    assert_eq!(keys_of(&pages), ["b.txt"]);
    assert_eq!(
        pages[0].changes.last(),
        Some(&Change::EndEnumeration("objects".into()))
    );
}

#[test]
fn a_finished_session_repeats_its_final_checkpoint() {
    let fake = FakeS3::new(&["a.txt"]);
    let mut s = Session::start(&fake, config(json!({})), None).unwrap();
    let last = s.next_page().unwrap();
    assert!(!last.has_more);
    let again = s.next_page().unwrap();
    assert!(again.changes.is_empty() && !again.has_more);
    assert_eq!(again.checkpoint, last.checkpoint);
    assert_eq!(fake.sent_lists().len(), 1);
}

#[test]
fn an_empty_bucket_is_an_empty_complete_enumeration() {
    let fake = FakeS3::new(&[]);
    let pages = run(&fake, config(json!({})), None).unwrap();
    assert_eq!(
        pages[0].changes,
        vec![
            Change::BeginEnumeration("objects".into()),
            Change::EndEnumeration("objects".into())
        ]
    );
}

#[test]
fn the_prefix_is_sent_encoded_and_bounds_the_listing() {
    let fake = FakeS3::new(&["a/1.txt", "a b/2.txt", "a+/3.txt", "b/4.txt"]);
    let pages = run(&fake, config(json!({"prefix": "a b/"})), None).unwrap();
    assert_eq!(keys_of(&pages), ["a b/2.txt"]);
    assert!(fake.sent_lists()[0].url.contains("&prefix=a%20b%2F"));
    let fake = FakeS3::new(&["a/1.txt", "a b/2.txt", "a+/3.txt", "b/4.txt"]);
    let pages = run(&fake, config(json!({"prefix": "a+"})), None).unwrap();
    assert_eq!(keys_of(&pages), ["a+/3.txt"]);
}

#[test]
fn a_checkpoint_of_another_bucket_or_prefix_is_refused() {
    let fake = FakeS3::new(&["a.txt", "b.txt", "c.txt"]);
    let pages = run(&fake, config(json!({"page_size": 1})), None).unwrap();
    let mid = pages[0].checkpoint.clone().unwrap();
    let other_prefix = Session::start(&fake, config(json!({"prefix": "x/"})), Some(&mid));
    assert!(matches!(other_prefix, Err(Error::CheckpointMismatch(_))));
    let other_bucket = Config::parse(
        &json!({"bucket": "other", "endpoint": ORIGIN, "path_style": true}).to_string(),
    )
    .unwrap();
    assert!(matches!(
        Session::start(&fake, other_bucket, Some(&mid)),
        Err(Error::CheckpointMismatch(_))
    ));
}

#[test]
fn a_stale_continuation_token_expires_the_checkpoint() {
    let fake = FakeS3::new(&["a.txt", "b.txt", "c.txt"]);
    let pages = run(&fake, config(json!({"page_size": 1})), None).unwrap();
    let mid = pages[0].checkpoint.clone().unwrap();
    let token = Checkpoint::decode(&mid).unwrap().token.unwrap();
    fake.expired_tokens.borrow_mut().push(token);
    let mut s = Session::start(&fake, config(json!({"page_size": 1})), Some(&mid)).unwrap();
    assert!(matches!(s.next_page(), Err(Error::CheckpointExpired(_))));
}

#[test]
fn s3_errors_map_to_source_errors_and_a_retry_repeats_the_page() {
    let fake = FakeS3::new(&["a.txt", "b.txt"]);
    let mut s = Session::start(&fake, config(json!({"page_size": 1})), None).unwrap();
    *fake.list_override.borrow_mut() = Some(error(
        404,
        "NoSuchBucket",
        "The specified bucket does not exist",
    ));
    assert!(matches!(s.next_page(), Err(Error::InvalidConfig(m)) if m.starts_with("bucket:")));
    *fake.list_override.borrow_mut() = Some(error(
        403,
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
    ));
    assert!(
        matches!(s.next_page(), Err(Error::Unauthorized(m)) if m.starts_with("access_key_id:"))
    );
    *fake.list_override.borrow_mut() = Some(error(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided.",
    ));
    assert!(
        matches!(s.next_page(), Err(Error::Unauthorized(m)) if m.starts_with("secret_access_key:"))
    );
    *fake.list_override.borrow_mut() = Some(error(403, "AccessDenied", "Access Denied"));
    assert!(matches!(s.next_page(), Err(Error::Unauthorized(m)) if m.contains("s3:ListBucket")));
    *fake.list_override.borrow_mut() =
        Some(error(503, "SlowDown", "Please reduce your request rate."));
    assert!(matches!(s.next_page(), Err(Error::Transient(_))));
    // The failed calls changed nothing: the first page still opens the enumeration.
    let p = s.next_page().unwrap();
    assert_eq!(
        p.changes.first(),
        Some(&Change::BeginEnumeration("objects".into()))
    );
    assert_eq!(keys_of(&[p]), ["a.txt"]);
}

#[test]
fn a_body_that_is_not_s3_xml_is_a_permanent_error_naming_the_endpoint() {
    let fake = FakeS3::new(&["a.txt"]);
    *fake.list_override.borrow_mut() = Some(Response {
        status: 200,
        headers: vec![],
        body: b"<html>captive portal</html>".to_vec(),
    });
    let mut s = Session::start(&fake, config(json!({})), None).unwrap();
    assert!(
        matches!(s.next_page(), Err(Error::Permanent(m)) if m.contains(ORIGIN) && m.contains("endpoint"))
    );
}

#[test]
fn a_server_repeating_its_token_is_stopped() {
    let fake = FakeS3::new(&["a.txt", "b.txt", "c.txt"]);
    let pages = run(&fake, config(json!({"page_size": 1})), None).unwrap();
    let mid = pages[0].checkpoint.clone().unwrap();
    fake.repeat_token.set(true);
    let mut s = Session::start(&fake, config(json!({"page_size": 1})), Some(&mid)).unwrap();
    assert!(
        matches!(s.next_page(), Err(Error::Permanent(m)) if m.contains("same continuation token"))
    );
}

#[test]
fn fetch_metadata_heads_the_page_files_at_once_and_skips_deleted_ones() {
    let fake = FakeS3::new(&["a.txt", "dir/", "dot/../seg.txt", "gone.txt", "meta.md"]);
    fake.objects.borrow_mut().get_mut("meta.md").unwrap().meta = vec![
        ("x-amz-meta-author".into(), "Ada".into()),
        ("X-Amz-Meta-Project".into(), "apollo".into()),
    ];
    fake.head_override
        .borrow_mut()
        .insert("gone.txt".into(), 404);
    let pages = run(&fake, config(json!({"fetch_metadata": true})), None).unwrap();
    assert_eq!(fake.many_calls.get(), 1, "one send-many per page");
    let heads: Vec<String> = fake
        .sent
        .borrow()
        .iter()
        .filter(|r| r.method == Method::Head)
        .map(|r| r.url.clone())
        .collect();
    assert_eq!(
        heads,
        [
            format!("{ORIGIN}/docs/a.txt"),
            format!("{ORIGIN}/docs/gone.txt"),
            format!("{ORIGIN}/docs/meta.md")
        ],
        "folders and dot-segment keys (whose URL names another key) are not HEADed"
    );
    let docs: BTreeMap<String, Value> = upserted(&pages)
        .into_iter()
        .map(|(_, f)| (f["key"].as_str().unwrap().to_string(), f))
        .collect();
    assert_eq!(
        docs.keys().collect::<Vec<_>>(),
        ["a.txt", "dir/", "dot/../seg.txt", "meta.md"],
        "an object deleted after the listing is not indexed"
    );
    assert_eq!(
        docs["meta.md"]["metadata"],
        json!({"author": "Ada", "project": "apollo"})
    );
    assert_eq!(docs["meta.md"]["content_type"], "text/plain");
    assert!(docs["a.txt"].get("metadata").is_none());
}

#[test]
fn fetch_metadata_denied_says_how_to_fix_it() {
    let fake = FakeS3::new(&["a.txt"]);
    fake.head_override.borrow_mut().insert("a.txt".into(), 403);
    let mut s = Session::start(&fake, config(json!({"fetch_metadata": true})), None).unwrap();
    assert!(
        matches!(s.next_page(), Err(Error::Unauthorized(m)) if m.contains("fetch_metadata = false") && m.contains("s3:GetObject"))
    );
}

#[test]
fn check_lists_one_key_and_reads_it() {
    let fake = FakeS3::new(&["first.txt", "second.txt"]);
    let msg = check(&&fake, &config(json!({}))).unwrap();
    assert!(
        msg.contains("\"first.txt\"") && msg.contains("readable"),
        "{msg}"
    );
    let lists = fake.sent_lists();
    assert_eq!(lists.len(), 1);
    assert!(lists[0].url.contains("max-keys=1"));

    let empty = FakeS3::new(&[]);
    let msg = check(&&empty, &config(json!({}))).unwrap();
    assert!(msg.contains("no objects"), "{msg}");

    let denied = FakeS3::new(&["first.txt"]);
    denied
        .head_override
        .borrow_mut()
        .insert("first.txt".into(), 403);
    assert!(
        matches!(check(&&denied, &config(json!({}))), Err(Error::Unauthorized(m)) if m.contains("s3:GetObject"))
    );

    let missing = FakeS3::new(&[]);
    *missing.list_override.borrow_mut() = Some(error(
        404,
        "NoSuchBucket",
        "The specified bucket does not exist",
    ));
    assert!(
        matches!(check(&&missing, &config(json!({}))), Err(Error::InvalidConfig(m)) if m.starts_with("bucket:"))
    );
}

#[test]
fn watch_resumes_an_interrupted_listing_at_once_and_waits_after_a_complete_one() {
    let fake = FakeS3::new(&["a.txt", "b.txt"]);
    let c = config(json!({"page_size": 1, "watch_interval_secs": 30}));
    let pages = run(&fake, c.clone(), None).unwrap();
    let mid = wait_for_changes(&c, pages[0].checkpoint.as_deref().unwrap()).unwrap();
    assert!(mid.changes);
    assert_eq!(mid.backoff_secs, None);
    let done = wait_for_changes(&c, pages.last().unwrap().checkpoint.as_deref().unwrap()).unwrap();
    assert!(done.changes);
    assert_eq!(done.backoff_secs, Some(30));
    assert!(matches!(
        wait_for_changes(
            &config(json!({"prefix": "p/"})),
            pages[0].checkpoint.as_deref().unwrap()
        ),
        Err(Error::CheckpointMismatch(_))
    ));
    assert!(
        fake.sent_lists().len() == 2,
        "wait-for-changes sends nothing"
    );
}

#[test]
fn logs_never_carry_secrets_and_say_where_the_session_starts() {
    let fake = FakeS3::new(&["a.txt"]);
    let c = Config::parse(
        &json!({"bucket": "docs", "endpoint": ORIGIN, "path_style": true,
                "access_key_id": "AKIDEXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG"})
        .to_string(),
    )
    .unwrap();
    run(&fake, c, None).unwrap();
    let logs = fake.logs.borrow();
    assert!(
        logs.iter()
            .any(|(l, m)| *l == Level::Info && m.contains("full listing"))
    );
    for (_, m) in logs.iter() {
        assert!(
            !m.contains("AKIDEXAMPLE") && !m.contains("wJalrXUtnFEMI"),
            "{m}"
        );
    }
    for r in fake.sent.borrow().iter() {
        assert!(!r.url.contains("AKIDEXAMPLE") && !r.url.contains("wJalrXUtnFEMI"));
    }
}
