//! The combining checkout against a real MySQL/MariaDB server (`MYSQL_URL`, default
//! mysql://root@127.0.0.1:3306): each test has a database of its own.

use std::sync::atomic::Ordering;
use std::time::Duration;

mod common;

use common::{TestDb, keyed, purchase};
use mysql_async::prelude::Queryable;
use warehouse::checkout::{self, CheckoutOutcome, Checkouts, CombineSettings, Recorded};
use warehouse::products;

/// Units sold of a sku (the sum of its order rows).
async fn orders(db: &TestDb, sku: &str) -> i64 {
    db.count(
        "SELECT CAST(COALESCE(SUM(quantity), 0) AS SIGNED) FROM orders WHERE sku = ?",
        sku,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_buyers_of_a_hundred_units_buy_exactly_a_hundred() {
    let db = TestDb::with_products(&[("FLASH", 100)]).await;
    let checkouts = Checkouts::start(db.pool.clone(), None, &CombineSettings::default());
    let answers = futures::future::join_all((0..500).map(|_| {
        let checkouts = checkouts.clone();
        async move { checkouts.checkout(purchase("FLASH", 1)).await }
    }))
    .await;

    let mut sold = Vec::new();
    let mut short = 0;
    let mut opened = 0;
    for answer in answers {
        match answer.expect("no database error") {
            Recorded::Fresh(CheckoutOutcome::Sold {
                order_id,
                remaining_stock,
            }) => sold.push((order_id, remaining_stock)),
            Recorded::Fresh(CheckoutOutcome::OutOfStock { opened: first, .. }) => {
                short += 1;
                opened += usize::from(first);
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(sold.len(), 100, "exactly the stock is sold");
    assert_eq!(short, 400);
    assert_eq!(opened, 1, "one shortage opened the request, the others joined it");
    assert_eq!(orders(&db, "FLASH").await, 100, "every sale has its order row");
    assert_eq!(products::stock(&db.pool, "FLASH").await.unwrap(), Some(0));
    // Every order id is distinct and every remaining stock from 99 down to 0 was answered once.
    let mut ids: Vec<u64> = sold.iter().map(|s| s.0).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 100);
    let mut remaining: Vec<i64> = sold.iter().map(|s| s.1).collect();
    remaining.sort();
    assert_eq!(remaining, (0..100).collect::<Vec<_>>());
    // One restock request, joined by every shortage.
    db.assert_count("SELECT COUNT(*) FROM restock_requests WHERE sku = ?", "FLASH", 1)
        .await;
    db.assert_count("SELECT shortages FROM restock_requests WHERE sku = ?", "FLASH", 400)
        .await;
    // It took many transactions, and some of them combined several purchases.
    let stats = checkouts.stats();
    let transactions = stats.transactions.load(Ordering::Relaxed);
    assert!(transactions > 1, "many batches");
    assert!(
        transactions < 500,
        "purchases shared transactions ({transactions} for 500)"
    );
    assert!(stats.largest.load(Ordering::Relaxed) > 1);
}

#[tokio::test]
async fn a_large_purchase_that_does_not_fit_leaves_the_stock_to_later_small_ones() {
    let db = TestDb::with_products(&[("MIX", 5)]).await;
    let batch = [purchase("MIX", 3), purchase("MIX", 4), purchase("MIX", 2)];
    let committed = checkout::transact(&db.pool, &batch).await.unwrap();
    let outcomes: Vec<CheckoutOutcome> = committed
        .recorded
        .into_iter()
        .map(|r| match r {
            Recorded::Fresh(outcome) => outcome,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert!(matches!(outcomes[0], CheckoutOutcome::Sold { remaining_stock: 2, .. }));
    assert!(
        matches!(outcomes[1], CheckoutOutcome::OutOfStock { opened: true, .. }),
        "4 does not fit in 2, and opens the restock request"
    );
    assert!(
        matches!(outcomes[2], CheckoutOutcome::Sold { remaining_stock: 0, .. }),
        "2 still fits"
    );
    assert_eq!(orders(&db, "MIX").await, 5);
    assert_eq!(products::stock(&db.pool, "MIX").await.unwrap(), Some(0));
    // The shortage opened a request for at least its shortfall, with its event in the outbox.
    assert_eq!(committed.events.len(), 1);
    db.assert_count("SELECT quantity FROM restock_requests WHERE sku = ?", "MIX", 10)
        .await;
}

#[tokio::test]
async fn a_shortfall_larger_than_the_reorder_quantity_is_ordered_whole() {
    let db = TestDb::with_products(&[("BIG", 5)]).await;
    let committed = checkout::transact(&db.pool, &[purchase("BIG", 20)]).await.unwrap();
    assert!(matches!(
        committed.recorded[0],
        Recorded::Fresh(CheckoutOutcome::OutOfStock { opened: true, .. })
    ));
    assert_eq!(
        db.count("SELECT quantity FROM restock_requests WHERE sku = ?", "BIG")
            .await,
        15,
        "20 wanted, 5 there: the 15 missing, more than the reorder quantity of 10"
    );
    assert_eq!(products::stock(&db.pool, "BIG").await.unwrap(), Some(5));
}

#[tokio::test]
async fn one_batch_sells_a_sku_and_records_the_shortage_of_another() {
    let db = TestDb::with_products(&[("HAS", 3), ("LACKS", 1)]).await;
    let recorded = checkout::transact(&db.pool, &[purchase("HAS", 1), purchase("LACKS", 2)])
        .await
        .unwrap()
        .recorded;
    assert!(matches!(
        recorded[0],
        Recorded::Fresh(CheckoutOutcome::Sold { remaining_stock: 2, .. })
    ));
    assert!(matches!(
        recorded[1],
        Recorded::Fresh(CheckoutOutcome::OutOfStock { opened: true, .. })
    ));
    assert_eq!(products::stock(&db.pool, "LACKS").await.unwrap(), Some(1));
}

#[tokio::test]
async fn one_batch_of_several_skus_sells_each_and_unknown_skus_do_not_spoil_it() {
    let db = TestDb::with_products(&[("B-1", 2), ("A-1", 1)]).await;
    let batch = [
        purchase("B-1", 1),
        purchase("NOPE", 1),
        purchase("A-1", 1),
        purchase("B-1", 1),
    ];
    let recorded = checkout::transact(&db.pool, &batch).await.unwrap().recorded;
    assert!(matches!(
        recorded[0],
        Recorded::Fresh(CheckoutOutcome::Sold { remaining_stock: 1, .. })
    ));
    assert_eq!(recorded[1], Recorded::Fresh(CheckoutOutcome::UnknownSku));
    assert!(matches!(
        recorded[2],
        Recorded::Fresh(CheckoutOutcome::Sold { remaining_stock: 0, .. })
    ));
    assert!(matches!(
        recorded[3],
        Recorded::Fresh(CheckoutOutcome::Sold { remaining_stock: 0, .. })
    ));
    assert_eq!(orders(&db, "B-1").await, 2);
    assert_eq!(orders(&db, "A-1").await, 1);
}

#[tokio::test]
async fn the_same_key_twice_in_one_batch_buys_once_and_replays() {
    let db = TestDb::with_products(&[("KEY", 10)]).await;
    let batch = [keyed("KEY", 1, "k-1"), keyed("KEY", 1, "k-1"), keyed("KEY", 2, "k-1")];
    let recorded = checkout::transact(&db.pool, &batch).await.unwrap().recorded;
    let Recorded::Fresh(first) = &recorded[0] else {
        panic!("the first is fresh: {:?}", recorded[0]);
    };
    assert!(matches!(first, CheckoutOutcome::Sold { .. }));
    assert_eq!(
        recorded[1],
        Recorded::Replay(first.clone()),
        "same key, same request: replayed"
    );
    assert_eq!(recorded[2], Recorded::KeyReused, "same key, another request: refused");
    assert_eq!(orders(&db, "KEY").await, 1, "one purchase");

    // In a later batch the key still replays the first outcome.
    let later = checkout::transact(&db.pool, &[keyed("KEY", 1, "k-1")])
        .await
        .unwrap()
        .recorded;
    assert_eq!(later[0], Recorded::Replay(first.clone()));
    assert_eq!(orders(&db, "KEY").await, 1);
}

#[tokio::test]
async fn outcomes_recorded_by_the_earlier_version_replay() {
    let db = TestDb::with_products(&[("OLD", 10)]).await;
    let mut conn = db.pool.get_conn().await.unwrap();
    conn.exec_drop(
        "INSERT INTO idempotency_keys (idempotency_key, request, status, response) VALUES (?, ?, 200, ?)",
        (
            "old-key",
            "OLD|1|test",
            r#"{"status":"sold","message":"판매완료","order_id":7,"sku":"OLD","quantity":1,"remaining_stock":4}"#,
        ),
    )
    .await
    .unwrap();
    let recorded = checkout::transact(&db.pool, &[keyed("OLD", 1, "old-key")])
        .await
        .unwrap()
        .recorded;
    assert_eq!(
        recorded[0],
        Recorded::Replay(CheckoutOutcome::Sold {
            order_id: 7,
            remaining_stock: 4
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_whose_connection_is_killed_answers_no_sale_it_did_not_record() {
    let db = TestDb::with_products(&[("KILL", 10)]).await;
    // Hold the product row, so the batch's transaction waits on it mid-way.
    let mut holder = db
        .holding("SELECT stock FROM products WHERE sku = ? FOR UPDATE", ("KILL",))
        .await;

    let checkouts = Checkouts::start(db.pool.clone(), None, &CombineSettings::default());
    let buyers: Vec<_> = (0..5)
        .map(|_| {
            let checkouts = checkouts.clone();
            tokio::spawn(async move { checkouts.checkout(purchase("KILL", 1)).await })
        })
        .collect();

    // The batch's connection, waiting on the lock: kill it.
    let mut admin = mysql_async::Conn::from_url(db.settings.mysql_url.clone())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let victim: u64 = loop {
        let waiting: Option<u64> = admin
            .exec_first(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE 'SELECT p.sku, p.stock%FOR UPDATE'",
                (&db.name,),
            )
            .await
            .unwrap();
        if let Some(id) = waiting {
            break id;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the batch never waited on the lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    admin
        .query_drop(format!("KILL {victim}"))
        .await
        .expect("the kill happened");
    holder.query_drop("ROLLBACK").await.unwrap();

    let mut sold = 0;
    let mut failed = 0;
    for buyer in buyers {
        match buyer.await.unwrap() {
            Ok(Recorded::Fresh(CheckoutOutcome::Sold { .. })) => sold += 1,
            Err(_) => failed += 1,
            Ok(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!(failed >= 1, "the killed batch's purchases got the failure");
    assert_eq!(
        orders(&db, "KILL").await,
        sold,
        "every sale answered is recorded, and no other"
    );
    assert_eq!(products::stock(&db.pool, "KILL").await.unwrap(), Some(10 - sold));
    // The lane goes on: a new purchase sells.
    let after = checkouts.checkout(purchase("KILL", 1)).await.unwrap();
    assert!(matches!(after, Recorded::Fresh(CheckoutOutcome::Sold { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cap_of_one_is_one_transaction_per_purchase() {
    let db = TestDb::with_products(&[("ONE", 50)]).await;
    let settings = CombineSettings {
        checkout_batch_max: 1,
        checkout_lanes: 1,
        ..CombineSettings::default()
    };
    let checkouts = Checkouts::start(db.pool.clone(), None, &settings);
    let answers = futures::future::join_all((0..60).map(|_| {
        let checkouts = checkouts.clone();
        async move { checkouts.checkout(purchase("ONE", 1)).await.unwrap() }
    }))
    .await;
    let sold = answers
        .iter()
        .filter(|a| matches!(a, Recorded::Fresh(CheckoutOutcome::Sold { .. })))
        .count();
    assert_eq!(sold, 50);
    assert_eq!(checkouts.stats().transactions.load(Ordering::Relaxed), 60);
    assert_eq!(checkouts.stats().largest.load(Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_row_keeps_the_requester_and_request_id_as_sent_whatever_they_hold() {
    let db = TestDb::with_products(&[("TEXT", 10)]).await;
    let checkouts = Checkouts::start(db.pool.clone(), None, &CombineSettings::default());
    // Quotes, backslashes, a statement separator, comment marks, a NUL and text beyond
    // ASCII, sold at once (so batches combine them).
    let requesters = [
        "o'brien\\'; DROP TABLE orders; --",
        "\"double\" /* not a comment */ # nor this",
        "주문자 🛒",
        "",
    ];
    let answers = futures::future::join_all(requesters.iter().enumerate().map(|(i, requester)| {
        let checkouts = checkouts.clone();
        let mut sale = purchase("TEXT", 1);
        sale.requester = requester.to_string();
        sale.correlation_id = format!("req-{i}-'\\\u{0}");
        async move { checkouts.checkout(sale).await.unwrap() }
    }))
    .await;
    for (i, answer) in answers.iter().enumerate() {
        let Recorded::Fresh(CheckoutOutcome::Sold { order_id, .. }) = answer else {
            panic!("purchase {i} sold: {answer:?}");
        };
        let mut conn = db.pool.get_conn().await.unwrap();
        let row: Option<(String, String)> = conn
            .exec_first(
                "SELECT requester, correlation_id FROM orders WHERE id = ?",
                (*order_id,),
            )
            .await
            .unwrap();
        assert_eq!(
            row,
            Some((requesters[i].to_string(), format!("req-{i}-'\\\u{0}"))),
            "order {order_id} holds what purchase {i} sent"
        );
    }
    assert_eq!(orders(&db, "TEXT").await, requesters.len() as i64);
    assert_eq!(products::stock(&db.pool, "TEXT").await.unwrap(), Some(6));
}
