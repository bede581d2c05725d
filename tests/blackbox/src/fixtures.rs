//! The suite's own products, added straight to the warehouse database (the Sales API
//! has no route to create one). Every sku starts with `BB-`; names say they are test
//! products. This is the only SQL of the suite.

use mysql_async::prelude::Queryable;
use mysql_async::{Opts, OptsBuilder, Pool};

use crate::StackConfig;

pub struct Warehouse {
    pool: Pool,
}

impl Warehouse {
    pub fn connect(config: &StackConfig) -> Self {
        let opts = Opts::from_url(&config.mysql_url).unwrap_or_else(|e| panic!("MYSQL_URL is not a mysql:// URL: {e}"));
        let opts = OptsBuilder::from_opts(opts).db_name(Some(config.warehouse_db.clone()));
        Self { pool: Pool::new(opts) }
    }

    /// Adds a product: `stock` units now, `reorder_quantity` ordered when it runs out.
    pub async fn add_product(&self, sku: &str, stock: i64, reorder_quantity: i64) {
        assert!(sku.starts_with("BB-"), "the suite's skus start with BB-");
        let mut conn = self
            .pool
            .get_conn()
            .await
            .expect("MySQL at MYSQL_URL with the warehouse database WAREHOUSE_DB");
        conn.exec_drop(
            "INSERT INTO products (sku, name, price, stock, initial_stock, reorder_quantity, factory_id, factory_name) \
             VALUES (?, ?, 1000, ?, ?, ?, 'FF-500293', 'black-box test factory')",
            (
                sku,
                format!("black-box test product {sku}"),
                stock,
                stock,
                reorder_quantity,
            ),
        )
        .await
        .expect("insert a test product");
    }
}
