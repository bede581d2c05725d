//! Checkout: sell atomically, or record the shortage and its restock request.
//!
//! Concurrent checkouts are combined into shared transactions ([`Checkouts`]): while a
//! lane's transaction is in flight, arriving purchases queue, and the next transaction
//! takes all that queued, up to a cap. No timer is involved, so a lone purchase is never
//! delayed. Each purchase still gets its own outcome, recorded in the database before it
//! is returned; if a combined transaction fails, every purchase in it gets the error.
//! A cap of 1 is one transaction per purchase.

mod batch;
mod lanes;
mod sql_text;
mod statements;

use serde::{Deserialize, Serialize};
use stockflow_contracts::{IdempotencyKey, RestockRequestId};

use crate::{Quantity, Sku};

pub use batch::{Committed, transact};
pub use lanes::{BatchStats, CheckoutError, Checkouts, CombineSettings, lane_of};

/// One purchase, as validated by the caller.
#[derive(Debug, Clone)]
pub struct Purchase {
    pub sku: Sku,
    pub quantity: Quantity,
    pub requester: String,
    /// Follows the purchase into its order row and its events.
    pub correlation_id: String,
    /// With an idempotency key: a repeat of the same request replays the first outcome.
    pub key: Option<KeyedRequest>,
}

/// An idempotency key and what makes two requests the same for it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyedRequest {
    pub key: IdempotencyKey,
    pub fingerprint: String,
}

/// What a checkout did: the domain outcome, rendered by the caller.
///
/// Stored for idempotency replays as JSON tagged by `status` (`sold`, `out_of_stock`):
/// the answer bodies recorded by earlier versions read back as the same outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CheckoutOutcome {
    Sold {
        order_id: u64,
        /// Stock left right after this purchase.
        remaining_stock: i64,
    },
    /// Not enough stock: the restock request open for the sku (opened or joined).
    OutOfStock {
        restock_request_id: RestockRequestId,
        /// This purchase opened the request (its `stock_empty` event is on its way);
        /// not recorded for replays.
        #[serde(default, skip_serializing)]
        opened: bool,
    },
    UnknownSku,
}

/// A checkout as recorded: done now, or done before under the same idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    Fresh(CheckoutOutcome),
    /// The key was used before with the same request: its first outcome.
    Replay(CheckoutOutcome),
    /// The key was used before with a different request.
    KeyReused,
}
