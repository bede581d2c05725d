//! The factory's database: production orders and their completion.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Pool};
use stockflow_contracts::IdempotencyKey;
use stockflow_contracts::events::StockArrival;
use stockflow_contracts::factory::ManufactureRequest;
use stockflow_kit::db;
use stockflow_messaging::outbox::{self, Enqueued};
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct ProductionOrder {
    pub id: Uuid,
    pub message_group_id: String,
    pub product_id: String,
    pub quantity: u32,
    pub factory_id: String,
    pub requester: String,
    pub request: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub ready_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "id, message_group_id, product_id, quantity, factory_id, requester, request, created_at, ready_at, completed_at";

type Row = (
    String,
    String,
    String,
    u32,
    String,
    String,
    String,
    NaiveDateTime,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

fn from_row(
    (id, message_group_id, product_id, quantity, factory_id, requester, request, created_at, ready_at, completed_at): Row,
) -> ProductionOrder {
    ProductionOrder {
        id: Uuid::parse_str(&id).unwrap_or_default(),
        message_group_id,
        product_id,
        quantity,
        factory_id,
        requester,
        request: serde_json::from_str(&request).unwrap_or_default(),
        created_at: created_at.and_utc(),
        ready_at: ready_at.and_utc(),
        completed_at: completed_at.map(|t| t.and_utc()),
    }
}

/// Records a production order (`raw` is the body as received, echoed in replies), or
/// returns the one already recorded under the same idempotency key (`created` tells which).
pub async fn create(
    pool: &Pool,
    request: &ManufactureRequest,
    raw: &serde_json::Value,
    idempotency_key: Option<&IdempotencyKey>,
    correlation_id: &str,
    production_time: Duration,
) -> anyhow::Result<(ProductionOrder, bool)> {
    // One connection throughout: a request never holds two (no pool starvation).
    let idempotency_key = idempotency_key.map(IdempotencyKey::as_str);
    let mut conn = pool.get_conn().await?;
    if let Some(existing) = find_by_key(&mut conn, idempotency_key).await? {
        announce_again_if_completed(&mut conn, &existing).await?;
        return Ok((existing, false));
    }
    let id = Uuid::new_v4();
    let created_at = Utc::now();
    let ready_at = created_at + chrono::Duration::from_std(production_time)?;
    let inserted = conn
        .exec_drop(
            format!("INSERT INTO production_orders (idempotency_key, {COLUMNS}, callback_url, correlation_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)"),
            (
                idempotency_key,
                id.to_string(),
                request.message_group_id.as_deref().unwrap_or_default(),
                &request.product_id,
                request.quantity.get(),
                request.factory_id.as_deref().unwrap_or_default(),
                request.requester.as_deref().unwrap_or_default(),
                raw.to_string(),
                created_at.naive_utc(),
                ready_at.naive_utc(),
                &request.callback_url,
                correlation_id,
            ),
        )
        .await;
    match inserted {
        Ok(()) => Ok((
            find_on(&mut conn, id).await?.expect("the order was just inserted"),
            true,
        )),
        // Two requests with one key raced: the other one won.
        Err(err) if db::is_duplicate_key(&err) => {
            let existing = find_by_key(&mut conn, idempotency_key).await?;
            Ok((
                existing.ok_or_else(|| anyhow::anyhow!("duplicate key but no order found"))?,
                false,
            ))
        }
        Err(err) => Err(err.into()),
    }
}

pub async fn find(pool: &Pool, id: Uuid) -> anyhow::Result<Option<ProductionOrder>> {
    find_on(&mut pool.get_conn().await?, id).await
}

async fn find_on(conn: &mut Conn, id: Uuid) -> anyhow::Result<Option<ProductionOrder>> {
    let row: Option<Row> = conn
        .exec_first(
            format!("SELECT {COLUMNS} FROM production_orders WHERE id = ?"),
            (id.to_string(),),
        )
        .await?;
    Ok(row.map(from_row))
}

/// A repeated request for an order already completed: its `stock_arrival` is written to
/// the outbox again (the relay publishes it). The repeat means the requester has not seen
/// the order through (the completion was lost on the way, e.g. a broker that restarted
/// empty), and without a new completion its restock request would stay open for ever. The
/// warehouse applies a production order once, so a completion it already has is harmless.
async fn announce_again_if_completed(conn: &mut Conn, order: &ProductionOrder) -> anyhow::Result<()> {
    let Some(produced_at) = order.completed_at else {
        return Ok(()); // still in production: the production line announces it when done
    };
    let correlation_id: Option<String> = conn
        .exec_first(
            "SELECT correlation_id FROM production_orders WHERE id = ?",
            (order.id.to_string(),),
        )
        .await?;
    let event = StockArrival {
        production_order_id: order.id,
        restock_request_id: order.message_group_id.parse().ok(),
        sku: order.product_id.clone(),
        quantity: order.quantity,
        ordered_at: order.created_at,
        produced_at,
    };
    let mut tx = conn.start_transaction(db::tx_opts()).await?;
    outbox::enqueue(
        &mut tx,
        &event,
        &order.id.to_string(),
        &correlation_id.unwrap_or_default(),
    )
    .await?;
    tx.commit().await?;
    metrics::counter!("production_completions_announced_again_total").increment(1);
    tracing::info!(production_order_id = %order.id, "repeated request for a completed order: its completion is published again");
    Ok(())
}

async fn find_by_key(conn: &mut Conn, key: Option<&str>) -> anyhow::Result<Option<ProductionOrder>> {
    let Some(key) = key else { return Ok(None) };
    let row: Option<Row> = conn
        .exec_first(
            format!("SELECT {COLUMNS} FROM production_orders WHERE idempotency_key = ?"),
            (key,),
        )
        .await?;
    Ok(row.map(from_row))
}

/// Completes every order whose production time is over, each with its
/// `stock_arrival` event in the same transaction. Returns the committed events (to
/// publish) and how long until the next order is due.
pub async fn complete_due(pool: &Pool) -> anyhow::Result<(Vec<Enqueued>, Option<Duration>)> {
    let mut conn = pool.get_conn().await?;
    let mut tx = conn.start_transaction(db::tx_opts()).await?;
    let due: Vec<(String, String, String, u32, NaiveDateTime, String)> = tx
        .exec(
            "SELECT id, message_group_id, product_id, quantity, created_at, correlation_id FROM production_orders \
             WHERE completed_at IS NULL AND ready_at <= ? ORDER BY ready_at LIMIT 100 FOR UPDATE SKIP LOCKED",
            (Utc::now().naive_utc(),),
        )
        .await?;
    let mut completed = Vec::with_capacity(due.len());
    for (id, message_group_id, product_id, quantity, created_at, correlation_id) in due {
        let produced_at = Utc::now();
        tx.exec_drop(
            "UPDATE production_orders SET completed_at = ? WHERE id = ?",
            (produced_at.naive_utc(), &id),
        )
        .await?;
        let event = StockArrival {
            production_order_id: Uuid::parse_str(&id)?,
            // stock-worker's orders carry a restock request id; anyone else's may not
            restock_request_id: message_group_id.parse().ok(),
            sku: product_id,
            quantity,
            ordered_at: created_at.and_utc(),
            produced_at,
        };
        completed.push(outbox::enqueue(&mut tx, &event, &id, &correlation_id).await?);
    }
    let next: Option<NaiveDateTime> = tx
        .query_first("SELECT MIN(ready_at) FROM production_orders WHERE completed_at IS NULL")
        .await?
        .flatten();
    tx.commit().await?;
    let until_next = next.map(|at| (at.and_utc() - Utc::now()).to_std().unwrap_or_default());
    Ok((completed, until_next))
}
