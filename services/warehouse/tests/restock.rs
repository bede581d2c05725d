//! Applying production orders against a real MySQL/MariaDB server: each production order
//! is applied once, at most one per restock request (a unique key), and a second order for
//! a fulfilled request is recorded as a surplus arrival, never added to stock.

mod common;

use common::{TestDb, arrival, ran_out, restocked};
use mysql_async::prelude::Queryable;
use stockflow_contracts::events::StockArrival;
use uuid::Uuid;
use warehouse::products;
use warehouse::reports;
use warehouse::restock::{self, Applied, Settled, Settlement, Surplus};

async fn stock(db: &TestDb, sku: &str) -> Option<i64> {
    products::stock(&db.pool, sku).await.unwrap()
}

async fn balanced(db: &TestDb, sku: &str) {
    let books = reports::books(&db.pool, sku).await.unwrap();
    assert!(books.balance(), "initial + produced - sold == stock: {books:?}");
}

#[tokio::test]
async fn a_second_production_order_for_a_fulfilled_request_is_recorded_not_applied() {
    let db = TestDb::new().await;
    let request = ran_out(&db, "TWICE").await;
    let first = arrival("TWICE", Some(request), 5);
    assert!(matches!(
        restock::apply(&db.pool, &first).await.unwrap(),
        Applied::Restocked { .. }
    ));
    assert_eq!(stock(&db, "TWICE").await, Some(5));

    let second = arrival("TWICE", Some(request), 5);
    let expected = Surplus {
        production_order_id: second.production_order_id,
        restock_request_id: request,
        fulfilled_by: Some(first.production_order_id),
        sku: "TWICE".into(),
        quantity: 5,
        newly_recorded: true,
        alert_pending: true,
    };
    assert_eq!(
        restock::apply(&db.pool, &second).await.unwrap(),
        Applied::Surplus(expected.clone())
    );
    assert_eq!(stock(&db, "TWICE").await, Some(5), "the second order added nothing");
    balanced(&db, "TWICE").await;

    // What arrived, when, for which request and production order.
    let recorded = reports::unsettled_surplus(&db.pool).await.unwrap();
    assert_eq!(recorded.len(), 1);
    let line = &recorded[0];
    assert_eq!(line.production_order_id, second.production_order_id.to_string());
    assert_eq!(line.restock_request_id, request.to_string());
    assert_eq!(line.fulfilled_by, Some(first.production_order_id.to_string()));
    assert_eq!((line.sku.as_str(), line.quantity, line.alerted), ("TWICE", 5, false));

    // A redelivery records nothing new and still owes the alert until it is marked sent.
    let again = Surplus {
        newly_recorded: false,
        ..expected.clone()
    };
    assert_eq!(
        restock::apply(&db.pool, &second).await.unwrap(),
        Applied::Surplus(again.clone())
    );
    restock::mark_alerted(&db.pool, second.production_order_id)
        .await
        .unwrap();
    let alerted = Surplus {
        alert_pending: false,
        ..again
    };
    assert_eq!(
        restock::apply(&db.pool, &second).await.unwrap(),
        Applied::Surplus(alerted)
    );
    assert_eq!(restock::apply(&db.pool, &first).await.unwrap(), Applied::Duplicate);
    assert_eq!(stock(&db, "TWICE").await, Some(5));
    db.assert_count("SELECT COUNT(*) FROM surplus_arrivals WHERE sku = ?", "TWICE", 1)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_production_orders_for_one_request_apply_exactly_one() {
    let db = TestDb::new().await;
    let request = ran_out(&db, "RACE").await;
    let orders: Vec<StockArrival> = (0..8).map(|_| arrival("RACE", Some(request), 5)).collect();
    let applied = futures::future::join_all(orders.iter().map(|order| restock::apply(&db.pool, order))).await;
    let mut restocked = Vec::new();
    let mut surplus = 0;
    for (order, outcome) in orders.iter().zip(applied) {
        match outcome.expect("no database error") {
            Applied::Restocked { .. } => restocked.push(order.production_order_id),
            Applied::Surplus(s) => {
                assert!(s.newly_recorded);
                surplus += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(restocked.len(), 1, "one order fulfils the request");
    assert_eq!(surplus, 7);
    assert_eq!(stock(&db, "RACE").await, Some(5));
    let fulfilled_by: Option<String> = db
        .first(
            "SELECT production_order_id FROM restock_requests WHERE id = ?",
            (request.to_string(),),
        )
        .await;
    assert_eq!(fulfilled_by, Some(restocked[0].to_string()));
    balanced(&db, "RACE").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_surplus_record_held_past_the_lock_wait_is_an_error_to_retry_not_a_surplus_seen() {
    let db = TestDb::new().await;
    let request = restocked(&db, "HELD", 5).await;
    let second = arrival("HELD", Some(request), 5);
    // Another delivery of the second order is recording it and has not committed.
    let mut holder = db
        .holding(
            "INSERT INTO surplus_arrivals (production_order_id, restock_request_id, sku, quantity) VALUES (?, ?, 'HELD', 5)",
            (second.production_order_id.to_string(), request.to_string()),
        )
        .await;
    // A pool that waits one second for a row lock, not fifty.
    let impatient = db.another_pool(&["SET SESSION innodb_lock_wait_timeout = 1"]);
    let err = restock::apply(&impatient, &second)
        .await
        .expect_err("an arrival whose record is still held is not done");
    assert!(stockflow_kit::db::is_retryable(&err), "the lock wait timed out: {err}");
    // The other delivery rolls back: delivered again, the arrival is recorded.
    holder.query_drop("ROLLBACK").await.unwrap();
    assert!(matches!(
        restock::apply(&db.pool, &second).await.unwrap(),
        Applied::Surplus(Surplus {
            newly_recorded: true,
            ..
        })
    ));
    assert_eq!(stock(&db, "HELD").await, Some(5));
}

#[tokio::test]
async fn an_order_without_a_request_is_applied_once_per_production_order() {
    let db = TestDb::with_products(&[("LEGACY", 1)]).await;
    // A legacy client orders from the factory directly, twice, with the same group id:
    // the factory announces no restock request for either.
    let first = arrival("LEGACY", None, 2);
    let second = arrival("LEGACY", None, 3);
    for order in [&first, &second] {
        assert!(matches!(
            restock::apply(&db.pool, order).await.unwrap(),
            Applied::Restocked { .. }
        ));
    }
    // Their repeats change nothing.
    for order in [&first, &second] {
        assert_eq!(restock::apply(&db.pool, order).await.unwrap(), Applied::Duplicate);
    }
    assert_eq!(stock(&db, "LEGACY").await, Some(6));
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM applied_production_orders WHERE sku = ? AND restock_request_id IS NULL",
            "LEGACY"
        )
        .await,
        2,
        "stored as NULL, never ''"
    );
    balanced(&db, "LEGACY").await;
}

#[tokio::test]
async fn the_schema_refuses_a_second_applied_order_for_one_request() {
    let db = TestDb::new().await;
    let request = ran_out(&db, "KEYED").await;
    let mut conn = db.pool.get_conn().await.unwrap();
    let insert = "INSERT INTO applied_production_orders (production_order_id, restock_request_id, sku, quantity) VALUES (?, ?, 'KEYED', 5)";
    conn.exec_drop(insert, (Uuid::new_v4().to_string(), request.to_string()))
        .await
        .unwrap();
    let err = conn
        .exec_drop(insert, (Uuid::new_v4().to_string(), request.to_string()))
        .await
        .expect_err("the unique key holds whatever the code does");
    assert!(stockflow_kit::db::is_duplicate_key(&err), "{err}");
}

#[tokio::test]
async fn a_surplus_arrival_is_settled_once_kept_into_stock_or_returned() {
    let db = TestDb::new().await;
    let request = restocked(&db, "SETTLE", 5).await;
    let kept = arrival("SETTLE", Some(request), 4);
    let returned = arrival("SETTLE", Some(request), 3);
    for order in [&kept, &returned] {
        assert!(matches!(
            restock::apply(&db.pool, order).await.unwrap(),
            Applied::Surplus(_)
        ));
    }
    let kept_id = kept.production_order_id.to_string();
    let returned_id = returned.production_order_id.to_string();
    assert_eq!(
        restock::settle(&db.pool, &kept_id, Settlement::Kept).await.unwrap(),
        Settled::Now
    );
    assert_eq!(stock(&db, "SETTLE").await, Some(9), "kept goods are added");
    assert_eq!(
        restock::settle(&db.pool, &returned_id, Settlement::Returned)
            .await
            .unwrap(),
        Settled::Now
    );
    assert_eq!(stock(&db, "SETTLE").await, Some(9), "returned goods are not");
    assert_eq!(
        restock::settle(&db.pool, &kept_id, Settlement::Returned).await.unwrap(),
        Settled::Already("kept".into())
    );
    assert_eq!(
        restock::settle(&db.pool, &Uuid::new_v4().to_string(), Settlement::Kept)
            .await
            .unwrap(),
        Settled::NotFound
    );
    assert_eq!(stock(&db, "SETTLE").await, Some(9));
    assert!(reports::unsettled_surplus(&db.pool).await.unwrap().is_empty());
    // A kept surplus redelivered later is still not applied twice.
    assert!(matches!(
        restock::apply(&db.pool, &kept).await.unwrap(),
        Applied::Duplicate | Applied::Surplus(_)
    ));
    assert_eq!(stock(&db, "SETTLE").await, Some(9));
    balanced(&db, "SETTLE").await;
}

mod before_v5 {
    refinery::embed_migrations!("migrations");
}

#[tokio::test]
async fn the_migration_moves_existing_doubles_to_surplus_and_empty_requests_to_null() {
    let mut db = TestDb::unmigrated().await;
    let runner = before_v5::migrations::runner().set_target(refinery::Target::Version(4));
    stockflow_kit::db::migrate(&db.settings, &db.pool, &db.name, runner, &[])
        .await
        .unwrap();
    db.product("OLD", 0).await;
    let request = Uuid::new_v4().to_string();
    let (fulfilling, doubled, earlier_double, legacy) = (
        Uuid::new_v4().to_string(),
        Uuid::new_v4().to_string(),
        Uuid::new_v4().to_string(),
        Uuid::new_v4().to_string(),
    );
    let mut conn = db.pool.get_conn().await.unwrap();
    // The request was fulfilled by `fulfilling`; two more orders for it were applied
    // (one even recorded earlier), and a legacy order stored '' as its request.
    conn.exec_drop(
        "INSERT INTO restock_requests (id, sku, quantity, factory_id, production_order_id, fulfilled_at) VALUES (?, 'OLD', 5, 'FF', ?, CURRENT_TIMESTAMP(6))",
        (&request, &fulfilling),
    )
    .await
    .unwrap();
    for (id, req, at) in [
        (&earlier_double, request.as_str(), "2026-01-01 00:00:00"),
        (&fulfilling, request.as_str(), "2026-01-02 00:00:00"),
        (&doubled, request.as_str(), "2026-01-03 00:00:00"),
        (&legacy, "", "2026-01-04 00:00:00"),
    ] {
        conn.exec_drop(
            "INSERT INTO applied_production_orders (production_order_id, restock_request_id, sku, quantity, applied_at) VALUES (?, ?, 'OLD', 5, ?)",
            (id, req, at),
        )
        .await
        .unwrap();
    }
    conn.exec_drop("UPDATE products SET stock = 20 WHERE sku = 'OLD'", ())
        .await
        .unwrap();
    drop(conn);

    db.pool = warehouse::open(&db.settings, &db.name)
        .await
        .expect("V5 applies on the old rows");
    let mut conn = db.pool.get_conn().await.unwrap();
    let applied: Vec<(String, Option<String>)> = conn
        .query("SELECT production_order_id, restock_request_id FROM applied_production_orders ORDER BY applied_at")
        .await
        .unwrap();
    assert_eq!(
        applied,
        [
            (earlier_double.clone(), None),
            (fulfilling.clone(), Some(request.clone())),
            (doubled.clone(), None),
            (legacy.clone(), None),
        ],
        "the fulfilling order keeps the request; the doubles and the legacy order name none"
    );
    let mut surplus: Vec<(String, String, Option<String>)> = conn
        .query("SELECT production_order_id, settlement, fulfilled_by FROM surplus_arrivals")
        .await
        .unwrap();
    surplus.sort();
    let mut expected = vec![
        (earlier_double, "kept".to_string(), Some(fulfilling.clone())),
        (doubled, "kept".to_string(), Some(fulfilling)),
    ];
    expected.sort();
    assert_eq!(
        surplus, expected,
        "the doubles are recorded, settled as kept (their stock was added then)"
    );
    balanced(&db, "OLD").await;
}
