//! The events that cross SNS/SQS, defined once for producer and consumer alike.
//!
//! Bodies are JSON; every message also carries the `event_type` and
//! `correlation_id` message attributes (SNS raw delivery passes them to SQS).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use crate::names;
use crate::{FailureKind, RestockRequestId};

/// Message attribute naming the event type.
pub const ATTR_EVENT_TYPE: &str = "event_type";
/// Message attribute carrying the request id that started the chain.
pub const ATTR_CORRELATION_ID: &str = "correlation_id";

/// An event type: its body, its name in the `event_type` attribute and its topic.
pub trait Event: Serialize + for<'de> Deserialize<'de> {
    const TYPE: &'static str;
    const TOPIC: &'static str;
}

/// The product and restock request a message concerns, as an alert about it names them:
/// read from any body that carries them (both `stock_empty` and `stock_arrival` do), even
/// one that is not a valid event, and each left out when absent or malformed (the
/// consumer reads it from a dead letter's body, and leaves it empty for a body that is
/// not a JSON object).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Subject {
    #[serde(default, deserialize_with = "lenient")]
    pub sku: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub restock_request_id: Option<RestockRequestId>,
}

/// A field that does not read as `T` is left out rather than failing its whole body.
fn lenient<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    /// Untagged: serde tries `T` on the buffered field, and anything else is skipped.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Lenient<T> {
        Read(T),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Lenient::deserialize(deserializer)? {
        Lenient::Read(value) => Some(value),
        Lenient::Other(_) => None,
    })
}

/// A product ran out: one per restock request, not per failed purchase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StockEmpty {
    pub restock_request_id: RestockRequestId,
    pub sku: String,
    /// How many units to order from the factory.
    pub quantity: u32,
    pub factory_id: String,
    pub requester: String,
    pub requested_at: DateTime<Utc>,
}

impl Event for StockEmpty {
    const TYPE: &'static str = "stock_empty";
    const TOPIC: &'static str = names::STOCK_EMPTY_TOPIC;
}

/// The factory finished a production order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StockArrival {
    pub production_order_id: Uuid,
    /// The factory request's `MessageGroupId`, which `stock-worker` sets to the restock
    /// request id; `null` for an order someone else placed without one (stock still
    /// arrives, no restock request is fulfilled). An empty string reads as `null`.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub restock_request_id: Option<RestockRequestId>,
    pub sku: String,
    /// Units produced, to be added to stock once.
    pub quantity: u32,
    pub ordered_at: DateTime<Utc>,
    pub produced_at: DateTime<Utc>,
}

impl Event for StockArrival {
    const TYPE: &'static str = "stock_arrival";
    const TOPIC: &'static str = names::STOCK_ARRIVAL_TOPIC;
}

/// Something ended abnormally and a person should look at it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpsAlert {
    /// Why: `dead_lettered` or `final_attempt_failed`.
    pub kind: FailureKind,
    /// The service that raised it.
    pub service: String,
    /// The queue the message came from.
    pub queue: String,
    /// Where the message sits now (a DLQ name, or the source queue).
    pub now_in: String,
    pub error: String,
    pub attempts: u32,
    pub message_id: String,
    pub sku: Option<String>,
    pub restock_request_id: Option<RestockRequestId>,
    pub correlation_id: Option<String>,
    /// The failed message body, as received.
    pub body: String,
    pub at: DateTime<Utc>,
}

impl Event for OpsAlert {
    const TYPE: &'static str = "ops_alert";
    const TOPIC: &'static str = names::OPS_ALERTS_TOPIC;
}

/// A production order arrived for a restock request that another order had fulfilled
/// (a factory that lost its database, a second factory). Its goods were not added to
/// stock: they physically arrived, so a person decides (`stockctl surplus settle`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SurplusArrival {
    pub production_order_id: Uuid,
    pub restock_request_id: RestockRequestId,
    /// The production order that had fulfilled the request.
    pub fulfilled_by: Option<Uuid>,
    pub sku: String,
    /// Units that arrived and were not added.
    pub quantity: u32,
    /// The service that raised it.
    pub service: String,
    pub correlation_id: Option<String>,
    pub at: DateTime<Utc>,
}

impl Event for SurplusArrival {
    const TYPE: &'static str = "surplus_arrival";
    const TOPIC: &'static str = names::OPS_ALERTS_TOPIC;
}

/// `null`, `""` and a missing field are all "no restock request".
fn empty_as_none<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<RestockRequestId>, D::Error> {
    match Option::<String>::deserialize(deserializer)?.as_deref() {
        None | Some("") => Ok(None),
        Some(text) => text.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_empty_round_trips_through_json() {
        let event = StockEmpty {
            restock_request_id: RestockRequestId::new(),
            sku: "CP-502101".into(),
            quantity: 10,
            factory_id: "FF-500293".into(),
            requester: "홍길동".into(),
            requested_at: Utc::now(),
        };
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(serde_json::from_str::<StockEmpty>(&json).unwrap(), event);
    }

    #[test]
    fn stock_arrival_carries_the_restock_request_id_of_stock_empty() {
        let id = RestockRequestId::new();
        let arrival = StockArrival {
            production_order_id: Uuid::new_v4(),
            restock_request_id: Some(id),
            sku: "CP-502101".into(),
            quantity: 10,
            ordered_at: Utc::now(),
            produced_at: Utc::now(),
        };
        let json = serde_json::to_value(&arrival).unwrap();
        assert_eq!(json["restock_request_id"], id.to_string());
        assert_eq!(serde_json::from_value::<StockArrival>(json.clone()).unwrap(), arrival);

        let mut without = json;
        for none in [serde_json::Value::Null, "".into()] {
            without["restock_request_id"] = none;
            let read: StockArrival = serde_json::from_value(without.clone()).unwrap();
            assert_eq!(read.restock_request_id, None);
        }
        without["restock_request_id"] = "not-a-uuid".into();
        assert!(serde_json::from_value::<StockArrival>(without).is_err());
    }

    #[test]
    fn a_subject_is_read_from_any_body_that_carries_it() {
        let read = |body: &str| serde_json::from_str::<Subject>(body).unwrap();
        let id = RestockRequestId::new();
        let subject = read(&format!(
            r#"{{"sku":"HOOK-0","restock_request_id":"{id}","quantity":"x"}}"#
        ));
        assert_eq!(subject.sku.as_deref(), Some("HOOK-0"));
        assert_eq!(subject.restock_request_id, Some(id));
        let partial = read(r#"{"sku":"HOOK-0","restock_request_id":"not-a-uuid"}"#);
        assert_eq!(
            (partial.sku.as_deref(), partial.restock_request_id),
            (Some("HOOK-0"), None)
        );
        assert_eq!(read(r#"{"sku":7,"restock_request_id":{"a":[1]}}"#), Subject::default());
        assert_eq!(read("{}"), Subject::default());
    }

    #[test]
    fn a_body_missing_a_field_is_rejected() {
        let err = serde_json::from_str::<StockArrival>(r#"{"sku":"CP-502101","quantity":3}"#);
        assert!(err.is_err());
    }
}
