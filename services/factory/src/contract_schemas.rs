//! The OpenAPI schemas of the Factory API's contract types (`stockflow_contracts::factory`,
//! which stays serde only): one schema type per contract type, under the contract type's
//! name, used for the document only. The tests hold each to its contract type: a schema
//! names exactly the fields the contract type writes, requires the ones it always writes
//! and bounds each string as the contract reads it, so the two cannot drift apart.

#![allow(
    dead_code,
    non_snake_case,
    reason = "these types describe the wire format for the OpenAPI document only"
)]

use chrono::{DateTime, Utc};
use stockflow_contracts::factory::ProductCount;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use uuid::Uuid;

/// A production request (legacy field names).
#[derive(ToSchema)]
#[schema(as = ManufactureRequest, example = json!({"MessageGroupId": "0b6c1c53-4a5e-4a8e-9c5b-2f1d2c3b4a5e", "MessageAttributeProductId": "CP-502101", "MessageAttributeProductCnt": 10, "MessageAttributeFactoryId": "FF-500293", "MessageAttributeRequester": "홍길동", "CallbackUrl": "http://127.0.0.1:9000/callback"}))]
pub struct ManufactureRequestDoc {
    /// stock-worker sends the restock request id; it comes back in `stock_arrival`.
    #[schema(max_length = 128)]
    MessageGroupId: Option<String>,
    #[schema(min_length = 1, max_length = 32)]
    MessageAttributeProductId: String,
    #[schema(schema_with = product_count)]
    MessageAttributeProductCnt: u32,
    #[schema(max_length = 32)]
    MessageAttributeFactoryId: Option<String>,
    #[schema(max_length = 100)]
    MessageAttributeRequester: Option<String>,
    /// Recorded, not called: completions travel through SNS `stock_arrival`.
    #[schema(max_length = 500)]
    CallbackUrl: Option<String>,
}

/// `MessageAttributeProductCnt`: a number, or a string of digits as the original system
/// sent it ([`ProductCount`] reads both).
fn product_count() -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(ProductCount::MAX)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^ *(100000|[1-9][0-9]{0,4}) *$")),
        )
        .description(Some(
            "1 to 100000 units: a number, or a string of digits as the original system sent it",
        ))
        .into()
}

/// 201: the production order placed (or the one placed before under the same
/// `Idempotency-Key`).
#[derive(ToSchema)]
#[schema(as = ManufactureCreated)]
pub struct ManufactureCreatedDoc {
    data: ManufactureCreatedDataDoc,
}

#[derive(ToSchema)]
#[schema(as = ManufactureCreatedData)]
pub struct ManufactureCreatedDataDoc {
    /// The production order id.
    id: Uuid,
    /// The requester (legacy spelling).
    reqestor: String,
    /// The request as received.
    #[schema(value_type = Object)]
    data: (),
}

/// 200: a production order and its stage.
#[derive(ToSchema)]
#[schema(as = ManufactureStatus)]
pub struct ManufactureStatusDoc {
    data: ManufactureStatusDataDoc,
}

#[derive(ToSchema)]
#[schema(as = ManufactureStatusData)]
pub struct ManufactureStatusDataDoc {
    id: Uuid,
    stage: StageDoc,
    product_id: String,
    quantity: u32,
    factory_id: String,
    /// The requester (legacy spelling).
    reqestor: String,
    message_group_id: String,
    created_at: DateTime<Utc>,
    /// When production is due to end.
    ready_at: DateTime<Utc>,
    /// When production ended and `stock_arrival` was recorded; `null` until then.
    completed_at: Option<DateTime<Utc>>,
}

/// The legacy production stages: 시작 (started), 준비 (preparing), 생산 (producing),
/// 포장 (packing), then 종료 (done) once completed.
#[derive(ToSchema)]
#[schema(as = Stage)]
pub enum StageDoc {
    #[schema(rename = "시작")]
    Started,
    #[schema(rename = "준비")]
    Preparing,
    #[schema(rename = "생산")]
    Producing,
    #[schema(rename = "포장")]
    Packing,
    #[schema(rename = "종료")]
    Done,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde::Serialize;
    use serde_json::Value;
    use stockflow_contracts::factory::{
        MAX_CALLBACK_URL_CHARS, MAX_GROUP_ID_CHARS, ManufactureCreated, ManufactureCreatedData, ManufactureRequest,
        ManufactureStatus, ManufactureStatusData, Stage,
    };
    use stockflow_contracts::legacy;
    use utoipa::PartialSchema;

    use super::*;

    /// The schema's properties, and the ones it requires.
    fn properties<S: PartialSchema>() -> (BTreeSet<String>, BTreeSet<String>) {
        let schema = serde_json::to_value(S::schema()).unwrap();
        let names = schema["properties"].as_object().unwrap().keys().cloned().collect();
        let required = schema["required"]
            .as_array()
            .map(|names| names.iter().map(|n| n.as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        (names, required)
    }

    /// The fields a value writes, and the ones among them that are not `null`.
    fn fields(value: &impl Serialize) -> (BTreeSet<String>, BTreeSet<String>) {
        let json = serde_json::to_value(value).unwrap();
        let object = json.as_object().unwrap();
        let written = object.keys().cloned().collect();
        let set = object
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k.clone())
            .collect();
        (written, set)
    }

    fn status_data(completed: bool) -> ManufactureStatusData {
        ManufactureStatusData {
            id: Uuid::new_v4(),
            stage: Stage::Packing,
            product_id: "CP-502101".into(),
            quantity: 3,
            factory_id: "FF-500293".into(),
            reqestor: "kim".into(),
            message_group_id: "g".into(),
            created_at: Utc::now(),
            ready_at: Utc::now(),
            completed_at: completed.then(Utc::now),
        }
    }

    #[test]
    fn each_schema_names_the_fields_its_contract_type_writes() {
        // every optional field set: the schema must name each one
        let request = ManufactureRequest {
            message_group_id: Some("g".into()),
            product_id: "CP-502101".into(),
            quantity: ProductCount::new(1).unwrap(),
            factory_id: Some("FF-500293".into()),
            requester: Some("kim".into()),
            callback_url: Some("http://x".into()),
        };
        let created = ManufactureCreatedData {
            id: Uuid::new_v4(),
            reqestor: "kim".into(),
            data: Value::Null,
        };
        let data = status_data(true);
        assert_eq!(properties::<ManufactureRequestDoc>().0, fields(&request).0);
        assert_eq!(properties::<ManufactureCreatedDataDoc>().0, fields(&created).0);
        assert_eq!(properties::<ManufactureStatusDataDoc>().0, fields(&data).0);
        let envelope = BTreeSet::from(["data".to_string()]);
        assert_eq!(
            properties::<ManufactureCreatedDoc>().0,
            fields(&ManufactureCreated { data: created }).0
        );
        assert_eq!(properties::<ManufactureStatusDoc>().0, envelope);
        assert_eq!(fields(&ManufactureStatus { data }).0, envelope);
    }

    #[test]
    fn each_schema_requires_what_its_contract_type_always_writes() {
        // every optional field left out: what is still written is required
        let bare = ManufactureRequest {
            message_group_id: None,
            product_id: "CP-502101".into(),
            quantity: ProductCount::new(1).unwrap(),
            factory_id: None,
            requester: None,
            callback_url: None,
        };
        assert_eq!(properties::<ManufactureRequestDoc>().1, fields(&bare).1);
        assert_eq!(
            properties::<ManufactureStatusDataDoc>().1,
            fields(&status_data(false)).1
        );
    }

    #[test]
    fn the_request_schema_bounds_each_string_as_the_contract_reads_it() {
        let schema = serde_json::to_value(ManufactureRequestDoc::schema()).unwrap();
        let max = |name: &str| schema["properties"][name]["maxLength"].as_u64().map(|n| n as usize);
        assert_eq!(max("MessageGroupId"), Some(MAX_GROUP_ID_CHARS));
        assert_eq!(max(legacy::PRODUCT_ID), Some(legacy::MAX_ID_CHARS));
        assert_eq!(max(legacy::FACTORY_ID), Some(legacy::MAX_ID_CHARS));
        assert_eq!(max(legacy::REQUESTER), Some(legacy::MAX_REQUESTER_CHARS));
        assert_eq!(max("CallbackUrl"), Some(MAX_CALLBACK_URL_CHARS));
    }

    #[test]
    fn the_stage_schema_lists_the_legacy_stage_names() {
        let schema = serde_json::to_value(StageDoc::schema()).unwrap();
        let listed: Vec<Value> = schema["enum"].as_array().unwrap().clone();
        let stages = [
            Stage::Started,
            Stage::Preparing,
            Stage::Producing,
            Stage::Packing,
            Stage::Done,
        ];
        let written: Vec<Value> = stages.iter().map(|s| serde_json::to_value(s).unwrap()).collect();
        assert_eq!(listed, written);
    }
}
