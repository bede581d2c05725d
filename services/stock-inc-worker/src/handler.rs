//! What stock-inc-worker does with one `stock_arrival` message: apply it to the
//! warehouse (once per production order, at most one order per restock request) and say
//! whether SQS may forget it.
//!
//! A production order for a request another order fulfilled is not applied: it is
//! recorded, counted (`stock_arrivals_surplus_total`) and sent to `ops_alerts` as a
//! `surplus_arrival` alert. The message is deleted only once that alert is published, so
//! the alert is never lost (a redelivery after a lost mark may send it twice).

use chrono::Utc;
use mysql_async::Pool;
use stockflow_contracts::events::{StockArrival, SurplusArrival};
use stockflow_messaging::consumer::{Delivery, Disposition, Handler};
use stockflow_messaging::publisher::Publisher;

use warehouse::restock::{self, Applied, Surplus};

pub struct ApplyArrival {
    pool: Pool,
    alerts: Publisher,
}

impl ApplyArrival {
    pub fn new(pool: Pool, alerts: Publisher) -> Self {
        Self { pool, alerts }
    }

    /// Counts a newly recorded surplus arrival and alerts ops unless that was done.
    async fn surplus(&self, delivery: &Delivery, arrival: &StockArrival, surplus: Surplus) -> Disposition {
        let Some(restock_request_id) = arrival.restock_request_id else {
            return Disposition::Retry(anyhow::anyhow!("a surplus arrival names no restock request"));
        };
        if surplus.newly_recorded {
            metrics::counter!("stock_arrivals_surplus_total").increment(1);
            tracing::warn!(sku = %arrival.sku, quantity = arrival.quantity, production_order_id = %arrival.production_order_id, restock_request_id = %restock_request_id, fulfilled_by = surplus.fulfilled_by.map(tracing::field::display), "a second production order for a fulfilled restock request: not applied, recorded for a person to settle");
        }
        if !surplus.alert_pending {
            return Disposition::Done;
        }
        let alert = SurplusArrival {
            production_order_id: arrival.production_order_id,
            restock_request_id,
            fulfilled_by: surplus.fulfilled_by,
            sku: arrival.sku.clone(),
            quantity: arrival.quantity,
            service: "stock-inc-worker".into(),
            correlation_id: Some(delivery.correlation_id.clone()),
            at: Utc::now(),
        };
        if let Err(err) = self.alerts.publish(&alert, &delivery.correlation_id).await {
            return Disposition::Retry(err.context("cannot alert ops of a surplus arrival; the message is retried"));
        }
        let order_id = arrival.production_order_id.to_string();
        if let Err(err) = restock::mark_alerted(&self.pool, &order_id).await {
            tracing::warn!(error = %err, production_order_id = %order_id, "the surplus alert was sent but not marked; a redelivery may send it again");
        }
        Disposition::Done
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
            Ok(Applied::Surplus(surplus)) => self.surplus(delivery, &arrival, surplus).await,
            Ok(Applied::UnknownSku) => Disposition::Reject(format!(
                "unknown sku {:?}: no such product in the warehouse",
                arrival.sku
            )),
            Err(err) => Disposition::Retry(anyhow::Error::new(err).context("warehouse database error")),
        }
    }
}
