//! Retries of rejected bulk items and requests, against a scripted fake `_bulk` endpoint
//! (no real server answers 429 on demand).
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tributary::es::EsSettings;
use tributary::sink::bulk::BulkSettings;
use tributary::sink::elasticsearch::EsSink;
use tributary::sink::{Sink, Write};

/// One recorded `_bulk` request.
#[derive(Debug, Clone)]
struct Seen {
    content_type: String,
    ids: Vec<String>,
}

/// How the fake answers the n-th `_bulk` request (given the ids in it).
type Script = Arc<dyn Fn(usize, &[String]) -> (u16, Value) + Send + Sync>;

/// Lets the fake hold `_bulk` answers to expose requests that overlap on a document id.
#[derive(Default)]
struct Hold {
    in_flight: Mutex<HashMap<String, usize>>,
    overlaps: AtomicUsize,
    arrival: Notify,
}

async fn fake_es(script: Script) -> (String, Arc<Mutex<Vec<Seen>>>) {
    fake_es_with(script, None).await
}

async fn fake_es_with(script: Script, hold: Option<Arc<Hold>>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (script, log, hold) = (script.clone(), log.clone(), hold.clone());
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut reader = BufReader::new(read);
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let (mut length, mut content_type) = (0usize, String::new());
                    loop {
                        let mut line = String::new();
                        reader.read_line(&mut line).await.unwrap();
                        let line = line.trim_end();
                        if line.is_empty() {
                            break;
                        }
                        let (name, value) = line.split_once(':').unwrap();
                        match name.to_ascii_lowercase().as_str() {
                            "content-length" => length = value.trim().parse().unwrap(),
                            "content-type" => content_type = value.trim().to_string(),
                            _ => {}
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).await.unwrap();
                    let (status, answer) = if request_line.contains("/_bulk") {
                        let ids: Vec<String> = String::from_utf8(body)
                            .unwrap()
                            .lines()
                            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                            .filter_map(|v| {
                                let action = v.as_object()?.values().next()?.clone();
                                action["_id"].as_str().map(str::to_string)
                            })
                            .collect();
                        let n = {
                            let mut log = log.lock().unwrap();
                            log.push(Seen {
                                content_type,
                                ids: ids.clone(),
                            });
                            log.len() - 1
                        };
                        if let Some(hold) = &hold {
                            {
                                let mut in_flight = hold.in_flight.lock().unwrap();
                                if ids.iter().any(|id| in_flight.contains_key(id)) {
                                    hold.overlaps.fetch_add(1, Ordering::SeqCst);
                                }
                                for id in &ids {
                                    *in_flight.entry(id.clone()).or_default() += 1;
                                }
                            }
                            hold.arrival.notify_waiters();
                            // Answer when the next request arrives (a writer without per-id
                            // ordering sends it at once), or give up waiting after a while (a
                            // correct writer holds it back until this answer).
                            tokio::select! {
                                () = hold.arrival.notified() => {}
                                () = tokio::time::sleep(Duration::from_millis(300)) => {}
                            }
                            let mut in_flight = hold.in_flight.lock().unwrap();
                            for id in &ids {
                                if let Some(n) = in_flight.get_mut(id) {
                                    *n -= 1;
                                    if *n == 0 {
                                        in_flight.remove(id);
                                    }
                                }
                            }
                        }
                        script(n, &ids)
                    } else {
                        (200, json!({"version": {"number": "8.99.0"}}))
                    };
                    let text = answer.to_string();
                    let response = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nX-Elastic-Product: Elasticsearch\r\nContent-Length: {}\r\n\r\n{text}",
                        text.len()
                    );
                    if write.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, seen)
}

fn item(status: u16, id: &str) -> Value {
    if status < 300 {
        json!({"index": {"_id": id, "status": status, "result": "created"}})
    } else {
        json!({"index": {"_id": id, "status": status, "error": {"type": "es_rejected_execution_exception", "reason": "queue full"}}})
    }
}

fn doc(n: &str) -> Write {
    let source = tributary::sink::Doc::from_map(
        json!({"name": n, "_timestamp": "2024-01-01T00:00:00Z"})
            .as_object()
            .unwrap(),
    );
    Write::Index {
        id: n.to_string(),
        source,
    }
}

async fn sink(
    url: &str,
    settings: BulkSettings,
) -> (Sink, mpsc::UnboundedReceiver<tributary::sink::WriteAck>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let es = EsSettings {
        url: url.to_string(),
        ..EsSettings::default()
    };
    (
        Sink::Elasticsearch(EsSink::connect(&es, "idx", settings, tx).await.unwrap()),
        rx,
    )
}

#[tokio::test]
async fn item_level_429_is_retried_with_later_writes_to_the_same_id() {
    // First request: "a" rejected, "b" and the second write to "a" accepted. Only "a" (both
    // writes, in order) may be resent; "b" must not be.
    let script: Script = Arc::new(|n, ids: &[String]| {
        let items: Vec<Value> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                if n == 0 && i == 0 {
                    item(429, id)
                } else {
                    item(201, id)
                }
            })
            .collect();
        (200, json!({"errors": n == 0, "items": items}))
    });
    let (url, seen) = fake_es(script).await;
    let (sink, mut acks) = sink(&url, BulkSettings::default()).await;
    sink.submit(doc("a"), 1).await.unwrap();
    sink.submit(doc("b"), 2).await.unwrap();
    sink.submit(doc("a"), 3).await.unwrap();
    sink.drain().await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].ids, ["a", "b", "a"]);
    assert_eq!(seen[1].ids, ["a", "a"]);
    assert!(
        seen.iter()
            .all(|s| s.content_type == "application/x-ndjson"),
        "{seen:?}"
    );
    let mut got: Vec<(u64, bool)> = std::iter::from_fn(|| acks.try_recv().ok())
        .map(|a| (a.token, a.outcome.is_ok()))
        .collect();
    got.sort();
    assert_eq!(got, [(1, true), (2, true), (3, true)]);
    let stats = sink.close().await.unwrap();
    assert_eq!(
        (stats.bulk_requests, stats.indexed, stats.failed),
        (2, 3, 0)
    );
}

#[tokio::test]
async fn whole_request_503_is_retried_then_given_up_after_the_retry_budget() {
    let script: Script = Arc::new(|_, _: &[String]| {
        (
            503,
            json!({"error": {"type": "unavailable", "reason": "overloaded"}}),
        )
    });
    let (url, seen) = fake_es(script).await;
    let (sink, mut acks) = sink(
        &url,
        BulkSettings {
            retry_budget: Duration::from_secs(2),
            ..BulkSettings::default()
        },
    )
    .await;
    sink.submit(doc("x"), 7).await.unwrap();
    sink.drain().await.unwrap();
    let attempts = seen.lock().unwrap().len();
    // 250 ms, 500 ms, 1 s (each up to twice that with jitter) fit in 2 s: at least 2 retries.
    assert!((3..=5).contains(&attempts), "{attempts} attempts");
    let ack = acks.try_recv().unwrap();
    let reason = ack.outcome.unwrap_err();
    assert!(
        reason.contains("503") && reason.contains(&format!("gave up after {attempts} attempts")),
        "{reason}"
    );
    assert_eq!(sink.close().await.unwrap().failed, 1);
}

#[tokio::test]
async fn a_400_request_is_not_retried() {
    let script: Script = Arc::new(|_, _: &[String]| {
        (
            400,
            json!({"error": {"type": "parse_exception", "reason": "bad"}}),
        )
    });
    let (url, seen) = fake_es(script).await;
    let (sink, mut acks) = sink(&url, BulkSettings::default()).await;
    sink.submit(doc("x"), 1).await.unwrap();
    sink.drain().await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert!(
        acks.try_recv()
            .unwrap()
            .outcome
            .unwrap_err()
            .contains("parse_exception: bad")
    );
}

#[tokio::test]
async fn a_batch_waits_for_in_flight_writes_to_the_same_id() {
    let ok: Script = Arc::new(|_, ids: &[String]| {
        (
            200,
            json!({"errors": false, "items": ids.iter().map(|id| item(200, id)).collect::<Vec<_>>()}),
        )
    });
    let hold = Arc::new(Hold::default());
    let (url, seen) = fake_es_with(ok, Some(hold.clone())).await;
    let settings = BulkSettings {
        max_actions: 1,
        concurrency: 4,
        ..BulkSettings::default()
    };
    let (sink, mut acks) = sink(&url, settings).await;
    sink.submit(doc("a"), 1).await.unwrap();
    sink.submit(doc("b"), 2).await.unwrap();
    sink.submit(Write::Delete { id: "a".into() }, 3)
        .await
        .unwrap();
    sink.drain().await.unwrap();
    assert_eq!(
        hold.overlaps.load(Ordering::SeqCst),
        0,
        "a second write to `a` went out while the first was in flight"
    );
    let order: Vec<Vec<String>> = seen.lock().unwrap().iter().map(|s| s.ids.clone()).collect();
    assert_eq!(order.len(), 3);
    let first_a = order.iter().position(|ids| ids == &["a"]).unwrap();
    assert_eq!(order.iter().filter(|ids| *ids == &["a"]).count(), 2);
    assert!(first_a < 2);
    assert_eq!(std::iter::from_fn(|| acks.try_recv().ok()).count(), 3);
}
