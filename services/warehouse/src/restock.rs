//! Applying a production order: the order is recorded as applied, stock is increased
//! and the restock request is fulfilled (which closes it), all or nothing. The applied
//! order's id is a primary key, so a second delivery of the same order changes nothing.

use std::time::Duration;

use chrono::Utc;
use mysql_async::Pool;
use mysql_async::prelude::Queryable;
use stockflow_shared::db;
use stockflow_shared::events::StockArrival;

#[derive(Debug, PartialEq)]
pub enum Applied {
    /// Stock increased now; the restock request (if known) was opened this long ago.
    Restocked { since_requested: Option<Duration> },
    /// This production order was applied before: nothing changed.
    Duplicate,
    /// No such product in the warehouse.
    UnknownSku,
}

/// Applies the production order a `stock_arrival` announces.
pub async fn apply(pool: &Pool, order: &StockArrival) -> Result<Applied, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    let mut tx = conn.start_transaction(db::tx_opts()).await?;
    let order_id = order.production_order_id.to_string();
    // An order placed without a restock request (not by stock-worker) fulfils none.
    let request_id = order.restock_request_id.map(|id| id.to_string()).unwrap_or_default();
    let recorded = tx
        .exec_drop(
            "INSERT INTO applied_production_orders (production_order_id, restock_request_id, sku, quantity) VALUES (?, ?, ?, ?)",
            (&order_id, &request_id, &order.sku, order.quantity),
        )
        .await;
    match recorded {
        Err(mysql_async::Error::Server(err)) if err.code == 1062 => {
            tx.rollback().await?;
            return Ok(Applied::Duplicate);
        }
        other => other?,
    }
    tx.exec_drop(
        "UPDATE products SET stock = stock + ? WHERE sku = ?",
        (order.quantity, &order.sku),
    )
    .await?;
    if tx.affected_rows() != 1 {
        tx.rollback().await?;
        return Ok(Applied::UnknownSku);
    }
    tx.exec_drop(
        "UPDATE restock_requests SET production_order_id = ?, ordered_at = ?, produced_at = ?, \
         fulfilled_at = CURRENT_TIMESTAMP(6) WHERE id = ? AND fulfilled_at IS NULL",
        (
            &order_id,
            order.ordered_at.naive_utc(),
            order.produced_at.naive_utc(),
            &request_id,
        ),
    )
    .await?;
    let requested_at: Option<chrono::NaiveDateTime> = tx
        .exec_first("SELECT requested_at FROM restock_requests WHERE id = ?", (&request_id,))
        .await?;
    tx.commit().await?;
    let since_requested = requested_at.and_then(|at| (Utc::now().naive_utc() - at).to_std().ok());
    Ok(Applied::Restocked { since_requested })
}
