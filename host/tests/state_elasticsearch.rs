//! The checkpoint store against a real server (osmem-server, or `ES_URL`): two store
//! instances play two runners.
#![allow(clippy::unwrap_used)]

#[path = "common/osmem.rs"]
mod osmem;

use osmem::TestCluster;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tributary::es::EsSettings;
use tributary::state::{EsStateStore, StateError, StateStore, TenantState};

const TTL: Duration = Duration::from_secs(300);
static NEXT: AtomicUsize = AtomicUsize::new(0);

fn stores(cluster: &TestCluster) -> (StateStore, StateStore) {
    let index = format!(
        "state-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let settings = EsSettings {
        url: cluster.url.clone(),
        ..EsSettings::default()
    };
    (
        StateStore::Elasticsearch(EsStateStore::new(&settings, &index).unwrap()),
        StateStore::Elasticsearch(EsStateStore::new(&settings, &index).unwrap()),
    )
}

fn with_checkpoint(checkpoint: &str) -> TenantState {
    let mut state = TenantState {
        checkpoint: Some(checkpoint.into()),
        connector: "dropbox".into(),
        ..TenantState::default()
    };
    state
        .open_enumerations
        .insert("files".into(), "run-1".into());
    state
}

#[tokio::test]
async fn a_held_lease_makes_another_runner_busy_until_released() {
    let cluster = TestCluster::start();
    let (a, b) = stores(&cluster);
    let state = a
        .acquire("acme", "dropbox", "runner-a", TTL, false)
        .await
        .unwrap();
    assert_eq!(
        (state.checkpoint, state.connector.as_str()),
        (None, "dropbox")
    );

    let err = b
        .acquire("acme", "dropbox", "runner-b", TTL, false)
        .await
        .unwrap_err();
    match &err {
        StateError::Busy {
            holder, expires_at, ..
        } => {
            assert_eq!(holder, "runner-a");
            assert!(expires_at.ends_with('Z'), "{expires_at}");
        }
        other => panic!("expected Busy, got {other}"),
    }
    assert!(
        err.to_string()
            .contains("another runner (runner-a) is syncing tenant acme"),
        "{err}"
    );

    a.commit("acme", &with_checkpoint("cursor-1"))
        .await
        .unwrap();
    a.release("acme").await.unwrap();
    let state = b
        .acquire("acme", "dropbox", "runner-b", TTL, false)
        .await
        .unwrap();
    assert_eq!(state.checkpoint.as_deref(), Some("cursor-1"));
    assert_eq!(
        state.open_enumerations.get("files").map(String::as_str),
        Some("run-1")
    );
    // Other tenants are independent.
    a.acquire("globex", "dropbox", "runner-a", TTL, false)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_the_old_holder_cannot_commit() {
    let cluster = TestCluster::start();
    let (a, b) = stores(&cluster);
    a.acquire("acme", "dropbox", "runner-a", Duration::ZERO, false)
        .await
        .unwrap();
    a.commit("acme", &with_checkpoint("cursor-a"))
        .await
        .unwrap();
    // runner-a's lease (TTL 0) has lapsed: runner-b takes over.
    let state = b
        .acquire("acme", "dropbox", "runner-b", TTL, false)
        .await
        .unwrap();
    assert_eq!(state.checkpoint.as_deref(), Some("cursor-a"));
    let err = a
        .commit("acme", &with_checkpoint("cursor-stale"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StateError::Lost { tenant } if tenant == "acme"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("another runner took over tenant acme")
    );
    b.commit("acme", &with_checkpoint("cursor-b"))
        .await
        .unwrap();
    assert_eq!(
        b.peek("acme").await.unwrap().unwrap().checkpoint.as_deref(),
        Some("cursor-b")
    );
    // runner-a's release must not clear runner-b's lease: a forgot its version when it lost.
    a.release("acme").await.unwrap();
    assert!(matches!(
        a.acquire("acme", "dropbox", "runner-a", TTL, false).await,
        Err(StateError::Busy { .. })
    ));
}

#[tokio::test]
async fn racing_acquires_let_exactly_one_runner_in() {
    let cluster = TestCluster::start();
    let (a, b) = stores(&cluster);
    for round in 0..5 {
        let tenant = format!("race-{round}");
        let (ra, rb) = tokio::join!(
            a.acquire(&tenant, "dropbox", "runner-a", TTL, false),
            b.acquire(&tenant, "dropbox", "runner-b", TTL, false)
        );
        let winners = [ra.is_ok(), rb.is_ok()].iter().filter(|ok| **ok).count();
        assert_eq!(winners, 1, "round {round}: {ra:?} / {rb:?}");
        let loser = match (ra, rb) {
            (Ok(_), Err(e)) | (Err(e), Ok(_)) => e,
            other => panic!("round {round}: {other:?}"),
        };
        assert!(matches!(loser, StateError::Busy { .. }), "{loser}");
    }
}

#[tokio::test]
async fn reset_forgets_the_checkpoint_but_not_while_another_runner_holds_the_tenant() {
    let cluster = TestCluster::start();
    let (a, b) = stores(&cluster);
    a.acquire("acme", "dropbox", "runner-a", TTL, false)
        .await
        .unwrap();
    a.commit("acme", &with_checkpoint("cursor-1"))
        .await
        .unwrap();
    assert!(matches!(
        b.reset("acme").await,
        Err(StateError::Busy { .. })
    ));
    // The holder may reset (--full) and keeps its lease.
    a.reset("acme").await.unwrap();
    a.commit("acme", &with_checkpoint("cursor-2"))
        .await
        .unwrap();
    a.release("acme").await.unwrap();
    // Without a lease, any runner may reset an idle tenant.
    b.reset("acme").await.unwrap();
    let state = b.peek("acme").await.unwrap().unwrap();
    assert_eq!((state.checkpoint, state.open_enumerations.len()), (None, 0));
    b.reset("unknown-tenant").await.unwrap();
}

#[tokio::test]
async fn large_checkpoints_round_trip() {
    let cluster = TestCluster::start();
    let (a, b) = stores(&cluster);
    let big: String = (0..400_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    a.acquire("big", "dropbox", "runner-a", TTL, false)
        .await
        .unwrap();
    a.commit("big", &with_checkpoint(&big)).await.unwrap();
    a.release("big").await.unwrap();
    let state = b
        .acquire("big", "dropbox", "runner-b", TTL, false)
        .await
        .unwrap();
    assert_eq!(state.checkpoint.map(|c| c.len()), Some(big.len()));
}

#[tokio::test]
async fn commit_without_acquire_is_refused() {
    let cluster = TestCluster::start();
    let (a, _) = stores(&cluster);
    let err = a.commit("acme", &with_checkpoint("c")).await.unwrap_err();
    assert!(matches!(err, StateError::NotHeld { .. }), "{err}");
}
