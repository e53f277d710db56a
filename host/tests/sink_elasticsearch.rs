//! The Elasticsearch sink against a real server (osmem-server, or `ES_URL`).
#![allow(clippy::unwrap_used)]

#[path = "common/osmem.rs"]
mod osmem;

use osmem::TestCluster;
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::mpsc::{self, UnboundedReceiver};
use tributary::es::EsSettings;
use tributary::sink::bulk::BulkSettings;
use tributary::sink::elasticsearch::EsSink;
use tributary::sink::{Doc, Sink, Write, WriteAck};

static NEXT_INDEX: AtomicUsize = AtomicUsize::new(0);

fn unique_index(name: &str) -> String {
    format!(
        "sink-test-{name}-{}-{}",
        std::process::id(),
        NEXT_INDEX.fetch_add(1, Ordering::Relaxed)
    )
}

fn obj(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

/// A document as the sink takes it.
fn doc(value: Value) -> Doc {
    Doc::from_map(value.as_object().unwrap())
}

fn connector_properties() -> Value {
    json!({
        "name": { "type": "text" },
        "path_lower": { "type": "keyword" },
        "size": { "type": "long" }
    })
}

struct Fixture {
    cluster: TestCluster,
    index: String,
    sink: Sink,
    acks: UnboundedReceiver<WriteAck>,
    http: reqwest::Client,
}

async fn fixture(name: &str, bulk: BulkSettings) -> Fixture {
    let cluster = TestCluster::start();
    let index = unique_index(name);
    let settings = EsSettings {
        url: cluster.url.clone(),
        ..EsSettings::default()
    };
    let (tx, acks) = mpsc::unbounded_channel();
    let sink = Sink::Elasticsearch(EsSink::connect(&settings, &index, bulk, tx).await.unwrap());
    sink.prepare(&connector_properties()).await.unwrap();
    Fixture {
        cluster,
        index,
        sink,
        acks,
        http: reqwest::Client::new(),
    }
}

impl Fixture {
    async fn get(&self, id: &str) -> Option<Map<String, Value>> {
        let url = format!("{}/{}/_doc/{}", self.cluster.url, self.index, urlencode(id));
        let body: Value = self
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (body["found"] == json!(true)).then(|| obj(body["_source"].clone()))
    }

    async fn ids(&self) -> BTreeSet<String> {
        let _ = self
            .http
            .post(format!("{}/{}/_refresh", self.cluster.url, self.index))
            .send()
            .await
            .unwrap();
        let body: Value = self
            .http
            .post(format!("{}/{}/_search", self.cluster.url, self.index))
            .json(&json!({"size": 1000, "query": {"match_all": {}}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["hits"]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["_id"].as_str().unwrap().to_string())
            .collect()
    }

    fn take_acks(&mut self) -> HashMap<u64, Result<(), String>> {
        let mut out = HashMap::new();
        while let Ok(ack) = self.acks.try_recv() {
            assert!(
                out.insert(ack.token, ack.outcome).is_none(),
                "token {} acknowledged twice",
                ack.token
            );
        }
        out
    }
}

fn urlencode(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn batches_close_on_action_count() {
    let mut f = fixture(
        "count",
        BulkSettings {
            max_actions: 10,
            ..BulkSettings::default()
        },
    )
    .await;
    for i in 0..25u64 {
        let source = doc(json!({"name": format!("doc {i}"), "_timestamp": "2024-01-01T00:00:00Z"}));
        f.sink
            .submit(
                Write::Index {
                    id: format!("d{i}"),
                    source,
                },
                i,
            )
            .await
            .unwrap();
    }
    f.sink.drain().await.unwrap();
    let acks = f.take_acks();
    assert_eq!(
        acks.len(),
        25,
        "every write is acknowledged before drain returns"
    );
    assert!(acks.values().all(Result::is_ok), "{acks:?}");
    let stats = f.sink.stats();
    assert_eq!(
        (stats.bulk_requests, stats.indexed, stats.failed),
        (3, 25, 0)
    );
    assert_eq!(f.ids().await.len(), 25);
}

#[tokio::test]
async fn batches_close_on_bytes_measured_exactly() {
    // Each write serializes to exactly `item` bytes: the action line and the source line.
    let source = |i: u64| {
        doc(
            json!({"name": format!("{i:03}{}", "x".repeat(200)), "_timestamp": "2024-01-01T00:00:00Z"}),
        )
    };
    let item = |i: u64| {
        format!(
            "{}\n{}\n",
            json!({"index": {"_id": format!("d{i:03}")}}),
            std::str::from_utf8(source(i).as_bytes()).unwrap()
        )
        .len()
    };
    let per = item(0);
    assert!((0..20).all(|i| item(i) == per));
    // Room for three items and a bit: the fourth would overflow, so batches hold three.
    let max_bytes = per * 3 + per / 2;
    let f = fixture(
        "bytes",
        BulkSettings {
            max_actions: 1000,
            max_bytes,
            ..BulkSettings::default()
        },
    )
    .await;
    for i in 0..20u64 {
        f.sink
            .submit(
                Write::Index {
                    id: format!("d{i:03}"),
                    source: source(i),
                },
                i,
            )
            .await
            .unwrap();
    }
    f.sink.drain().await.unwrap();
    let stats = f.sink.stats();
    assert_eq!(stats.bulk_requests, 7, "20 writes at 3 per request");
    assert_eq!(stats.bytes_sent, 20 * per as u64);
    assert_eq!(f.ids().await.len(), 20);
}

#[tokio::test]
async fn index_without_timestamp_keeps_the_first_indexed_time_and_clears_stale_content() {
    let mut f = fixture("upsert", BulkSettings::default()).await;
    let first = doc(
        json!({"name": "v1", "body": "old text", "content_status": "extracted",
        "tributary": {"scope": "s", "run": "r1", "content_key": "k1"}}),
    );
    f.sink
        .submit(
            Write::Index {
                id: "id:1".into(),
                source: first,
            },
            1,
        )
        .await
        .unwrap();
    f.sink.drain().await.unwrap();
    let stored = f.get("id:1").await.unwrap();
    let stamp = stored["_timestamp"].as_str().unwrap().to_string();
    assert!(stamp.ends_with('Z') && stamp.len() == 24, "{stamp}");

    let second = doc(
        json!({"name": "v2", "content_status": "failed", "content_skipped_reason": "HTTP 500",
        "tributary": {"scope": "s", "run": "r2"}}),
    );
    f.sink
        .submit(
            Write::Index {
                id: "id:1".into(),
                source: second,
            },
            2,
        )
        .await
        .unwrap();
    f.sink.drain().await.unwrap();
    let stored = f.get("id:1").await.unwrap();
    assert_eq!(
        stored["_timestamp"],
        json!(stamp),
        "first-indexed time preserved"
    );
    assert_eq!(stored["name"], json!("v2"));
    assert_eq!(
        stored.get("body").cloned().unwrap_or(Value::Null),
        Value::Null,
        "stale body cleared"
    );
    assert_eq!(stored["tributary"]["run"], json!("r2"));
    assert_eq!(
        stored["tributary"]
            .get("content_key")
            .cloned()
            .unwrap_or(Value::Null),
        Value::Null
    );

    // A source that carries `_timestamp` replaces the document outright.
    let third = doc(json!({"name": "v3", "_timestamp": "2020-02-02T00:00:00Z"}));
    f.sink
        .submit(
            Write::Index {
                id: "id:1".into(),
                source: third.clone(),
            },
            3,
        )
        .await
        .unwrap();
    f.sink.drain().await.unwrap();
    assert_eq!(f.get("id:1").await.unwrap(), third.to_map().unwrap());
    let acks = f.take_acks();
    assert!(
        acks.values().all(Result::is_ok) && acks.len() == 3,
        "{acks:?}"
    );
}

#[tokio::test]
async fn update_merges_fields_into_the_stored_document() {
    let mut f = fixture("update", BulkSettings::default()).await;
    let source = doc(
        json!({"name": "a", "body": "text", "tributary": {"scope": "s", "run": "r1", "content_key": "k"}}),
    );
    f.sink
        .submit(
            Write::Index {
                id: "u".into(),
                source,
            },
            1,
        )
        .await
        .unwrap();
    f.sink
        .submit(
            Write::Update {
                id: "u".into(),
                fields: doc(json!({"name": "b", "tributary": {"run": "r2"}})),
            },
            2,
        )
        .await
        .unwrap();
    f.sink.drain().await.unwrap();
    let stored = f.get("u").await.unwrap();
    assert_eq!(
        (stored["name"].clone(), stored["body"].clone()),
        (json!("b"), json!("text"))
    );
    assert_eq!(
        stored["tributary"],
        json!({"scope": "s", "run": "r2", "content_key": "k"})
    );
    assert_eq!(f.sink.stats().updated, 1);
    assert!(f.take_acks().values().all(Result::is_ok));
}

#[tokio::test]
async fn item_level_errors_are_acknowledged_and_counted_without_stopping_the_run() {
    let mut f = fixture("errors", BulkSettings::default()).await;
    let good = |n: &str| doc(json!({"name": n, "size": 1, "_timestamp": "2024-01-01T00:00:00Z"}));
    f.sink
        .submit(
            Write::Index {
                id: "good1".into(),
                source: good("a"),
            },
            1,
        )
        .await
        .unwrap();
    let bad =
        doc(json!({"name": "b", "size": "not a number", "_timestamp": "2024-01-01T00:00:00Z"}));
    f.sink
        .submit(
            Write::Index {
                id: "bad".into(),
                source: bad,
            },
            2,
        )
        .await
        .unwrap();
    f.sink
        .submit(
            Write::Update {
                id: "missing".into(),
                fields: doc(json!({"name": "x"})),
            },
            3,
        )
        .await
        .unwrap();
    f.sink
        .submit(
            Write::Delete {
                id: "never-existed".into(),
            },
            4,
        )
        .await
        .unwrap();
    f.sink
        .submit(
            Write::Index {
                id: "good2".into(),
                source: good("c"),
            },
            5,
        )
        .await
        .unwrap();
    f.sink.drain().await.unwrap();
    let acks = f.take_acks();
    assert_eq!(acks[&1], Ok(()));
    let bad_reason = acks[&2].clone().unwrap_err();
    assert!(
        bad_reason.starts_with("400:") && bad_reason.contains("size"),
        "{bad_reason}"
    );
    let missing = acks[&3].clone().unwrap_err();
    assert!(missing.starts_with("404:"), "{missing}");
    assert_eq!(acks[&4], Ok(()), "deleting what is already gone is success");
    assert_eq!(acks[&5], Ok(()));
    let stats = f.sink.close().await.unwrap();
    assert_eq!(
        (
            stats.indexed,
            stats.deleted,
            stats.failed,
            stats.bulk_requests
        ),
        (2, 1, 2, 1)
    );
}

#[tokio::test]
async fn writes_to_one_id_land_in_order_across_concurrent_batches() {
    // One write per request and four requests in flight: only the per-id ordering keeps the
    // final state right.
    let mut f = fixture(
        "order",
        BulkSettings {
            max_actions: 1,
            concurrency: 4,
            ..BulkSettings::default()
        },
    )
    .await;
    let mut token = 0;
    for round in 0..3 {
        for i in 0..20 {
            let id = format!("o{i}");
            let source = doc(
                json!({"name": format!("round {round}"), "_timestamp": "2024-01-01T00:00:00Z"}),
            );
            token += 1;
            f.sink
                .submit(
                    Write::Index {
                        id: id.clone(),
                        source,
                    },
                    token,
                )
                .await
                .unwrap();
            if round == 1 && i % 2 == 0 {
                token += 1;
                f.sink.submit(Write::Delete { id }, token).await.unwrap();
            }
        }
    }
    f.sink.drain().await.unwrap();
    assert_eq!(f.take_acks().len(), token as usize);
    for i in 0..20 {
        let doc = f.get(&format!("o{i}")).await.unwrap();
        assert_eq!(doc["name"], json!("round 2"), "o{i}");
    }
    // Delete after the last index leaves nothing.
    for i in 0..20 {
        token += 1;
        f.sink
            .submit(
                Write::Delete {
                    id: format!("o{i}"),
                },
                token,
            )
            .await
            .unwrap();
    }
    f.sink.drain().await.unwrap();
    assert!(f.ids().await.is_empty());
}

#[tokio::test]
async fn delete_tree_removes_exactly_the_subtree() {
    let f = fixture("tree", BulkSettings::default()).await;
    let paths = [
        "/a/b",
        "/a/b/c",
        "/a/b/c/d.txt",
        "/a/bc",
        "/a/bc/x.txt",
        "/a",
        "/z/a/b",
    ];
    for (i, path) in paths.iter().enumerate() {
        let source = doc(json!({"path_lower": path, "_timestamp": "2024-01-01T00:00:00Z"}));
        f.sink
            .submit(
                Write::Index {
                    id: path.to_string(),
                    source,
                },
                i as u64,
            )
            .await
            .unwrap();
    }
    // No explicit drain: delete_tree must see the writes submitted before it.
    let deleted = f.sink.delete_tree("path_lower", "/a/b", &[]).await.unwrap();
    assert_eq!(deleted, 3);
    let left: BTreeSet<String> = ["/a", "/a/bc", "/a/bc/x.txt", "/z/a/b"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(f.ids().await, left);
    assert_eq!(
        f.sink
            .delete_tree("path_lower", "/nothing/here", &[])
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn delete_tree_spares_the_ids_to_keep() {
    let f = fixture("tree-keep", BulkSettings::default()).await;
    for (i, path) in ["/m", "/m/moved.txt", "/m/gone.txt"].iter().enumerate() {
        let source = doc(json!({"path_lower": path, "_timestamp": "2024-01-01T00:00:00Z"}));
        f.sink
            .submit(
                Write::Index {
                    id: format!("id{i}"),
                    source,
                },
                i as u64,
            )
            .await
            .unwrap();
    }
    let deleted = f
        .sink
        .delete_tree("path_lower", "/m", &["id1".to_string()])
        .await
        .unwrap();
    assert_eq!(deleted, 2);
    assert_eq!(f.ids().await, BTreeSet::from(["id1".to_string()]));
}

#[tokio::test]
async fn purge_unseen_removes_only_the_scopes_documents_from_other_runs() {
    let f = fixture("purge", BulkSettings::default()).await;
    let docs = [
        ("old1", "files", "r1"),
        ("old2", "files", "r1"),
        ("seen", "files", "r2"),
        ("other", "team", "r1"),
    ];
    for (i, (id, scope, run)) in docs.iter().enumerate() {
        let source = doc(json!({"name": id, "tributary": {"scope": scope, "run": run}}));
        f.sink
            .submit(
                Write::Index {
                    id: id.to_string(),
                    source,
                },
                i as u64,
            )
            .await
            .unwrap();
    }
    assert_eq!(f.sink.purge_unseen("files", "r2").await.unwrap(), 2);
    let left: BTreeSet<String> = ["other", "seen"].iter().map(|s| s.to_string()).collect();
    assert_eq!(f.ids().await, left);
}

#[tokio::test]
async fn stored_returns_keys_of_settled_content_and_timestamps() {
    let f = fixture("keys", BulkSettings::default()).await;
    // The index is empty when the run first asks: nothing stored can be older than the run,
    // so there is nothing to look up (and no `_mget` is sent).
    let probe = vec!["extracted".to_string()];
    assert!(f.sink.stored(&probe).await.unwrap().is_empty());
    let docs = [
        (
            "extracted",
            json!({"content_status": "extracted", "tributary": {"content_key": "h1"},
                   "_timestamp": "2020-01-01T00:00:00.000Z"}),
        ),
        (
            "skipped",
            json!({"content_status": "skipped", "tributary": {"content_key": "h2"}}),
        ),
        (
            "failed",
            json!({"content_status": "failed", "tributary": {"content_key": "h3"}}),
        ),
        (
            "folder",
            json!({"content_status": "none", "tributary": {"scope": "s"}}),
        ),
    ];
    for (i, (id, source)) in docs.into_iter().enumerate() {
        f.sink
            .submit(
                Write::Index {
                    id: id.into(),
                    source: doc(source),
                },
                i as u64,
            )
            .await
            .unwrap();
    }
    f.sink.drain().await.unwrap();

    // A later run (a new sink on the same index) finds them.
    let settings = EsSettings {
        url: f.cluster.url.clone(),
        ..EsSettings::default()
    };
    let (tx, _acks) = mpsc::unbounded_channel();
    let later = Sink::Elasticsearch(
        EsSink::connect(&settings, &f.index, BulkSettings::default(), tx)
            .await
            .unwrap(),
    );
    let ids: Vec<String> = ["extracted", "skipped", "failed", "folder", "absent"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let stored = later.stored(&ids).await.unwrap();
    assert_eq!(stored.content_key("extracted"), Some("h1"));
    assert_eq!(stored.content_key("skipped"), Some("h2"));
    assert_eq!(stored.content_key("failed"), None, "a failure is retried");
    assert_eq!(stored.content_key("folder"), None);
    assert_eq!(stored.content_key("absent"), None);
    assert_eq!(
        stored.timestamp("extracted"),
        Some("2020-01-01T00:00:00.000Z")
    );
    // Written without one: stamped with the first run's first-indexed time.
    assert_eq!(stored.timestamp("skipped"), Some(f.sink.first_indexed()));
    assert_eq!(stored.timestamp("absent"), None);
    assert_eq!(stored.len(), 4);
    assert!(later.stored(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn prepare_creates_adds_fields_and_refuses_conflicts() {
    let f = fixture("prepare", BulkSettings::default()).await;
    let mapping: Value = f
        .http
        .get(format!("{}/{}/_mapping", f.cluster.url, f.index))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let props = &mapping[&f.index]["mappings"]["properties"];
    assert_eq!(props["content_status"]["type"], json!("keyword"));
    assert_eq!(
        props["tributary"]["properties"]["run"]["type"],
        json!("keyword")
    );
    assert_eq!(props["path_lower"]["type"], json!("keyword"));

    // A new field is added to the existing index.
    let mut more = connector_properties();
    more["rev"] = json!({"type": "keyword"});
    f.sink.prepare(&more).await.unwrap();
    let mapping: Value = f
        .http
        .get(format!("{}/{}/_mapping", f.cluster.url, f.index))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        mapping[&f.index]["mappings"]["properties"]["rev"]["type"],
        json!("keyword")
    );

    // Changing an existing field's type is refused with an actionable message.
    let mut changed = connector_properties();
    changed["size"] = json!({"type": "keyword"});
    let err = format!("{:#}", f.sink.prepare(&changed).await.unwrap_err());
    assert!(err.contains("reindex") && err.contains(&f.index), "{err}");

    // Redefining a host-owned field is refused before anything is sent.
    let err = format!(
        "{:#}",
        f.sink
            .prepare(&json!({"body": {"type": "keyword"}}))
            .await
            .unwrap_err()
    );
    assert!(err.contains("host-owned field `body`"), "{err}");
}

#[tokio::test]
async fn close_returns_stats_and_ends_the_ack_channel() {
    let mut f = fixture("close", BulkSettings::default()).await;
    f.sink
        .submit(Write::Delete { id: "x".into() }, 9)
        .await
        .unwrap();
    let sink = std::mem::replace(&mut f.sink, Sink::placeholder());
    let stats = sink.close().await.unwrap();
    assert_eq!((stats.deleted, stats.bulk_requests), (1, 1));
    assert_eq!(f.acks.recv().await.map(|a| a.token), Some(9));
    assert_eq!(
        f.acks.recv().await,
        None,
        "the ack sender is dropped on close"
    );
}

#[tokio::test]
async fn connect_reports_an_unreachable_cluster() {
    let (tx, _rx) = mpsc::unbounded_channel();
    // Port 9 (discard) on localhost: nothing listens there.
    // A short retry budget: the default rides out a two-minute outage.
    let settings = EsSettings {
        url: "http://127.0.0.1:9".into(),
        retry_budget_secs: 1,
        ..EsSettings::default()
    };
    let err = EsSink::connect(&settings, "x", BulkSettings::default(), tx)
        .await
        .err()
        .unwrap();
    let text = format!("{err:#}");
    assert!(
        text.contains("cannot reach Elasticsearch at http://127.0.0.1:9")
            && text.contains("still failing after"),
        "{text}"
    );
}
