//! What the warehouse's integration tests share: a fresh database of their own on the
//! real MySQL/MariaDB server (`MYSQL_URL`, default mysql://root@127.0.0.1:3306), dropped
//! when the test ends, plain and keyed purchases, a product that ran out and a production
//! order for it. Each test binary uses a part of it.
#![allow(dead_code)]

use chrono::Utc;
use mysql_async::prelude::FromValue;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Params, Pool};
use stockflow_contracts::events::StockArrival;
use stockflow_contracts::{IdempotencyKey, RestockRequestId};
use stockflow_kit::config::DatabaseSettings;
use uuid::Uuid;
use warehouse::checkout::{CheckoutOutcome, Checkouts, CombineSettings, KeyedRequest, Purchase, Recorded};
use warehouse::products::{self, NewProduct};
use warehouse::{Quantity, Sku};

/// A fresh warehouse database, dropped when the test ends (whether it passed or not).
pub struct TestDb {
    pub pool: Pool,
    pub settings: DatabaseSettings,
    pub name: String,
}

impl TestDb {
    pub async fn new() -> Self {
        let mut db = Self::unmigrated().await;
        db.pool = warehouse::open(&db.settings, &db.name)
            .await
            .expect("the warehouse migrations apply");
        db
    }

    /// A fresh database ([`TestDb::new`]) holding `products`: `(sku, stock)` each.
    pub async fn with_products(products: &[(&str, i64)]) -> Self {
        let db = Self::new().await;
        for (sku, stock) in products {
            db.product(sku, *stock).await;
        }
        db
    }

    /// A fresh, empty database: the test migrates it (e.g. to an older version first).
    pub async fn unmigrated() -> Self {
        let mut settings = DatabaseSettings::default();
        if let Ok(url) = std::env::var("MYSQL_URL") {
            settings.mysql_url = url;
        }
        settings.db_pool_max = 8;
        let name = format!("warehouse_test_{}", uuid::Uuid::new_v4().simple());
        let pool = stockflow_kit::db::connect(&settings, &name)
            .await
            .expect("MySQL reachable at MYSQL_URL");
        Self { pool, settings, name }
    }

    /// Adds a product: `stock` units of `sku`, reordered by 10.
    pub async fn product(&self, sku: &str, stock: i64) {
        products::add(&self.pool, &[NewProduct::test(sku, stock, 10)])
            .await
            .unwrap();
    }

    /// Another pool on this database (another replica's), whose connections also run
    /// `setup` (session settings) when they open.
    pub fn another_pool(&self, setup: &[&str]) -> Pool {
        let server = Opts::from_url(&self.settings.mysql_url).unwrap();
        let database = OptsBuilder::from_opts(server).db_name(Some(&self.name)).into();
        let opts = stockflow_kit::db::pool_opts(database, 4).unwrap();
        Pool::new(OptsBuilder::from_opts(opts).setup(setup.to_vec()))
    }

    /// A scalar query, its one `?` bound to `sku` (no row: 0).
    pub async fn count(&self, sql: &str, sku: &str) -> i64 {
        self.first(sql, (sku,)).await.unwrap_or_default()
    }

    /// Asserts that [`TestDb::count`] of `sql` and `sku` is `expected`.
    pub async fn assert_count(&self, sql: &str, sku: &str, expected: i64) {
        let actual = self.count(sql, sku).await;
        assert_eq!(actual, expected, "`{sql}` with ? = {sku:?}");
    }

    /// The first column of the first row `sql` returns with `params`, if any.
    pub async fn first<T: FromValue + Send + 'static>(&self, sql: &str, params: impl Into<Params> + Send) -> Option<T> {
        let mut conn = self.pool.get_conn().await.unwrap();
        conn.exec_first(sql, params)
            .await
            .unwrap_or_else(|e| panic!("`{sql}`: {e}"))
    }

    /// Runs the statement `sql` with `params`.
    pub async fn exec(&self, sql: &str, params: impl Into<Params> + Send) {
        let mut conn = self.pool.get_conn().await.unwrap();
        conn.exec_drop(sql, params)
            .await
            .unwrap_or_else(|e| panic!("`{sql}`: {e}"));
    }

    /// A connection in a transaction that ran `sql` with `params` and has not committed:
    /// it holds the rows `sql` locked until the test rolls it back (or drops it).
    pub async fn holding(&self, sql: &str, params: impl Into<Params> + Send) -> Conn {
        let mut holder = self.pool.get_conn().await.unwrap();
        holder.query_drop("START TRANSACTION").await.unwrap();
        holder
            .exec_drop(sql, params)
            .await
            .unwrap_or_else(|e| panic!("`{sql}`: {e}"));
        holder
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let url = self.settings.mysql_url.clone();
        let name = self.name.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut conn) = mysql_async::Conn::from_url(url).await {
                    conn.query_drop(format!("DROP DATABASE IF EXISTS `{name}`")).await.ok();
                    conn.disconnect().await.ok();
                }
            });
        })
        .join()
        .ok();
    }
}

pub fn purchase(sku: &str, quantity: u32) -> Purchase {
    Purchase {
        sku: Sku::parse(sku).expect("a test sku is valid"),
        quantity: Quantity::new(i64::from(quantity)).expect("a test quantity is valid"),
        requester: "test".into(),
        correlation_id: "test".into(),
        key: None,
    }
}

pub fn keyed(sku: &str, quantity: u32, key: &str) -> Purchase {
    Purchase {
        key: Some(KeyedRequest {
            key: IdempotencyKey::parse(key).expect("a test key is valid"),
            fingerprint: format!("{sku}|{quantity}|test"),
        }),
        ..purchase(sku, quantity)
    }
}

/// A product that ran out: its open restock request.
pub async fn ran_out(db: &TestDb, sku: &str) -> RestockRequestId {
    db.product(sku, 0).await;
    let checkouts = Checkouts::start(db.pool.clone(), None, &CombineSettings::default());
    match checkouts.checkout(purchase(sku, 1)).await.unwrap() {
        Recorded::Fresh(CheckoutOutcome::OutOfStock { restock_request_id, .. }) => restock_request_id,
        other => panic!("expected a shortage, got {other:?}"),
    }
}

/// A product that ran out, whose restock request a production order of `quantity` then
/// fulfilled: the request.
pub async fn restocked(db: &TestDb, sku: &str, quantity: u32) -> RestockRequestId {
    let request = ran_out(db, sku).await;
    warehouse::restock::apply(&db.pool, &arrival(sku, Some(request), quantity))
        .await
        .unwrap();
    request
}

/// A production order the factory announces.
pub fn arrival(sku: &str, request: Option<RestockRequestId>, quantity: u32) -> StockArrival {
    StockArrival {
        production_order_id: Uuid::new_v4(),
        restock_request_id: request,
        sku: sku.into(),
        quantity,
        ordered_at: Utc::now(),
        produced_at: Utc::now(),
    }
}
