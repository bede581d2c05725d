//! Idempotency keys of checkouts, kept in the checkout's own transaction: a key is
//! claimed (inserted) before the purchase, its outcome saved before the commit, and a
//! repeat of the key reads that outcome back. A concurrent request with the same key
//! waits on the claim until the first commits. Keys live 24 hours.

use mysql_async::Transaction;
use mysql_async::prelude::Queryable;
use stockflow_kit::db;

use crate::checkout::{CheckoutOutcome, KeyedRequest, Recorded};

/// How long a key is remembered.
pub const TTL_HOURS: u32 = 24;

/// What claiming a key found.
pub(crate) enum Claim {
    /// The key is ours: the purchase goes ahead.
    Claimed,
    /// The key was used before: its recorded outcome, or a different request.
    Taken(Recorded),
}

/// Claims `keys` (sorted, so that two batches never wait on each other's keys in
/// opposite orders), after forgetting any of them that expired.
pub(crate) async fn claim(tx: &mut Transaction<'_>, keyed: &KeyedRequest) -> Result<Claim, mysql_async::Error> {
    tx.exec_drop(
        "DELETE FROM idempotency_keys WHERE idempotency_key = ? AND created_at < CURRENT_TIMESTAMP(6) - INTERVAL ? HOUR",
        (keyed.key.as_str(), TTL_HOURS),
    )
    .await?;
    let inserted = tx
        .exec_drop(
            "INSERT INTO idempotency_keys (idempotency_key, request, status, response) VALUES (?, ?, 0, '')",
            (keyed.key.as_str(), &keyed.fingerprint),
        )
        .await;
    match inserted {
        Ok(()) => Ok(Claim::Claimed),
        Err(err) if db::is_duplicate_key(&err) => Ok(Claim::Taken(recorded(tx, keyed).await?)),
        Err(err) => Err(err),
    }
}

/// The outcome recorded under a key that exists (committed by another transaction).
async fn recorded(tx: &mut Transaction<'_>, keyed: &KeyedRequest) -> Result<Recorded, mysql_async::Error> {
    let row: Option<(String, String)> = tx
        .exec_first(
            "SELECT request, response FROM idempotency_keys WHERE idempotency_key = ?",
            (keyed.key.as_str(),),
        )
        .await?;
    Ok(match row {
        Some((fingerprint, response)) if fingerprint == keyed.fingerprint => match serde_json::from_str(&response) {
            Ok(outcome) => Recorded::Replay(outcome),
            Err(err) => {
                return Err(mysql_async::Error::Other(
                    format!("unreadable recorded outcome: {err}").into(),
                ));
            }
        },
        _ => Recorded::KeyReused,
    })
}

/// Saves the outcome under a claimed key; an unknown sku is not kept (the key is
/// released, as if never used).
pub(crate) async fn save(
    tx: &mut Transaction<'_>,
    key: &str,
    outcome: &CheckoutOutcome,
) -> Result<(), mysql_async::Error> {
    if *outcome == CheckoutOutcome::UnknownSku {
        return tx
            .exec_drop("DELETE FROM idempotency_keys WHERE idempotency_key = ?", (key,))
            .await;
    }
    let response = serde_json::to_string(outcome).expect("outcomes serialize");
    tx.exec_drop(
        "UPDATE idempotency_keys SET status = 1, response = ? WHERE idempotency_key = ?",
        (response, key),
    )
    .await
}

/// Deletes keys older than their time to live (at most 10,000 per call).
pub async fn prune_expired_keys(pool: &mysql_async::Pool) -> Result<(), mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    conn.exec_drop(
        "DELETE FROM idempotency_keys WHERE created_at < CURRENT_TIMESTAMP(6) - INTERVAL ? HOUR LIMIT 10000",
        (TTL_HOURS,),
    )
    .await
}
