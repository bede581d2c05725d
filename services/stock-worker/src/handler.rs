//! What stock-worker does with one `stock_empty` message.

use stockflow_shared::consumer::{Delivery, Handler, Outcome};
use stockflow_shared::events::StockEmpty;

use crate::factory_client::{FactoryAnswer, FactoryClient};

pub struct OrderFromFactory {
    factory: FactoryClient,
}

impl OrderFromFactory {
    pub fn new(factory: FactoryClient) -> Self {
        Self { factory }
    }
}

impl Handler for OrderFromFactory {
    async fn handle(&self, delivery: &Delivery) -> Outcome {
        let event: StockEmpty = match serde_json::from_str(&delivery.body) {
            Ok(event) => event,
            Err(err) => return Outcome::Reject(format!("malformed stock_empty message: {err}")),
        };
        match self.factory.order(&event, &delivery.correlation_id).await {
            FactoryAnswer::Accepted { production_order_id } => {
                tracing::info!(sku = %event.sku, restock_request_id = %event.restock_request_id, %production_order_id, quantity = event.quantity, "ordered from the factory");
                Outcome::Done
            }
            FactoryAnswer::Refused { status, body } => {
                Outcome::Reject(format!("factory refused the order with {status}: {body}"))
            }
            FactoryAnswer::Unavailable(err) => Outcome::Retry(err),
            FactoryAnswer::Unsendable(reason) => {
                Outcome::Reject(format!("cannot order this restock from the factory: {reason}"))
            }
        }
    }
}
