//! Reading the alert inbox: receiving from `ops_alert_queue`, decoding each message
//! into an [`Alert`], deleting what was handled and putting back what was not.

use std::time::Duration;

use aws_sdk_cloudwatch::types::StateValue;
use aws_sdk_sqs::types::Message;
use stockflow_contracts::events::{ATTR_EVENT_TYPE, Event, OpsAlert, SurplusArrival};
use stockflow_contracts::names;

use super::Alert;
use crate::context::Ctx;
use crate::peek::{peek_all, sent_at};
use stockflow_messaging::sqs::{self, string_attribute};

/// How long received alerts stay hidden while they are printed and forwarded: room
/// for a batch of ten slow webhook calls.
const IN_HAND_SECONDS: i32 = 120;

/// The longest SQS lets a message stay hidden (12 hours).
const MAX_HIDDEN_SECONDS: i32 = 43_200;

impl Alert {
    pub fn decode(message: &Message) -> Self {
        let message_id = message.message_id().unwrap_or_default().to_string();
        let body = message.body().unwrap_or_default();
        if string_attribute(message, ATTR_EVENT_TYPE) == Some(OpsAlert::TYPE)
            && let Ok(alert) = serde_json::from_str::<OpsAlert>(body)
        {
            return Alert::Worker { message_id, alert };
        }
        if string_attribute(message, ATTR_EVENT_TYPE) == Some(SurplusArrival::TYPE)
            && let Ok(alert) = serde_json::from_str::<SurplusArrival>(body)
        {
            return Alert::Surplus { message_id, alert };
        }
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(body)
            && let Some(alarm_name) = value["AlarmName"].as_str()
        {
            let text = |k: &str| value[k].as_str().map(str::to_string);
            let state = |k: &str| value[k].as_str().map(StateValue::from);
            return Alert::Alarm {
                message_id,
                alarm_name: alarm_name.to_string(),
                new_state: state("NewStateValue").unwrap_or_else(|| StateValue::from("")),
                old_state: state("OldStateValue"),
                reason: text("NewStateReason").unwrap_or_default(),
                at: text("StateChangeTime"),
            };
        }
        Alert::Other {
            message_id,
            sent_at: sent_at(message),
            body: body.to_string(),
        }
    }
}

/// The environment's `ops_alert_queue`, found once.
pub struct Inbox<'a> {
    ctx: &'a Ctx,
    url: String,
}

impl<'a> Inbox<'a> {
    pub async fn open(ctx: &'a Ctx) -> anyhow::Result<Self> {
        let url = ctx.queue_url(names::OPS_ALERT_QUEUE).await?;
        Ok(Self { ctx, url })
    }

    /// The queue's full name, for messages.
    pub fn name(&self) -> String {
        self.ctx.resources.name(names::OPS_ALERT_QUEUE)
    }

    /// Every alert in the inbox, left in place.
    pub async fn peek(&self) -> anyhow::Result<Vec<Alert>> {
        let messages = peek_all(self.ctx, &self.url).await?;
        Ok(messages.iter().map(Alert::decode).collect())
    }

    /// Up to ten messages, waiting up to `wait_seconds` for the first; they stay
    /// hidden while in hand.
    pub async fn receive(&self, wait_seconds: i32) -> anyhow::Result<Vec<Message>> {
        self.ctx
            .receive(
                &self.url,
                wait_seconds,
                IN_HAND_SECONDS,
                "cannot receive from ops_alert_queue",
            )
            .await
    }

    /// Deletes handled messages (at most ten, one receive's worth).
    pub async fn delete(&self, messages: &[Message]) -> anyhow::Result<()> {
        let failed = sqs::delete_batch(
            &self.ctx.sqs,
            &self.url,
            messages.iter().filter_map(Message::receipt_handle),
        )
        .await
        .map_err(|e| self.ctx.aws_error("cannot delete read alerts", e))?;
        anyhow::ensure!(
            failed.is_empty(),
            "{} alert(s) could not be deleted and will show again",
            failed.len()
        );
        Ok(())
    }

    /// Leaves undelivered messages in the queue, visible again after `retry`.
    pub async fn put_back(&self, messages: &[&Message], retry: Duration) -> anyhow::Result<()> {
        let seconds = i32::try_from(retry.as_secs())
            .unwrap_or(i32::MAX)
            .min(MAX_HIDDEN_SECONDS);
        for m in messages {
            self.ctx
                .sqs
                .change_message_visibility()
                .queue_url(&self.url)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .visibility_timeout(seconds)
                .send()
                .await
                .map_err(|e| self.ctx.aws_error("cannot put an undelivered alert back", e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::types::MessageAttributeValue;

    #[test]
    fn a_cloudwatch_notification_is_an_alarm() {
        let m = Message::builder()
            .message_id("m1")
            .body(r#"{"AlarmName":"p_dead_letter_queue-not-empty","NewStateValue":"ALARM","OldStateValue":"OK","NewStateReason":"Threshold Crossed","StateChangeTime":"2026-01-01T00:00:00.000+0000"}"#)
            .build();
        match Alert::decode(&m) {
            Alert::Alarm {
                alarm_name, new_state, ..
            } => {
                assert_eq!(alarm_name, "p_dead_letter_queue-not-empty");
                assert_eq!(new_state, StateValue::Alarm);
            }
            other => panic!("not an alarm: {other:?}"),
        }
    }

    /// A message with the `event_type` attribute.
    fn typed(id: &str, event_type: &str, body: &str) -> Message {
        Message::builder()
            .message_id(id)
            .body(body)
            .message_attributes(
                ATTR_EVENT_TYPE,
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(event_type)
                    .build()
                    .unwrap(),
            )
            .build()
    }

    #[test]
    fn a_worker_alert_needs_its_event_type() {
        let body = r#"{"kind":"dead_lettered","service":"stock-worker","queue":"stock_queue","now_in":"dead_letter_queue","error":"bad","attempts":1,"message_id":"x","sku":null,"restock_request_id":null,"correlation_id":null,"body":"{","at":"2026-01-01T00:00:00Z"}"#;
        assert!(matches!(
            Alert::decode(&typed("m2", "ops_alert", body)),
            Alert::Worker { .. }
        ));
        let untyped = Message::builder().message_id("m3").body(body).build();
        assert!(matches!(Alert::decode(&untyped), Alert::Other { .. }));
    }

    #[test]
    fn a_surplus_arrival_is_its_own_kind_with_order_request_and_quantity() {
        let alert = SurplusArrival {
            production_order_id: uuid::Uuid::new_v4(),
            restock_request_id: stockflow_contracts::RestockRequestId::new(),
            fulfilled_by: Some(uuid::Uuid::new_v4()),
            sku: "CP-1".into(),
            quantity: 5,
            service: "stock-inc-worker".into(),
            correlation_id: Some("c-1".into()),
            at: chrono::Utc::now(),
        };
        let message = typed("m4", "surplus_arrival", &serde_json::to_string(&alert).unwrap());
        let decoded = Alert::decode(&message);
        assert!(
            matches!(&decoded, Alert::Surplus { alert: a, .. } if *a == alert),
            "{decoded:?}"
        );
        let human = decoded.human();
        for part in [
            alert.production_order_id.to_string(),
            alert.restock_request_id.to_string(),
            alert.fulfilled_by.unwrap().to_string(),
            "5 x CP-1".to_string(),
            "stockctl surplus settle".to_string(),
        ] {
            assert!(human.contains(&part), "{part} missing from {human}");
        }
        assert!(decoded.worth_a_message());
        let blocks = serde_json::to_string(&decoded.slack_body()["blocks"]).unwrap();
        assert!(blocks.contains(&alert.production_order_id.to_string()), "{blocks}");
    }
}
