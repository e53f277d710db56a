//! The proxy against a recording upstream: what reaches the search server and what the client
//! sees, for each kind of fault.

#![allow(clippy::unwrap_used)] // tests may unwrap

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use search_proxy::{ProxyConfig, Server, start};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// What the upstream received: method, path and query, body.
type Log = Arc<Mutex<Vec<(String, String, String)>>>;

/// An upstream that records every request and answers `_bulk` like a search server that
/// accepted every item, anything else with `{"ok": true}`.
async fn upstream() -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let shared = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let log = shared.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let log = log.clone();
                    async move {
                        let method = req.method().to_string();
                        let pq = req.uri().path_and_query().unwrap().to_string();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let text = String::from_utf8(body.to_vec()).unwrap();
                        log.lock().unwrap().push((method, pq.clone(), text.clone()));
                        let answer = if pq.contains("_bulk") {
                            let items = search_proxy::bulk::split(text.as_bytes()).unwrap();
                            let items: Vec<Value> = items
                                .iter()
                                .map(|i| json!({i.action.clone(): {"_id": i.id, "status": 201}}))
                                .collect();
                            json!({"took": 3, "errors": false, "items": items})
                        } else {
                            json!({"ok": true})
                        };
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::from(answer.to_string()),
                        )))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (url, log)
}

async fn proxy(upstream: &str) -> Server {
    start(
        ProxyConfig {
            upstream: upstream.to_string(),
            seed: 0,
            state_index_prefix: "tributary-state".into(),
        },
        "127.0.0.1:0",
    )
    .await
    .unwrap()
}

fn client() -> reqwest::Client {
    // No connection reuse: a dropped connection must not be confused with a stale pooled one.
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

async fn admin(p: &Server, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut req = client().request(method, format!("{}/_proxy/{path}", p.url()));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    assert!(
        resp.status().is_success(),
        "admin {path}: {}",
        resp.status()
    );
    resp.json().await.unwrap()
}

fn bulk_body(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        if i % 5 == 4 {
            s.push_str(&format!("{{\"delete\":{{\"_id\":\"d{i}\"}}}}\n"));
        } else {
            s.push_str(&format!(
                "{{\"index\":{{\"_id\":\"d{i}\"}}}}\n{{\"n\":{i}}}\n"
            ));
        }
    }
    s
}

fn answered_ids(v: &Value) -> Vec<(String, u64)> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let inner = i.as_object().unwrap().values().next().unwrap();
            (
                inner["_id"].as_str().unwrap().to_string(),
                inner["status"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn rejected_bulk_items_are_not_forwarded_and_answers_keep_their_positions() {
    let (up, log) = upstream().await;
    let p = proxy(&up).await;
    admin(
        &p,
        reqwest::Method::POST,
        "faults",
        Some(json!({"seed": 4, "rules": [{"kind": "bulk", "item_429_fraction": 0.5}]})),
    )
    .await;
    let n = 40;
    let resp = client()
        .post(format!("{}/docs/_bulk?refresh=false", p.url()))
        .header("content-type", "application/x-ndjson")
        .body(bulk_body(n))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["errors"], true);
    let answers = answered_ids(&v);
    let ids: Vec<String> = answers.iter().map(|(id, _)| id.clone()).collect();
    let want: Vec<String> = (0..n).map(|i| format!("d{i}")).collect();
    assert_eq!(ids, want, "answers out of order");
    let rejected: Vec<&String> = answers
        .iter()
        .filter(|(_, s)| *s == 429)
        .map(|(id, _)| id)
        .collect();
    assert!(
        (8..=32).contains(&rejected.len()),
        "{} of {n} rejected at 0.5",
        rejected.len()
    );
    assert!(answers.iter().all(|(_, s)| *s == 429 || *s == 201));

    // The upstream got exactly the accepted items, in order, with the query intact.
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 1);
    let (method, pq, body) = &log[0];
    assert_eq!(
        (method.as_str(), pq.as_str()),
        ("POST", "/docs/_bulk?refresh=false")
    );
    let forwarded: Vec<String> = search_proxy::bulk::split(body.as_bytes())
        .unwrap()
        .into_iter()
        .map(|i| i.id.unwrap())
        .collect();
    let accepted: Vec<String> = answers
        .iter()
        .filter(|(_, s)| *s == 201)
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(forwarded, accepted);
    // Deletes stay one line, sources stay with their action.
    for item in search_proxy::bulk::split(body.as_bytes()).unwrap() {
        let i: usize = item.id.as_ref().unwrap()[1..].parse().unwrap();
        let text = String::from_utf8(item.lines).unwrap();
        if i % 5 == 4 {
            assert_eq!(item.action, "delete");
            assert_eq!(text.lines().count(), 1);
        } else {
            assert!(text.ends_with(&format!("{{\"n\":{i}}}\n")), "{text}");
        }
    }
    let stats = admin(&p, reqwest::Method::GET, "stats", None).await;
    assert_eq!(stats["items_rejected"], rejected.len() as u64);
    assert_eq!(stats["items_forwarded"], (n - rejected.len()) as u64);
}

#[tokio::test]
async fn sticky_rejection_refuses_the_same_documents_on_every_retry() {
    let (up, _log) = upstream().await;
    let p = proxy(&up).await;
    admin(
        &p,
        reqwest::Method::POST,
        "faults",
        Some(json!({"seed": 8, "rules": [{"kind": "bulk", "item_429_fraction": 0.6, "item_429_sticky": true}]})),
    )
    .await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let v: Value = client()
            .post(format!("{}/docs/_bulk", p.url()))
            .body(bulk_body(30))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen.push(answered_ids(&v));
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[1], seen[2]);
}

#[tokio::test]
async fn drop_after_forward_reaches_the_upstream_and_drop_before_does_not() {
    let (up, log) = upstream().await;
    let p = proxy(&up).await;
    admin(
        &p,
        reqwest::Method::POST,
        "faults",
        Some(json!({"rules": [
            {"kind": "state", "method": "PUT", "drop": "after", "count": 1},
            {"kind": "mget", "drop": "before", "count": 1}
        ]})),
    )
    .await;
    let url = format!(
        "{}/tributary-state-x/_doc/t?if_seq_no=1&if_primary_term=1",
        p.url()
    );
    let err = client()
        .put(&url)
        .body("{\"checkpoint\":\"c1\"}")
        .send()
        .await;
    assert!(err.is_err(), "the client got an answer: {err:?}");
    let mget = client()
        .post(format!("{}/docs/_mget", p.url()))
        .body("{\"ids\":[\"a\"]}")
        .send()
        .await;
    assert!(mget.is_err(), "the client got an answer: {mget:?}");
    {
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 1, "{log:?}");
        assert_eq!(log[0].0, "PUT");
        assert_eq!(log[0].2, "{\"checkpoint\":\"c1\"}");
    }
    // Count used up: both go through now.
    client().put(&url).body("{}").send().await.unwrap();
    client()
        .post(format!("{}/docs/_mget", p.url()))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(log.lock().unwrap().len(), 3);
    let stats = admin(&p, reqwest::Method::GET, "stats", None).await;
    assert_eq!(stats["connections_dropped"], 2, "{stats}");
    assert_eq!(stats["dropped_after_forward"], 1, "{stats}");
    assert_eq!(
        stats["kinds"]["state"]["statuses"]["dropped_after_forward"],
        1
    );
    assert_eq!(stats["kinds"]["mget"]["statuses"]["dropped"], 1);
}

#[tokio::test]
async fn injected_status_is_es_shaped_and_not_forwarded() {
    let (up, log) = upstream().await;
    let p = proxy(&up).await;
    admin(
        &p,
        reqwest::Method::POST,
        "faults",
        Some(json!({"rules": [{"kind": "refresh", "status": 503, "count": 2}]})),
    )
    .await;
    for want in [503, 503, 200] {
        let resp = client()
            .post(format!("{}/docs/_refresh", p.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), want);
        if want == 503 {
            let v: Value = resp.json().await.unwrap();
            assert_eq!(v["status"], 503);
            assert!(v["error"]["type"].is_string(), "{v}");
        }
    }
    assert_eq!(log.lock().unwrap().len(), 1);
    admin(&p, reqwest::Method::DELETE, "faults", None).await;
}

#[tokio::test]
async fn down_answers_503_or_closes_and_up_forwards_again() {
    let (up, log) = upstream().await;
    let p = proxy(&up).await;
    admin(&p, reqwest::Method::POST, "down", None).await;
    let resp = client().get(format!("{}/", p.url())).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    admin(
        &p,
        reqwest::Method::POST,
        "down",
        Some(json!({"mode": "refuse"})),
    )
    .await;
    assert!(client().get(format!("{}/", p.url())).send().await.is_err());
    // The admin API answers while down.
    let stats = admin(&p, reqwest::Method::GET, "stats", None).await;
    assert_eq!(stats["kinds"]["info"]["count"], 2, "{stats}");
    assert!(log.lock().unwrap().is_empty());
    admin(&p, reqwest::Method::POST, "up", None).await;
    let resp = client().get(format!("{}/", p.url())).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(log.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_rules_are_refused_with_the_reason() {
    let (up, _log) = upstream().await;
    let p = proxy(&up).await;
    let resp = client()
        .post(format!("{}/_proxy/faults", p.url()))
        .json(&json!({"rules": [{"kind": "mget", "status": 503, "drop": "after"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("rules[0]"), "{v}");
}
