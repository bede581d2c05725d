//! Read models for operators (`stockctl status`), sales' gauges and the bench: the stock
//! table, the catalogue's stock summed up, the open restock requests with their age, the
//! surplus arrivals awaiting a decision, the books of a set of skus and the timeline of
//! their restocks.

use chrono::NaiveDateTime;
use mysql_async::Pool;
use mysql_async::prelude::Queryable;

/// One product's stock line.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StockLine {
    pub sku: String,
    pub name: String,
    pub stock: i64,
}

/// A restock request still open, and for how long.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OpenRestockAge {
    pub id: String,
    pub sku: String,
    pub quantity: i64,
    pub shortages: i64,
    pub age_seconds: i64,
}

/// Every product's stock, by sku.
pub async fn stock_table(pool: &Pool) -> Result<Vec<StockLine>, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    let rows: Vec<(String, String, i64)> = conn.query("SELECT sku, name, stock FROM products ORDER BY sku").await?;
    Ok(rows
        .into_iter()
        .map(|(sku, name, stock)| StockLine { sku, name, stock })
        .collect())
}

/// The whole catalogue's stock in three numbers, whatever its size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StockSummary {
    /// Products in the catalogue.
    pub products: i64,
    /// Of them, those with no unit in stock.
    pub out_of_stock: i64,
    /// Units in stock, all products together.
    pub units: i64,
}

/// The [`StockSummary`], by one aggregate query: the server sums, one row comes back.
pub async fn stock_summary(pool: &Pool) -> Result<StockSummary, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    let row: Option<(i64, i64, i64)> = conn
        .query_first(
            "SELECT COUNT(*), CAST(COALESCE(SUM(stock = 0), 0) AS SIGNED), CAST(COALESCE(SUM(stock), 0) AS SIGNED) \
             FROM products",
        )
        .await?;
    let (products, out_of_stock, units) = row.unwrap_or_default();
    Ok(StockSummary {
        products,
        out_of_stock,
        units,
    })
}

/// The open restock requests, oldest first.
pub async fn open_restocks(pool: &Pool) -> Result<Vec<OpenRestockAge>, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    let rows: Vec<(String, String, i64, i64, i64)> = conn
        .query(
            "SELECT id, sku, quantity, shortages, TIMESTAMPDIFF(SECOND, requested_at, CURRENT_TIMESTAMP(6)) \
             FROM restock_requests WHERE open_sku IS NOT NULL ORDER BY requested_at",
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, sku, quantity, shortages, age_seconds)| OpenRestockAge {
            id,
            sku,
            quantity,
            shortages,
            age_seconds,
        })
        .collect())
}

/// A production order that arrived for an already fulfilled restock request and was not
/// applied (`restock::Applied::Surplus`), not yet settled by a person.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SurplusLine {
    pub production_order_id: String,
    pub restock_request_id: String,
    /// The production order that had fulfilled the request.
    pub fulfilled_by: Option<String>,
    pub sku: String,
    pub quantity: i64,
    pub arrived_at: NaiveDateTime,
    /// Whether the ops alert about it was published.
    pub alerted: bool,
}

/// A `surplus_arrivals` row as read: the fields of [`SurplusLine`], in order.
type SurplusRow = (String, String, Option<String>, String, i64, NaiveDateTime, bool);

/// The surplus arrivals that wait for a decision, oldest first.
pub async fn unsettled_surplus(pool: &Pool) -> Result<Vec<SurplusLine>, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    let rows: Vec<SurplusRow> = conn
        .query(
            "SELECT production_order_id, restock_request_id, fulfilled_by, sku, quantity, arrived_at, alerted_at IS NOT NULL \
             FROM surplus_arrivals WHERE settlement IS NULL ORDER BY arrived_at, production_order_id",
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(production_order_id, restock_request_id, fulfilled_by, sku, quantity, arrived_at, alerted)| SurplusLine {
                production_order_id,
                restock_request_id,
                fulfilled_by,
                sku,
                quantity,
                arrived_at,
                alerted,
            },
        )
        .collect())
}

/// How many restock requests are open, and how long the oldest has been.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OpenRestockSummary {
    pub open: i64,
    /// Zero when none is open.
    pub oldest_age_seconds: f64,
}

pub async fn open_restock_summary(pool: &Pool) -> Result<OpenRestockSummary, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    let (open, oldest_micros): (i64, Option<i64>) = conn
        .query_first(
            "SELECT COUNT(*), TIMESTAMPDIFF(MICROSECOND, MIN(requested_at), CURRENT_TIMESTAMP(6)) \
             FROM restock_requests WHERE open_sku IS NOT NULL",
        )
        .await?
        .unwrap_or((0, None));
    Ok(OpenRestockSummary {
        open,
        oldest_age_seconds: oldest_micros.unwrap_or(0).max(0) as f64 / 1e6,
    })
}

/// The books of the skus matching a SQL `LIKE` pattern, summed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Books {
    pub initial: i64,
    pub produced: i64,
    pub sold: i64,
    pub stock: i64,
    /// Restock requests not yet fulfilled.
    pub open_restocks: i64,
}

impl Books {
    pub fn balance(&self) -> bool {
        self.initial + self.produced - self.sold == self.stock
    }
}

pub async fn books(pool: &Pool, sku_pattern: &str) -> Result<Books, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    let pattern = sku_pattern;
    let row: Option<(i64, i64, i64, i64, i64)> = conn
        .exec_first(
            "SELECT \
               CAST(COALESCE((SELECT SUM(initial_stock) FROM products WHERE sku LIKE ?), 0) AS SIGNED), \
               CAST(COALESCE((SELECT SUM(quantity) FROM applied_production_orders WHERE sku LIKE ?), 0) AS SIGNED), \
               CAST(COALESCE((SELECT SUM(quantity) FROM orders WHERE sku LIKE ?), 0) AS SIGNED), \
               CAST(COALESCE((SELECT SUM(stock) FROM products WHERE sku LIKE ?), 0) AS SIGNED), \
               (SELECT COUNT(*) FROM restock_requests WHERE sku LIKE ? AND open_sku IS NOT NULL)",
            (&pattern, &pattern, &pattern, &pattern, &pattern),
        )
        .await?;
    let (initial, produced, sold, stock, open_restocks) = row.unwrap_or_default();
    Ok(Books {
        initial,
        produced,
        sold,
        stock,
        open_restocks,
    })
}

/// When each step of one restock happened (`None`: not yet).
#[derive(Debug, Clone)]
pub struct RestockTimeline {
    pub id: String,
    pub requested_at: NaiveDateTime,
    /// Its `stock_empty` event left the outbox.
    pub published_at: Option<NaiveDateTime>,
    pub ordered_at: Option<NaiveDateTime>,
    pub produced_at: Option<NaiveDateTime>,
    pub fulfilled_at: Option<NaiveDateTime>,
}

/// The restock timelines of the skus matching a SQL `LIKE` pattern.
pub async fn restock_timelines(pool: &Pool, sku_pattern: &str) -> Result<Vec<RestockTimeline>, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    type Row = (
        String,
        NaiveDateTime,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
    );
    let rows: Vec<Row> = conn
        .exec(
            "SELECT r.id, r.requested_at, o.published_at, r.ordered_at, r.produced_at, r.fulfilled_at \
             FROM restock_requests r LEFT JOIN outbox o ON o.aggregate_id = r.id AND o.topic = 'stock_empty' \
             WHERE r.sku LIKE ?",
            (sku_pattern,),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, requested_at, published_at, ordered_at, produced_at, fulfilled_at)| RestockTimeline {
                id,
                requested_at,
                published_at,
                ordered_at,
                produced_at,
                fulfilled_at,
            },
        )
        .collect())
}

/// How many of the skus matching a SQL `LIKE` pattern hold exactly `stock` units.
pub async fn count_at_stock(pool: &Pool, sku_pattern: &str, stock: i64) -> Result<i64, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    let n: Option<i64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM products WHERE sku LIKE ? AND stock = ?",
            (sku_pattern, stock),
        )
        .await?;
    Ok(n.unwrap_or_default())
}
