//! "Nothing forgotten", the warehouse's part: restock requests still open past a bound
//! get their `stock_empty` event written to the outbox again (the relay publishes it).
//! At most one new event per open request per bound, however many replicas run: the
//! request row is claimed with `FOR UPDATE SKIP LOCKED` and the check for a recent event
//! is made under that lock.

use std::time::Duration;

use chrono::{NaiveDateTime, Utc};
use mysql_async::Pool;
use mysql_async::prelude::Queryable;
use stockflow_contracts::RestockRequestId;
use stockflow_contracts::events::StockEmpty;
use stockflow_kit::db;
use stockflow_messaging::outbox;

/// How many overdue requests one pass re-enqueues at most.
const BATCH: u32 = 100;

/// Open longer than the bound, and none of its events pending or published within it
/// (two bound parameters, in microseconds).
const OVERDUE: &str = "r.open_sku IS NOT NULL \
     AND r.requested_at < CURRENT_TIMESTAMP(6) - INTERVAL ? MICROSECOND \
     AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.aggregate_id = r.id \
         AND (o.published_at IS NULL OR o.published_at > CURRENT_TIMESTAMP(6) - INTERVAL ? MICROSECOND))";

/// An open restock request overdue for a new event: id, sku, quantity, factory,
/// requester, correlation id, requested at.
type Overdue = (String, String, i64, String, String, String, NaiveDateTime);

/// Re-enqueues the event of every request open longer than `bound` whose last event is
/// older than `bound`, in one transaction; returns how many.
pub async fn overdue_events(pool: &Pool, bound: Duration) -> anyhow::Result<usize> {
    let micros = bound.as_micros() as u64;
    let mut conn = pool.get_conn().await?;
    // A plain read first: which requests look overdue (no lock taken).
    let candidates: Vec<String> = conn
        .exec(
            format!("SELECT r.id FROM restock_requests r WHERE {OVERDUE} ORDER BY r.requested_at LIMIT ?"),
            (micros, micros, BATCH),
        )
        .await?;
    if candidates.is_empty() {
        return Ok(0);
    }
    let mut tx = conn.start_transaction(db::tx_opts()).await?;
    let mut count = 0;
    for id in candidates {
        // Claim the request (another replica holding it is skipped), then check again
        // under the lock: what another replica committed meanwhile is seen now.
        let claimed: Option<Overdue> = tx
            .exec_first(
                "SELECT r.id, r.sku, r.quantity, r.factory_id, r.requester, r.correlation_id, r.requested_at \
                 FROM restock_requests r WHERE r.id = ? FOR UPDATE SKIP LOCKED",
                (&id,),
            )
            .await?;
        let still_overdue: Option<String> = tx
            .exec_first(
                format!("SELECT r.id FROM restock_requests r WHERE r.id = ? AND {OVERDUE}"),
                (&id, micros, micros),
            )
            .await?;
        let (Some(row), Some(_)) = (claimed, still_overdue) else {
            continue;
        };
        let (id, sku, quantity, factory_id, requester, correlation_id, requested_at) = row;
        let event = StockEmpty {
            restock_request_id: id.parse::<RestockRequestId>()?,
            sku,
            quantity: u32::try_from(quantity)?,
            factory_id,
            requester,
            requested_at: requested_at.and_utc(),
        };
        outbox::enqueue(&mut tx, &event, &id, &correlation_id).await?;
        count += 1;
        tracing::info!(
            restock_request_id = %id,
            open_for_seconds = (Utc::now() - event.requested_at).num_seconds(),
            "restock request still open: stock_empty enqueued again"
        );
    }
    tx.commit().await?;
    Ok(count)
}
