//! Products as the catalogue shows them, with the restock request open for each, and
//! adding a product (operators' seeding, tests and the bench).

use chrono::{DateTime, Utc};
use mysql_async::prelude::{FromRow, Queryable};
use mysql_async::{FromRowError, Pool, Row};
use serde::Serialize;

/// A product as the API shows it.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"sku": "CP-502101", "name": "부산도너츠", "price": 19900, "stock": 3, "factory_id": "FF-500293", "restock": null})))]
pub struct Product {
    pub sku: String,
    pub name: String,
    /// In won.
    pub price: u32,
    pub stock: i64,
    pub factory_id: String,
    /// The open restock request, if the product ran out and is being restocked.
    pub restock: Option<OpenRestock>,
}

/// The restock request open for a product that ran out.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpenRestock {
    pub id: String,
    pub quantity: i64,
    /// Failed purchases that joined this request.
    pub shortages: i64,
    pub requested_at: DateTime<Utc>,
}

impl FromRow for Product {
    fn from_row_opt(row: Row) -> Result<Self, FromRowError> {
        type Columns = (
            String,
            String,
            u32,
            i64,
            String,
            Option<String>,
            Option<i64>,
            Option<i64>,
            Option<chrono::NaiveDateTime>,
        );
        let (sku, name, price, stock, factory_id, restock_id, quantity, shortages, requested_at) =
            Columns::from_row_opt(row)?;
        // The LEFT JOIN fills every restock column, or none.
        let restock = match (restock_id, quantity, shortages, requested_at) {
            (Some(id), Some(quantity), Some(shortages), Some(requested_at)) => Some(OpenRestock {
                id,
                quantity,
                shortages,
                requested_at: requested_at.and_utc(),
            }),
            _ => None,
        };
        Ok(Product {
            sku,
            name,
            price,
            stock,
            factory_id,
            restock,
        })
    }
}

const PRODUCTS: &str = "SELECT p.sku, p.name, p.price, p.stock, p.factory_id, r.id, r.quantity, r.shortages, r.requested_at \
     FROM products p LEFT JOIN restock_requests r ON r.open_sku = p.sku";

/// Every product, by sku.
pub async fn list(pool: &Pool) -> Result<Vec<Product>, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    conn.query(format!("{PRODUCTS} ORDER BY p.sku")).await
}

/// Up to `limit` products whose sku sorts after `after` (from the first when `None`), by
/// sku: one range read of the primary key, so a page costs the same wherever it starts.
pub async fn page(pool: &Pool, after: Option<&str>, limit: u32) -> Result<Vec<Product>, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    match after {
        Some(after) => {
            conn.exec(
                format!("{PRODUCTS} WHERE p.sku > ? ORDER BY p.sku LIMIT ?"),
                (after, limit),
            )
            .await
        }
        None => conn.exec(format!("{PRODUCTS} ORDER BY p.sku LIMIT ?"), (limit,)).await,
    }
}

/// One product, or `None` for an unknown sku.
pub async fn get(pool: &Pool, sku: &str) -> Result<Option<Product>, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    conn.exec_first(format!("{PRODUCTS} WHERE p.sku = ?"), (sku,)).await
}

/// A product to add to the catalogue.
#[derive(Debug, Clone)]
pub struct NewProduct {
    pub sku: String,
    pub name: String,
    pub price: u32,
    /// Stock on arrival (also its `initial_stock`, the start of its books).
    pub stock: i64,
    /// Units ordered from the factory when it runs out (at least the shortfall).
    pub reorder_quantity: i64,
    pub factory_id: String,
    pub factory_name: String,
}

impl NewProduct {
    /// A product of a test factory: for tests and the bench.
    pub fn test(sku: &str, stock: i64, reorder_quantity: i64) -> Self {
        Self {
            sku: sku.into(),
            name: format!("test product {sku}"),
            price: 1000,
            stock,
            reorder_quantity,
            factory_id: "FF-TEST".into(),
            factory_name: "test factory".into(),
        }
    }
}

/// Adds products (in one statement per 500).
pub async fn add(pool: &Pool, products: &[NewProduct]) -> Result<(), mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    for chunk in products.chunks(500) {
        let placeholders = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let params: Vec<mysql_async::Value> = chunk
            .iter()
            .flat_map(|p| {
                [
                    p.sku.clone().into(),
                    p.name.clone().into(),
                    p.price.into(),
                    p.stock.into(),
                    p.stock.into(),
                    p.reorder_quantity.into(),
                    p.factory_id.clone().into(),
                    p.factory_name.clone().into(),
                ]
            })
            .collect();
        conn.exec_drop(
            format!(
                "INSERT INTO products (sku, name, price, stock, initial_stock, reorder_quantity, factory_id, factory_name) VALUES {placeholders}"
            ),
            params,
        )
        .await?;
    }
    Ok(())
}

/// The stock of one product, or `None` for an unknown sku.
pub async fn stock(pool: &Pool, sku: &str) -> Result<Option<i64>, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    conn.exec_first("SELECT stock FROM products WHERE sku = ?", (sku,))
        .await
}
