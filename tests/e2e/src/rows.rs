//! A test's rows: products it adds, and scalar queries on its warehouse and factory
//! databases, read or asserted (the query and its argument in the failure message).

use mysql_async::prelude::FromValue;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Pool};

use crate::TestEnv;

impl TestEnv {
    /// Adds a product for this test.
    pub async fn add_product(&self, sku: &str, stock: i64, reorder_quantity: i64) {
        let mut conn = self.warehouse().await.get_conn().await.unwrap();
        conn.exec_drop(
            "INSERT INTO products (sku, name, price, stock, initial_stock, reorder_quantity, factory_id, factory_name) VALUES (?, ?, 1000, ?, ?, ?, 'FF-TEST', 'test factory')",
            (sku, format!("test product {sku}"), stock, stock, reorder_quantity),
        )
        .await
        .unwrap();
    }

    /// The stock of `sku`; panics if there is no such product.
    pub async fn stock(&self, sku: &str) -> i64 {
        let mut conn = self.warehouse().await.get_conn().await.unwrap();
        conn.exec_first("SELECT stock FROM products WHERE sku = ?", (sku,))
            .await
            .unwrap()
            .expect("no such product")
    }

    /// A connection of `pool` in a transaction that locked the product rows of `skus`
    /// (`SELECT … FOR UPDATE`): purchases of them wait until the test commits it.
    pub async fn holding_products(&self, pool: &Pool, skus: &[impl AsRef<str>]) -> Conn {
        let mut holder = pool.get_conn().await.unwrap();
        holder.query_drop("BEGIN").await.unwrap();
        for sku in skus {
            holder
                .exec_drop("SELECT stock FROM products WHERE sku = ? FOR UPDATE", (sku.as_ref(),))
                .await
                .unwrap();
        }
        holder
    }

    /// Asserts that each of `skus` has `stock` units.
    pub async fn assert_each_stock(&self, skus: &[String], stock: i64) {
        for sku in skus {
            assert_eq!(self.stock(sku).await, stock, "the stock of {sku}");
        }
    }

    /// A pool on this test's factory database (created by the factory's migrations).
    pub async fn factory(&self) -> Pool {
        stockflow_kit::db::connect(&self.database, &self.factory_db)
            .await
            .expect("factory database")
    }

    /// Scalar query on the warehouse database, its one `?` bound to `sku` (no row: 0).
    pub async fn warehouse_count(&self, sql: &str, sku: &str) -> i64 {
        scalar(&self.warehouse().await, sql, sku).await
    }

    /// Scalar query on the factory database, its one `?` bound to `sku` (no row: 0).
    pub async fn factory_count(&self, sql: &str, sku: &str) -> i64 {
        scalar(&self.factory().await, sql, sku).await
    }

    /// The first column of the first row `sql` returns with `params` on the warehouse
    /// database, if any.
    pub async fn warehouse_first<T: FromValue + Send + 'static>(
        &self,
        sql: &str,
        params: impl Into<Params> + Send,
    ) -> Option<T> {
        let mut conn = self.warehouse().await.get_conn().await.unwrap();
        conn.exec_first(sql, params)
            .await
            .unwrap_or_else(|e| panic!("`{sql}`: {e}"))
    }

    /// The order rows sales recorded for `sku`.
    pub async fn orders(&self, sku: &str) -> i64 {
        self.warehouse_count("SELECT COUNT(*) FROM orders WHERE sku = ?", sku)
            .await
    }

    /// The order rows sales recorded for `sku` that also meet `condition` (SQL).
    pub async fn orders_where(&self, sku: &str, condition: &str) -> i64 {
        self.warehouse_count(
            &format!("SELECT COUNT(*) FROM orders WHERE sku = ? AND {condition}"),
            sku,
        )
        .await
    }

    /// The production orders the warehouse applied to `sku`'s stock.
    pub async fn applied_orders(&self, sku: &str) -> i64 {
        self.warehouse_count("SELECT COUNT(*) FROM applied_production_orders WHERE sku = ?", sku)
            .await
    }

    /// The production orders the factory made for `sku`.
    pub async fn production_orders(&self, sku: &str) -> i64 {
        self.factory_count("SELECT COUNT(*) FROM production_orders WHERE product_id = ?", sku)
            .await
    }

    /// Asserts that [`TestEnv::warehouse_count`] of `sql` and `sku` is `expected`.
    pub async fn assert_warehouse(&self, sql: &str, sku: &str, expected: i64) {
        let actual = self.warehouse_count(sql, sku).await;
        assert_eq!(actual, expected, "warehouse: `{sql}` with ? = {sku:?}");
    }

    /// Asserts that [`TestEnv::factory_count`] of `sql` and `sku` is `expected`.
    pub async fn assert_factory(&self, sql: &str, sku: &str, expected: i64) {
        let actual = self.factory_count(sql, sku).await;
        assert_eq!(actual, expected, "factory: `{sql}` with ? = {sku:?}");
    }
}

/// A scalar query on `pool`, its one `?` bound to `sku` (no row: 0).
async fn scalar(pool: &Pool, sql: &str, sku: &str) -> i64 {
    let mut conn = pool.get_conn().await.unwrap();
    conn.exec_first::<i64, _, _>(sql, (sku,))
        .await
        .unwrap()
        .unwrap_or_default()
}
