//! The Factory API client: places a production order with the legacy body.

use std::time::Duration;

use anyhow::Context;
use serde_json::json;
use stockflow_shared::events::StockEmpty;

/// What the factory said.
#[derive(Debug)]
pub enum FactoryAnswer {
    /// 2xx: the order is placed (or was already placed under this key).
    Accepted { production_order_id: String },
    /// 4xx: the factory refuses this request; sending it again will not help.
    Refused { status: u16, body: String },
    /// 5xx, a timeout or no connection: worth trying again later.
    Unavailable(anyhow::Error),
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
            orders_url: format!("{}/api/manufactures", base_url.trim_end_matches('/')),
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
        };
        metrics::histogram!("factory_call_duration_seconds", "outcome" => outcome)
            .record(started.elapsed().as_secs_f64());
        answer
    }

    async fn call(&self, event: &StockEmpty, correlation_id: &str) -> FactoryAnswer {
        let body = json!({
            "MessageGroupId": event.restock_request_id,
            "MessageAttributeProductId": event.sku,
            "MessageAttributeProductCnt": event.quantity,
            "MessageAttributeFactoryId": event.factory_id,
            "MessageAttributeRequester": event.requester,
            "CallbackUrl": self.callback_url,
        });
        let sent = self
            .http
            .post(&self.orders_url)
            .header("Idempotency-Key", event.restock_request_id.to_string())
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
            let id = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["data"]["id"].as_str().map(str::to_string))
                .unwrap_or_default();
            FactoryAnswer::Accepted {
                production_order_id: id,
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
