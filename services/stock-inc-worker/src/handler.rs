//! What stock-inc-worker does with one `stock_arrival` message: apply it to the
//! warehouse (once per production order, at most one order per restock request) and say
//! whether SQS may forget it.
//!
//! A production order for a request another order fulfilled is not applied: the
//! warehouse records it and `surplus_alert` tells ops.

use mysql_async::Pool;
use stockflow_contracts::events::StockArrival;
use stockflow_messaging::consumer::{Delivery, Disposition, Handler};
use stockflow_messaging::publisher::Publisher;

use warehouse::restock::{self, Applied};

use crate::surplus_alert;

pub struct ApplyArrival {
    pool: Pool,
    alerts: Publisher,
}

impl ApplyArrival {
    pub fn new(pool: Pool, alerts: Publisher) -> Self {
        Self { pool, alerts }
    }
}

impl Handler for ApplyArrival {
    type Event = StockArrival;

    async fn handle(&self, arrival: StockArrival, delivery: &Delivery) -> Disposition {
        if arrival.quantity == 0 {
            return Disposition::Reject("stock_arrival with quantity 0".into());
        }
        match restock::apply(&self.pool, &arrival).await {
            Ok(Applied::Restocked { since_requested }) => {
                if let Some(end_to_end) = since_requested {
                    metrics::histogram!("restock_end_to_end_seconds").record(end_to_end.as_secs_f64());
                }
                tracing::info!(sku = %arrival.sku, quantity = arrival.quantity, production_order_id = %arrival.production_order_id, restock_request_id = arrival.restock_request_id.map(tracing::field::display), "restocked");
                Disposition::Done
            }
            Ok(Applied::Duplicate) => {
                tracing::info!(production_order_id = %arrival.production_order_id, "duplicate delivery: already applied, nothing changed");
                Disposition::Done
            }
            Ok(Applied::Surplus(surplus)) => surplus_alert::settle(&self.pool, &self.alerts, delivery, surplus).await,
            Ok(Applied::UnknownSku) => Disposition::Reject(format!(
                "unknown sku {:?}: no such product in the warehouse",
                arrival.sku
            )),
            Err(err) => Disposition::Retry(anyhow::Error::new(err).context("warehouse database error")),
        }
    }
}
