//! The restock transaction: the production order is recorded as applied, stock is
//! increased and the restock request is marked fulfilled, all or nothing. The
//! applied order's id is a primary key, so a second delivery changes nothing.

use mysql_async::Pool;
use mysql_async::prelude::Queryable;
use stockflow_shared::db;
use stockflow_shared::events::StockArrival;

#[derive(Debug, PartialEq)]
pub enum Restock {
    /// Stock increased now; the restock request (if known) was opened this long ago.
    Restocked {
        since_requested: Option<std::time::Duration>,
    },
    /// This production order was applied before: nothing changed.
    Duplicate,
    /// No such product in the warehouse.
    UnknownSku,
}

pub async fn apply(pool: &Pool, arrival: &StockArrival) -> Result<Restock, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    let mut tx = conn.start_transaction(db::tx_opts()).await?;
    let order_id = arrival.production_order_id.to_string();
    // an order placed without a restock request id is recorded under "" (no request)
    let restock_request_id = arrival.restock_request_id.map(|id| id.to_string()).unwrap_or_default();
    let recorded = tx
        .exec_drop(
            "INSERT INTO applied_production_orders (production_order_id, restock_request_id, sku, quantity) VALUES (?, ?, ?, ?)",
            (&order_id, &restock_request_id, &arrival.sku, arrival.quantity),
        )
        .await;
    match recorded {
        Err(mysql_async::Error::Server(err)) if err.code == 1062 => {
            tx.rollback().await?;
            return Ok(Restock::Duplicate);
        }
        other => other?,
    }
    tx.exec_drop(
        "UPDATE products SET stock = stock + ? WHERE sku = ?",
        (arrival.quantity, &arrival.sku),
    )
    .await?;
    if tx.affected_rows() != 1 {
        tx.rollback().await?;
        return Ok(Restock::UnknownSku);
    }
    tx.exec_drop(
        "UPDATE restock_requests SET status = 'fulfilled', open_sku = NULL, production_order_id = ?, \
         ordered_at = ?, produced_at = ?, fulfilled_at = CURRENT_TIMESTAMP(6) \
         WHERE id = ? AND status <> 'fulfilled'",
        (
            &order_id,
            arrival.ordered_at.naive_utc(),
            arrival.produced_at.naive_utc(),
            &restock_request_id,
        ),
    )
    .await?;
    let requested_at: Option<chrono::NaiveDateTime> = tx
        .exec_first(
            "SELECT requested_at FROM restock_requests WHERE id = ?",
            (&restock_request_id,),
        )
        .await?;
    tx.commit().await?;
    let since_requested = requested_at.and_then(|at| (chrono::Utc::now().naive_utc() - at).to_std().ok());
    Ok(Restock::Restocked { since_requested })
}
