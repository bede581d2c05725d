//! The warehouse queries of the Sales API: reading products and the checkout
//! transaction. All SQL uses bound parameters.

use chrono::{DateTime, Utc};
use mysql_async::prelude::Queryable;
use mysql_async::{Pool, Transaction};
use serde::Serialize;
use stockflow_shared::contracts::RestockRequestId;
use stockflow_shared::db;
use stockflow_shared::events::StockEmpty;
use stockflow_shared::outbox::{self, Enqueued};

use crate::answer;
use crate::domain::{CheckoutRequest, IdempotencyKey, Sku};

/// A product as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"sku": "CP-502101", "name": "부산도너츠", "price": 19900, "stock": 3, "factory_id": "FF-500293", "restock": null}))]
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
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OpenRestock {
    pub id: String,
    pub quantity: i64,
    /// Failed purchases that joined this request.
    pub shortages: i64,
    pub requested_at: DateTime<Utc>,
}

/// The result of a checkout.
#[derive(Debug)]
pub enum Checkout {
    Sold {
        order_id: u64,
        remaining_stock: i64,
    },
    /// Out of stock: the restock request now open for the sku; `event` is its
    /// `stock_empty` event if this purchase opened it (to publish after commit), `None`
    /// if it joined a request already open.
    OutOfStock {
        restock_request_id: String,
        event: Option<Enqueued>,
    },
    UnknownSku,
}

const PRODUCT_COLUMNS: &str =
    "p.sku, p.name, p.price, p.stock, p.factory_id, r.id, r.quantity, r.shortages, r.requested_at";

type ProductRow = (
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

fn product_from_row(
    (sku, name, price, stock, factory_id, restock_id, quantity, shortages, requested_at): ProductRow,
) -> Product {
    let restock = restock_id.map(|id| OpenRestock {
        id,
        quantity: quantity.unwrap_or_default(),
        shortages: shortages.unwrap_or_default(),
        requested_at: requested_at.map(|t| t.and_utc()).unwrap_or_default(),
    });
    Product {
        sku,
        name,
        price,
        stock,
        factory_id,
        restock,
    }
}

pub async fn list_products(pool: &Pool) -> anyhow::Result<Vec<Product>> {
    let mut conn = pool.get_conn().await?;
    let rows: Vec<ProductRow> = conn
        .query(format!(
            "SELECT {PRODUCT_COLUMNS} FROM products p LEFT JOIN restock_requests r ON r.open_sku = p.sku ORDER BY p.sku"
        ))
        .await?;
    Ok(rows.into_iter().map(product_from_row).collect())
}

pub async fn product(pool: &Pool, sku: &Sku) -> anyhow::Result<Option<Product>> {
    let mut conn = pool.get_conn().await?;
    let row: Option<ProductRow> = conn
        .exec_first(
            format!("SELECT {PRODUCT_COLUMNS} FROM products p LEFT JOIN restock_requests r ON r.open_sku = p.sku WHERE p.sku = ?"),
            (sku.as_str(),),
        )
        .await?;
    Ok(row.map(product_from_row))
}

/// How often a checkout transaction the server chose as a deadlock victim is tried.
const MAX_ATTEMPTS: u32 = 5;

/// A checkout as recorded: done now, or answered before under the same key.
#[derive(Debug)]
pub enum Recorded {
    Fresh(Checkout),
    /// The key was used before with the same request: its first answer.
    Replay {
        status: u16,
        body: String,
    },
    /// The key was used before with a different request.
    KeyReused,
}

/// Sells atomically, or records the shortage; with an idempotency key, records the
/// answer in the same transaction, or replays the one recorded before. Retries a
/// transaction the server chose as a deadlock victim.
pub async fn checkout(
    pool: &Pool,
    request: &CheckoutRequest,
    correlation_id: &str,
    key: Option<&IdempotencyKey>,
) -> Result<Recorded, mysql_async::Error> {
    let mut attempt = 1;
    loop {
        match checkout_once(pool, request, correlation_id, key).await {
            Err(err) if attempt < MAX_ATTEMPTS && db::is_retryable(&err) => {
                tracing::warn!(error = %err, attempt, "checkout transaction conflicted; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(5 * u64::from(attempt))).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

async fn checkout_once(
    pool: &Pool,
    request: &CheckoutRequest,
    correlation_id: &str,
    key: Option<&IdempotencyKey>,
) -> Result<Recorded, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    let mut tx = conn.start_transaction(db::tx_opts()).await?;
    if let Some(key) = key {
        // A concurrent request with the same key waits here until the first commits.
        if !claim_key(&mut tx, key, request).await? {
            tx.rollback().await?;
            return recorded_answer(&mut conn, key, request).await;
        }
    }
    let outcome = sell_or_record_shortage(&mut tx, request, correlation_id).await?;
    match (key, answer::of(&outcome, request)) {
        (Some(key), Some((status, body))) => {
            tx.exec_drop(
                "UPDATE idempotency_keys SET status = ?, response = ? WHERE idempotency_key = ?",
                (status, &body, key.as_str()),
            )
            .await?;
            tx.commit().await?;
        }
        (_, None) => tx.rollback().await?, // unknown sku: nothing to keep
        (None, Some(_)) => tx.commit().await?,
    }
    Ok(Recorded::Fresh(outcome))
}

/// Inserts the key; false if it exists (after an expired one is replaced).
async fn claim_key(
    tx: &mut Transaction<'_>,
    key: &IdempotencyKey,
    request: &CheckoutRequest,
) -> Result<bool, mysql_async::Error> {
    tx.exec_drop(
        "DELETE FROM idempotency_keys WHERE idempotency_key = ? AND created_at < CURRENT_TIMESTAMP(6) - INTERVAL ? HOUR",
        (key.as_str(), IdempotencyKey::TTL_HOURS),
    )
    .await?;
    let inserted = tx
        .exec_drop(
            "INSERT INTO idempotency_keys (idempotency_key, request, status, response) VALUES (?, ?, 0, '')",
            (key.as_str(), request.fingerprint()),
        )
        .await;
    match inserted {
        Ok(()) => Ok(true),
        Err(mysql_async::Error::Server(err)) if err.code == 1062 => Ok(false),
        Err(err) => Err(err),
    }
}

async fn recorded_answer(
    conn: &mut mysql_async::Conn,
    key: &IdempotencyKey,
    request: &CheckoutRequest,
) -> Result<Recorded, mysql_async::Error> {
    let row: Option<(String, u16, String)> = conn
        .exec_first(
            "SELECT request, status, response FROM idempotency_keys WHERE idempotency_key = ?",
            (key.as_str(),),
        )
        .await?;
    Ok(match row {
        Some((fingerprint, status, body)) if fingerprint == request.fingerprint() => Recorded::Replay { status, body },
        _ => Recorded::KeyReused,
    })
}

/// Deletes keys older than their time to live.
pub async fn prune_idempotency_keys(pool: &Pool) -> Result<(), mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    conn.exec_drop(
        "DELETE FROM idempotency_keys WHERE created_at < CURRENT_TIMESTAMP(6) - INTERVAL ? HOUR LIMIT 10000",
        (IdempotencyKey::TTL_HOURS,),
    )
    .await
}

async fn sell_or_record_shortage(
    tx: &mut Transaction<'_>,
    request: &CheckoutRequest,
    correlation_id: &str,
) -> Result<Checkout, mysql_async::Error> {
    let sku = request.sku.as_str();
    let quantity = request.quantity.get();
    loop {
        if let Some(sold) = try_sell(tx, request, correlation_id).await? {
            return Ok(sold);
        }
        if let Some(joined) = join_open_request(tx, sku).await? {
            return Ok(joined);
        }
        // No restock request open (or no such sku): lock the product row and its open
        // restock request, if any, in one statement, then decide. The product row's lock
        // serializes the opening of a request with every restock of the sku.
        let product: Option<(i64, i64, String, Option<String>)> = tx
            .exec_first(
                "SELECT p.stock, p.reorder_quantity, p.factory_id, r.id FROM products p \
                 LEFT JOIN restock_requests r ON r.open_sku = p.sku WHERE p.sku = ? FOR UPDATE",
                (sku,),
            )
            .await?;
        let Some((stock, reorder_quantity, factory_id, open_request)) = product else {
            return Ok(Checkout::UnknownSku);
        };
        if stock >= i64::from(quantity) {
            // Restocked between the two statements: sell after all.
            continue;
        }
        let shortfall = i64::from(quantity) - stock;
        return record_shortage(
            tx,
            request,
            correlation_id,
            open_request,
            reorder_quantity.max(shortfall),
            &factory_id,
        )
        .await;
    }
}

/// The conditional decrement: sells only if enough stock is there, in one statement.
async fn try_sell(
    tx: &mut Transaction<'_>,
    request: &CheckoutRequest,
    correlation_id: &str,
) -> Result<Option<Checkout>, mysql_async::Error> {
    let sku = request.sku.as_str();
    let quantity = request.quantity.get();
    tx.exec_drop(
        "UPDATE products SET stock = stock - ? WHERE sku = ? AND stock >= ?",
        (quantity, sku, quantity),
    )
    .await?;
    if tx.affected_rows() != 1 {
        return Ok(None);
    }
    tx.exec_drop(
        "INSERT INTO orders (sku, quantity, requester, correlation_id) VALUES (?, ?, ?, ?)",
        (sku, quantity, &request.requester, correlation_id),
    )
    .await?;
    let order_id = tx.last_insert_id().unwrap_or_default();
    let remaining_stock: Option<i64> = tx
        .exec_first("SELECT stock FROM products WHERE sku = ?", (sku,))
        .await?;
    Ok(Some(Checkout::Sold {
        order_id,
        remaining_stock: remaining_stock.unwrap_or_default(),
    }))
}

/// Out of stock with a restock request already open (a sold-out flash sale): joins it,
/// locking only that request's row, so that shortages queue neither behind sales nor
/// behind the restock on the product row. `None` when no request is open, or when it
/// was fulfilled (stock arrived) between the read and the update.
async fn join_open_request(tx: &mut Transaction<'_>, sku: &str) -> Result<Option<Checkout>, mysql_async::Error> {
    let open: Option<String> = tx
        .exec_first("SELECT id FROM restock_requests WHERE open_sku = ?", (sku,))
        .await?;
    let Some(id) = open else {
        return Ok(None);
    };
    tx.exec_drop(
        "UPDATE restock_requests SET shortages = shortages + 1 WHERE id = ? AND open_sku IS NOT NULL",
        (&id,),
    )
    .await?;
    Ok((tx.affected_rows() == 1).then_some(Checkout::OutOfStock {
        restock_request_id: id,
        event: None,
    }))
}

/// Joins the open restock request of the sku, or opens one and enqueues its
/// `stock_empty` event, in the caller's transaction (the product row is locked).
async fn record_shortage(
    tx: &mut Transaction<'_>,
    request: &CheckoutRequest,
    correlation_id: &str,
    open_request: Option<String>,
    order_quantity: i64,
    factory_id: &str,
) -> Result<Checkout, mysql_async::Error> {
    let sku = request.sku.as_str();
    if let Some(id) = open_request {
        tx.exec_drop(
            "UPDATE restock_requests SET shortages = shortages + 1 WHERE id = ?",
            (&id,),
        )
        .await?;
        return Ok(Checkout::OutOfStock {
            restock_request_id: id,
            event: None,
        });
    }
    let id = RestockRequestId::new();
    let requested_at = Utc::now();
    tx.exec_drop(
        "INSERT INTO restock_requests (id, sku, quantity, factory_id, requester, open_sku, correlation_id, requested_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (id.to_string(), sku, order_quantity, factory_id, &request.requester, sku, correlation_id, requested_at.naive_utc()),
    )
    .await?;
    let event = StockEmpty {
        restock_request_id: id,
        sku: sku.to_string(),
        quantity: order_quantity as u32,
        factory_id: factory_id.to_string(),
        requester: request.requester.clone(),
        requested_at,
    };
    let enqueued = outbox::enqueue(tx, &event, &id.to_string(), correlation_id)
        .await
        .map_err(|err| mysql_async::Error::Other(err.into()))?;
    Ok(Checkout::OutOfStock {
        restock_request_id: id.to_string(),
        event: Some(enqueued),
    })
}
