//! What stock-inc-worker does with one `stock_arrival` message: apply it to the
//! warehouse (once per production order) and say whether SQS may forget it.

use mysql_async::Pool;
use stockflow_shared::consumer::{Delivery, Handler, Outcome};
use stockflow_shared::events::StockArrival;

use warehouse::restock::{self, Applied};

pub struct ApplyArrival {
    pool: Pool,
}

impl ApplyArrival {
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

impl Handler for ApplyArrival {
    async fn handle(&self, delivery: &Delivery) -> Outcome {
        let arrival: StockArrival = match serde_json::from_str(&delivery.body) {
            Ok(arrival) => arrival,
            Err(err) => return Outcome::Reject(format!("malformed stock_arrival message: {err}")),
        };
        if arrival.quantity == 0 {
            return Outcome::Reject("stock_arrival with quantity 0".into());
        }
        match restock::apply(&self.pool, &arrival).await {
            Ok(Applied::Restocked { since_requested }) => {
                if let Some(end_to_end) = since_requested {
                    metrics::histogram!("restock_end_to_end_seconds").record(end_to_end.as_secs_f64());
                }
                tracing::info!(sku = %arrival.sku, quantity = arrival.quantity, production_order_id = %arrival.production_order_id, restock_request_id = arrival.restock_request_id.map(tracing::field::display), "restocked");
                Outcome::Done
            }
            Ok(Applied::Duplicate) => {
                tracing::info!(production_order_id = %arrival.production_order_id, "duplicate delivery: already applied, nothing changed");
                Outcome::Done
            }
            Ok(Applied::UnknownSku) => Outcome::Reject(format!(
                "unknown sku {:?}: no such product in the warehouse",
                arrival.sku
            )),
            Err(err) => Outcome::Retry(anyhow::Error::new(err).context("warehouse database error")),
        }
    }
}
