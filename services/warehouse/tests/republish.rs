//! "Nothing forgotten" against a real MySQL/MariaDB server: a restock request open past the
//! bound gets its `stock_empty` event written to the outbox again, one per bound: none while
//! an event of it is pending or was published within the bound, none once it is fulfilled,
//! and no more than one when replicas look at once.

mod common;

use std::time::Duration;

use common::{TestDb, arrival, ran_out};
use mysql_async::prelude::Queryable;
use stockflow_contracts::events::StockEmpty;
use warehouse::republish;
use warehouse::restock::{self, Applied};

const BOUND: Duration = Duration::from_secs(60);

/// Moves a request and its events an hour into the past, as published then.
async fn age(db: &TestDb, request: &str) {
    db.exec(
        "UPDATE restock_requests SET requested_at = requested_at - INTERVAL 1 HOUR WHERE id = ?",
        (request,),
    )
    .await;
    db.exec(
        "UPDATE outbox SET created_at = created_at - INTERVAL 1 HOUR, \
         published_at = CURRENT_TIMESTAMP(6) - INTERVAL 1 HOUR WHERE aggregate_id = ?",
        (request,),
    )
    .await;
}

/// Marks the request's pending events published now (as the relay would).
async fn publish_pending(db: &TestDb, request: &str) {
    db.exec(
        "UPDATE outbox SET published_at = CURRENT_TIMESTAMP(6) WHERE aggregate_id = ? AND published_at IS NULL",
        (request,),
    )
    .await;
}

/// The request's events in the outbox, oldest first, with their correlation ids.
async fn events(db: &TestDb, request: &str) -> Vec<(StockEmpty, String)> {
    let mut conn = db.pool.get_conn().await.unwrap();
    let rows: Vec<(String, String)> = conn
        .exec(
            "SELECT payload, correlation_id FROM outbox WHERE aggregate_id = ? ORDER BY id",
            (request,),
        )
        .await
        .unwrap();
    rows.into_iter()
        .map(|(payload, correlation_id)| (serde_json::from_str(&payload).unwrap(), correlation_id))
        .collect()
}

async fn overdue(db: &TestDb) -> usize {
    republish::overdue_events(&db.pool, BOUND).await.unwrap()
}

#[tokio::test]
async fn a_request_open_past_the_bound_gets_one_new_event_per_bound() {
    let db = TestDb::new().await;
    let request = ran_out(&db, "LATE").await;
    let id = request.to_string();
    assert_eq!(overdue(&db).await, 0, "young, its event pending");
    publish_pending(&db, &id).await;
    assert_eq!(overdue(&db).await, 0, "young, its event just published");

    age(&db, &id).await;
    assert_eq!(
        overdue(&db).await,
        1,
        "open past the bound, its event published before it"
    );
    let written = events(&db, &id).await;
    assert_eq!(written.len(), 2);
    let ((first, first_correlation), (again, again_correlation)) = (&written[0], &written[1]);
    assert_eq!(
        (
            &again.restock_request_id,
            &again.sku,
            again.quantity,
            &again.factory_id,
            &again.requester
        ),
        (
            &first.restock_request_id,
            &first.sku,
            first.quantity,
            &first.factory_id,
            &first.requester
        ),
        "the same request is announced again"
    );
    assert_eq!(again_correlation, first_correlation);

    assert_eq!(overdue(&db).await, 0, "its new event is pending");
    publish_pending(&db, &id).await;
    assert_eq!(overdue(&db).await, 0, "its new event was published within the bound");
    age(&db, &id).await;
    assert_eq!(overdue(&db).await, 1, "a bound later, once more");

    let fulfilled = restock::apply(&db.pool, &arrival("LATE", Some(request), 10))
        .await
        .unwrap();
    assert!(matches!(fulfilled, Applied::Restocked { .. }));
    publish_pending(&db, &id).await;
    age(&db, &id).await;
    assert_eq!(overdue(&db).await, 0, "a fulfilled request is never announced again");
    assert_eq!(events(&db, &id).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_looking_at_once_write_one_event_per_overdue_request() {
    let db = TestDb::new().await;
    let mut requests = Vec::new();
    for i in 0..20 {
        let id = ran_out(&db, &format!("LATE-{i}")).await.to_string();
        publish_pending(&db, &id).await;
        age(&db, &id).await;
        requests.push(id);
    }
    // Two replicas of sales, each with its own pool.
    let other = db.another_pool(&[]);
    let (a, b) = tokio::join!(
        republish::overdue_events(&db.pool, BOUND),
        republish::overdue_events(&other, BOUND)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a + b, 20, "every overdue request once ({a} + {b})");
    for id in &requests {
        assert_eq!(events(&db, id).await.len(), 2, "request {id}: one new event");
    }
}
