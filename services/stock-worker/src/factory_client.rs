//! The Factory API client: places a production order with the legacy body, written and
//! read with the contract's types (`stockflow_contracts::factory`), the ones the
//! factory's handler and its OpenAPI document use.

use std::time::Duration;

use anyhow::Context;
use stockflow_contracts::events::StockEmpty;
use stockflow_contracts::factory::{MANUFACTURES_PATH, ManufactureCreated, ManufactureRequest, ProductCount};
use stockflow_contracts::idempotency_key::HEADER as IDEMPOTENCY_KEY;
use uuid::Uuid;

/// What the factory said.
#[derive(Debug)]
pub enum FactoryAnswer {
    /// 2xx: the order is placed (or was already placed under this key).
    Accepted { production_order_id: Uuid },
    /// 4xx: the factory refuses this request; sending it again will not help.
    Refused { status: u16, body: String },
    /// 5xx, a timeout or no connection: worth trying again later.
    Unavailable(anyhow::Error),
    /// Not sent: the event asks for what the contract does not allow (e.g. a quantity
    /// over the factory's limit); sending it again will not help.
    Unsendable(String),
}

pub struct FactoryClient {
    http: reqwest::Client,
    orders_url: String,
    callback_url: String,
}

impl FactoryClient {
    pub fn new(base_url: &str, timeout: Duration, callback_url: String) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(2)))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self {
            http,
            orders_url: format!("{}{MANUFACTURES_PATH}", base_url.trim_end_matches('/')),
            callback_url,
        })
    }

    pub async fn order(&self, event: &StockEmpty, correlation_id: &str) -> FactoryAnswer {
        let started = std::time::Instant::now();
        let answer = self.call(event, correlation_id).await;
        let outcome = match &answer {
            FactoryAnswer::Accepted { .. } => "accepted",
            FactoryAnswer::Refused { .. } => "refused",
            FactoryAnswer::Unavailable(_) => "unavailable",
            FactoryAnswer::Unsendable(_) => "unsendable",
        };
        metrics::histogram!("factory_call_duration_seconds", "outcome" => outcome)
            .record(started.elapsed().as_secs_f64());
        answer
    }

    /// The factory's request for a restock: the restock request id is its
    /// `MessageGroupId` (it comes back in `stock_arrival`) and its `Idempotency-Key`.
    fn request(&self, event: &StockEmpty) -> Result<ManufactureRequest, String> {
        let quantity = ProductCount::new(i64::from(event.quantity)).map_err(|err| err.to_string())?;
        Ok(ManufactureRequest {
            message_group_id: Some(event.restock_request_id.to_string()),
            product_id: event.sku.clone(),
            quantity,
            factory_id: Some(event.factory_id.clone()).filter(|id| !id.is_empty()),
            requester: Some(event.requester.clone()).filter(|name| !name.is_empty()),
            callback_url: Some(self.callback_url.clone()).filter(|url| !url.is_empty()),
        })
    }

    async fn call(&self, event: &StockEmpty, correlation_id: &str) -> FactoryAnswer {
        let body = match self.request(event) {
            Ok(body) => body,
            Err(reason) => return FactoryAnswer::Unsendable(reason),
        };
        let sent = self
            .http
            .post(&self.orders_url)
            .header(IDEMPOTENCY_KEY, event.restock_request_id.to_string())
            .header("X-Request-Id", correlation_id)
            .json(&body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(err) => {
                return FactoryAnswer::Unavailable(
                    anyhow::Error::new(err).context(format!("calling {} failed", self.orders_url)),
                );
            }
        };
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status.is_success() {
            // A reply outside the contract is retried: the key makes the factory answer
            // with the same order, and a factory that keeps breaking the contract ends in
            // the DLQ with this reason.
            match serde_json::from_str::<ManufactureCreated<serde::de::IgnoredAny>>(&text) {
                Ok(created) => FactoryAnswer::Accepted {
                    production_order_id: created.data.id,
                },
                Err(err) => FactoryAnswer::Unavailable(anyhow::anyhow!(
                    "factory answered {status} with a body outside the contract ({err}): {}",
                    text.chars().take(200).collect::<String>()
                )),
            }
        } else if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
            FactoryAnswer::Refused {
                status: status.as_u16(),
                body: text.chars().take(500).collect(),
            }
        } else {
            FactoryAnswer::Unavailable(anyhow::anyhow!(
                "factory answered {status}: {}",
                text.chars().take(200).collect::<String>()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use stockflow_contracts::RestockRequestId;

    use super::*;

    fn shortage(quantity: u32) -> StockEmpty {
        StockEmpty {
            restock_request_id: RestockRequestId::new(),
            sku: "CP-502101".into(),
            quantity,
            factory_id: "FF-500293".into(),
            requester: String::new(),
            requested_at: Default::default(),
        }
    }

    #[test]
    fn the_request_carries_the_restock_request_id_and_what_the_factory_reads_back() {
        let client = FactoryClient::new("http://127.0.0.1:1/", Duration::from_secs(1), String::new()).unwrap();
        assert_eq!(client.orders_url, "http://127.0.0.1:1/api/manufactures");
        let event = shortage(10);
        let request = client.request(&event).unwrap();
        assert_eq!(request.message_group_id, Some(event.restock_request_id.to_string()));
        assert_eq!(request.requester, None, "an empty requester is left out");
        let read: ManufactureRequest = serde_json::from_slice(&serde_json::to_vec(&request).unwrap()).unwrap();
        assert_eq!(read, request);
    }

    #[test]
    fn a_quantity_the_contract_cannot_express_is_not_sent() {
        let client = FactoryClient::new("http://127.0.0.1:1", Duration::from_secs(1), String::new()).unwrap();
        assert!(client.request(&shortage(0)).unwrap_err().contains("1 to 100000"));
        assert!(client.request(&shortage(100_001)).is_err());
    }
}
