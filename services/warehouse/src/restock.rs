//! Applying a production order: the order is recorded as applied, stock is increased
//! and the restock request is fulfilled (which closes it), all or nothing.
//!
//! Two unique keys make it exactly once, whatever SQS redelivers and whatever the
//! factory announces:
//! - the applied order's id is the primary key, so a second delivery of the same order
//!   changes nothing;
//! - at most one applied order names a restock request (`applied_one_per_request`), so a
//!   second production order for a request another order fulfilled (a factory that lost
//!   its database, a second factory) adds no stock. It is recorded in `surplus_arrivals`
//!   instead, for a person to decide on, and reported as [`Applied::Surplus`].
//!
//! An order that names no request (a legacy client ordering from the factory directly)
//! stores NULL there, so each such order is still applied once.

use std::time::Duration;

use chrono::{NaiveDateTime, Utc};
use mysql_async::prelude::Queryable;
use mysql_async::{Pool, Transaction};
use stockflow_contracts::RestockRequestId;
use stockflow_contracts::events::StockArrival;
use stockflow_kit::db;
use uuid::Uuid;

#[derive(Debug, PartialEq)]
pub enum Applied {
    /// Stock increased now; the restock request (if known) was opened this long ago.
    Restocked { since_requested: Option<Duration> },
    /// This production order was applied before: nothing changed.
    Duplicate,
    /// No such product in the warehouse.
    UnknownSku,
    /// Another production order had fulfilled this order's restock request: no stock was
    /// added, and the arrival is recorded in `surplus_arrivals`.
    Surplus(Surplus),
}

/// A production order for a restock request that another order fulfilled: what was
/// recorded in `surplus_arrivals`, and whether ops still has to hear of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Surplus {
    pub production_order_id: Uuid,
    /// The request another order fulfilled (only an order naming one can be a surplus).
    pub restock_request_id: RestockRequestId,
    /// The production order that had fulfilled the request.
    pub fulfilled_by: Option<Uuid>,
    pub sku: String,
    /// Units that arrived and were not added.
    pub quantity: u32,
    /// Recorded by this delivery (false: a redelivery of an arrival recorded before).
    pub newly_recorded: bool,
    /// Whether the ops alert about it is still to be sent ([`mark_alerted`] once it was).
    pub alert_pending: bool,
}

/// Applies the production order a `stock_arrival` announces.
pub async fn apply(pool: &Pool, order: &StockArrival) -> Result<Applied, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    let mut tx = conn.start_transaction(db::tx_opts()).await?;
    let order_id = order.production_order_id.to_string();
    // An order placed without a restock request (not by stock-worker) fulfils none: NULL.
    let request_id = order.restock_request_id.map(|id| id.to_string());
    let recorded = tx
        .exec_drop(
            "INSERT INTO applied_production_orders (production_order_id, restock_request_id, sku, quantity) VALUES (?, ?, ?, ?)",
            (&order_id, &request_id, &order.sku, order.quantity),
        )
        .await;
    match recorded {
        Err(err) if db::is_duplicate_key(&err) => {
            let outcome = already_applied_or_surplus(&mut tx, order, &order_id).await?;
            tx.commit().await?;
            return Ok(outcome);
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
    let requested_at: Option<NaiveDateTime> = tx
        .exec_first("SELECT requested_at FROM restock_requests WHERE id = ?", (&request_id,))
        .await?;
    tx.commit().await?;
    let since_requested = requested_at.and_then(|at| (Utc::now().naive_utc() - at).to_std().ok());
    Ok(Applied::Restocked { since_requested })
}

/// The insert hit a key: either this very order was applied before (its id), or another
/// order holds its request (the request key), which makes this one a surplus arrival.
async fn already_applied_or_surplus(
    tx: &mut Transaction<'_>,
    order: &StockArrival,
    order_id: &str,
) -> Result<Applied, mysql_async::Error> {
    // NULLs never collide on the request key: an order naming no request hit its own id.
    let Some(restock_request_id) = order.restock_request_id else {
        return Ok(Applied::Duplicate);
    };
    // A locking read sees the latest committed row, whoever committed it.
    let holder: Option<String> = tx
        .exec_first(
            "SELECT production_order_id FROM applied_production_orders \
             WHERE production_order_id = ? OR restock_request_id = ? ORDER BY production_order_id = ? DESC LIMIT 1 FOR UPDATE",
            (order_id, restock_request_id.to_string(), order_id),
        )
        .await?;
    if holder.as_deref() == Some(order_id) {
        return Ok(Applied::Duplicate);
    }
    let inserted = tx
        .exec_drop(
            "INSERT INTO surplus_arrivals (production_order_id, restock_request_id, sku, quantity, fulfilled_by, ordered_at, produced_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                order_id,
                restock_request_id.to_string(),
                &order.sku,
                order.quantity,
                &holder,
                order.ordered_at.naive_utc(),
                order.produced_at.naive_utc(),
            ),
        )
        .await;
    let newly_recorded = match inserted {
        Ok(()) => true,
        Err(err) if db::is_duplicate_key(&err) => false,
        Err(err) => return Err(err),
    };
    let alerted: Option<Option<NaiveDateTime>> = tx
        .exec_first(
            "SELECT alerted_at FROM surplus_arrivals WHERE production_order_id = ?",
            (order_id,),
        )
        .await?;
    Ok(Applied::Surplus(Surplus {
        production_order_id: order.production_order_id,
        restock_request_id,
        fulfilled_by: holder.and_then(|id| id.parse().ok()),
        sku: order.sku.clone(),
        quantity: order.quantity,
        newly_recorded,
        alert_pending: alerted.flatten().is_none(),
    }))
}

/// Records that the ops alert about a surplus arrival was published.
pub async fn mark_alerted(pool: &Pool, production_order_id: Uuid) -> Result<(), mysql_async::Error> {
    pool.get_conn()
        .await?
        .exec_drop(
            "UPDATE surplus_arrivals SET alerted_at = CURRENT_TIMESTAMP(6) \
             WHERE production_order_id = ? AND alerted_at IS NULL",
            (production_order_id.to_string(),),
        )
        .await
}

/// A person's decision on a surplus arrival.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// The goods stay: they are added to stock (as an order of no restock request).
    Kept,
    /// The goods go back: stock is unchanged.
    Returned,
}

impl Settlement {
    /// The name stored in `surplus_arrivals.settlement`.
    pub fn as_str(self) -> &'static str {
        match self {
            Settlement::Kept => "kept",
            Settlement::Returned => "returned",
        }
    }
}

/// What settling a surplus arrival did.
#[derive(Debug, PartialEq)]
pub enum Settled {
    Now,
    /// Settled before, this way: nothing changed.
    Already(String),
    /// No surplus arrival has this production order id.
    NotFound,
}

/// Settles a surplus arrival once: keeping it applies its goods to stock in the same
/// transaction (recorded as an applied order of no request, so the books balance).
pub async fn settle(
    pool: &Pool,
    production_order_id: &str,
    settlement: Settlement,
) -> Result<Settled, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    let mut tx = conn.start_transaction(db::tx_opts()).await?;
    let row: Option<(String, u32, Option<String>)> = tx
        .exec_first(
            "SELECT sku, quantity, settlement FROM surplus_arrivals WHERE production_order_id = ? FOR UPDATE",
            (production_order_id,),
        )
        .await?;
    let Some((sku, quantity, settled)) = row else {
        return Ok(Settled::NotFound);
    };
    if let Some(settled) = settled {
        return Ok(Settled::Already(settled));
    }
    if settlement == Settlement::Kept {
        tx.exec_drop(
            "INSERT INTO applied_production_orders (production_order_id, restock_request_id, sku, quantity) VALUES (?, NULL, ?, ?)",
            (production_order_id, &sku, quantity),
        )
        .await?;
        tx.exec_drop("UPDATE products SET stock = stock + ? WHERE sku = ?", (quantity, &sku))
            .await?;
    }
    tx.exec_drop(
        "UPDATE surplus_arrivals SET settlement = ?, settled_at = CURRENT_TIMESTAMP(6) WHERE production_order_id = ?",
        (settlement.as_str(), production_order_id),
    )
    .await?;
    tx.commit().await?;
    Ok(Settled::Now)
}
