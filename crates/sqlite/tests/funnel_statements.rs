//! A funnel request's statements (levels, previous period, time to convert, breakdowns)
//! run side by side on the real SQLite storage, never more than
//! `exec::STATEMENTS_AT_ONCE` at once, and answer as they do one at a time.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use quarry_core::decode;
use quarry_core::exec::{self, STATEMENTS_AT_ONCE};
use quarry_core::sql::{Dialect, Query, Row};
use quarry_core::storage::{RowStream, Storage, StorageError};
use quarry_core::write::{Database as _, EventWriter as _};
use quarry_sqlite::SqliteStorage;
use quarry_testkit::{ctx, ev};

/// The SQLite storage, counting the fetches running at once. Each holds its turn a
/// little before running, so that any other fetch allowed to start has started.
#[derive(Debug)]
struct Counting {
    inner: SqliteStorage,
    hold: Duration,
    running: AtomicUsize,
    most: AtomicUsize,
    fetches: AtomicUsize,
}

#[async_trait]
impl Storage for Counting {
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }

    async fn fetch(&self, query: &Query) -> Result<Vec<Row>, StorageError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        self.fetches.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.hold).await;
        let rows = self.inner.fetch(query).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        rows
    }

    async fn stream(&self, query: &Query) -> Result<Box<dyn RowStream>, StorageError> {
        self.inner.stream(query).await
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.inner.ping().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_funnels_statements_run_side_by_side_within_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let inner = SqliteStorage::connect(dir.path().join("f.db").to_str().unwrap())
        .await
        .unwrap();
    inner.migrate().await.unwrap();
    let mut events = Vec::new();
    for s in 0..6 {
        for (i, name) in ["a", "b", "c"].into_iter().enumerate().take(1 + s % 3) {
            let mut e = ev(&format!("e{s}{i}"), name, "2024-04-13T10:00:00.000Z");
            e.created_at += (s * 3_600_000 + i * 60_000) as i64;
            e.session_id = format!("s{s}");
            e.country = ["SE", "DE"][s % 2].into();
            events.push(e);
        }
    }
    inner.insert_events(&events).await.unwrap();
    let ctx = ctx(chrono_tz::UTC, "2024-04-20T00:00:00.000Z");
    let steps = r#"events=[{"name":"a"},{"name":"b"},{"name":"c"}]&startDate=2024-04-13&endDate=2024-04-19"#;
    let all =
        format!(r#"{steps}&previous=true&timeToConvert=true&breakdowns=[{{"name":"country"}}]"#);
    let req = decode::decode_funnel(&all).unwrap();

    let store = |hold| Counting {
        inner: inner.clone(),
        hold,
        running: AtomicUsize::new(0),
        most: AtomicUsize::new(0),
        fetches: AtomicUsize::new(0),
    };
    let counting = store(Duration::from_millis(100));
    let answer = exec::funnel(&counting, &req, &ctx).await.unwrap();
    assert_eq!(counting.fetches.load(Ordering::SeqCst), 4);
    assert_eq!(counting.most.load(Ordering::SeqCst), STATEMENTS_AT_ONCE);
    assert_eq!(STATEMENTS_AT_ONCE, 2);

    // The same answer as the storage gives each statement on its own.
    let alone = exec::funnel(&inner, &req, &ctx).await.unwrap();
    let json = |r| serde_json::to_string(r).unwrap();
    assert_eq!(json(&answer), json(&alone));
    assert_eq!(answer.steps[1].count, 4);
    assert!(answer.breakdowns.as_ref().is_some_and(|b| b.len() == 2));

    // A plain funnel runs one statement.
    let plain = store(Duration::ZERO);
    exec::funnel(&plain, &decode::decode_funnel(steps).unwrap(), &ctx)
        .await
        .unwrap();
    assert_eq!(plain.fetches.load(Ordering::SeqCst), 1);
}
