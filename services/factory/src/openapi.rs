//! The Factory API's OpenAPI 3.1 document (the legacy contract), generated from the
//! handlers; the body types below exist to describe the wire format.

use utoipa::{OpenApi, ToSchema};

use crate::routes;
use stockflow_shared::problem::Problem;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "stockflow Factory API",
        description = "The legacy manufacturing contract: place a production order (deduplicated by Idempotency-Key) and watch its stage. Completions are published to SNS stock_arrival."
    ),
    paths(routes::create_manufacture, routes::get_manufacture),
    components(schemas(
        ManufactureBody,
        ManufactureCreated,
        ManufactureCreatedData,
        ManufactureStatus,
        ManufactureStatusData,
        Problem
    ))
)]
pub struct ApiDoc;

/// A production request (legacy field names).
#[derive(ToSchema)]
#[schema(example = json!({"MessageGroupId": "0b6c1c53-4a5e-4a8e-9c5b-2f1d2c3b4a5e", "MessageAttributeProductId": "CP-502101", "MessageAttributeProductCnt": 10, "MessageAttributeFactoryId": "FF-500293", "MessageAttributeRequester": "홍길동", "CallbackUrl": ""}))]
#[allow(
    dead_code,
    non_snake_case,
    reason = "describes the wire format for the OpenAPI document only"
)]
pub struct ManufactureBody {
    /// stock-worker sends the restock request id; it comes back in `stock_arrival`.
    MessageGroupId: Option<String>,
    MessageAttributeProductId: String,
    /// 1 to 100000, a number or a string of digits.
    #[schema(value_type = u32)]
    MessageAttributeProductCnt: serde_json::Value,
    MessageAttributeFactoryId: Option<String>,
    MessageAttributeRequester: Option<String>,
    /// Recorded, not called: completions travel through SNS.
    CallbackUrl: Option<String>,
}

/// 201: the production order (the legacy reply spells `reqestor`).
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the wire format for the OpenAPI document only")]
pub struct ManufactureCreated {
    data: ManufactureCreatedData,
}

#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the wire format for the OpenAPI document only")]
pub struct ManufactureCreatedData {
    id: uuid::Uuid,
    reqestor: String,
    /// The request as received.
    #[schema(value_type = Object)]
    data: serde_json::Value,
}

#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the wire format for the OpenAPI document only")]
pub struct ManufactureStatus {
    data: ManufactureStatusData,
}

#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the wire format for the OpenAPI document only")]
pub struct ManufactureStatusData {
    id: uuid::Uuid,
    /// 시작, 준비, 생산, 포장, then 종료 once produced.
    stage: String,
    product_id: String,
    quantity: u32,
    factory_id: String,
    reqestor: String,
    message_group_id: String,
    created_at: chrono::DateTime<chrono::Utc>,
    ready_at: chrono::DateTime<chrono::Utc>,
    completed_at: Option<chrono::DateTime<chrono::Utc>>,
}
