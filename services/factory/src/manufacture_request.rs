//! Reading a `POST /api/manufactures` body into the contract's [`ManufactureRequest`],
//! field by field (`stockflow_kit::body`), so each mistake gets its own 400 or 422; the
//! body is kept as received, for the reply to echo.

use serde_json::Value;
use stockflow_contracts::factory::{MAX_CALLBACK_URL_CHARS, MAX_GROUP_ID_CHARS, ManufactureRequest, ProductCount};
use stockflow_kit::body::{BodyError, Fields};

const EXAMPLE: &str = r#"{"MessageAttributeProductId": "CP-502101", "MessageAttributeProductCnt": 10}"#;

/// The request, and the body as received.
pub fn read(body: &[u8]) -> Result<(ManufactureRequest, Value), BodyError> {
    let fields = Fields::parse(body, EXAMPLE)?;
    let order = fields.legacy_order()?;
    let request = ManufactureRequest {
        message_group_id: fields
            .optional_string("MessageGroupId", MAX_GROUP_ID_CHARS)?
            .filter(|id| !id.is_empty()),
        product_id: order.product_id,
        quantity: ProductCount::new(order.count).map_err(|err| BodyError::Invalid(err.to_string()))?,
        factory_id: order.factory_id,
        requester: order.requester,
        callback_url: fields
            .optional_string("CallbackUrl", MAX_CALLBACK_URL_CHARS)?
            .filter(|url| !url.is_empty()),
    };
    Ok((request, fields.into_json()))
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn reads_the_legacy_request_and_keeps_the_body_as_received() {
        let body = br#"{"MessageGroupId":"g-1","MessageAttributeProductId":"CP-502101","MessageAttributeProductCnt":"10","MessageAttributeFactoryId":"FF-500293","MessageAttributeRequester":"kim","CallbackUrl":"http://x/cb"}"#;
        let (request, raw) = read(body).unwrap();
        assert_eq!(request.product_id, "CP-502101");
        assert_eq!(request.quantity.get(), 10);
        assert_eq!(request.message_group_id.as_deref(), Some("g-1"));
        assert_eq!(request.callback_url.as_deref(), Some("http://x/cb"));
        assert_eq!(raw["MessageAttributeProductCnt"], "10");
    }

    #[test]
    fn rejects_missing_and_malformed_fields() {
        // 400 for a body that is not JSON, 422 for a field that breaks the contract
        let status = |body: &[u8]| match read(body).unwrap_err() {
            BodyError::NotJson(_) => 400,
            BodyError::Invalid(_) => 422,
        };
        assert_eq!(status(b"nope"), 400);
        assert_eq!(status(br#"{"MessageAttributeProductCnt":1}"#), 422);
        assert_eq!(
            status(br#"{"MessageAttributeProductId":"A","MessageAttributeProductCnt":0}"#),
            422
        );
        assert_eq!(
            status(br#"{"MessageAttributeProductId":"A","MessageAttributeProductCnt":100001}"#),
            422
        );
        assert_eq!(
            status(br#"{"MessageAttributeProductId":"A","MessageAttributeProductCnt":true}"#),
            422
        );
        assert_eq!(
            status(br#"{"MessageAttributeProductId":"A","MessageAttributeProductCnt":1,"CallbackUrl":5}"#),
            422
        );
    }

    #[test]
    fn what_the_client_sends_the_factory_reads() {
        let sent = ManufactureRequest {
            message_group_id: Some(Uuid::new_v4().to_string()),
            product_id: "CP-502101".into(),
            quantity: ProductCount::new(7).unwrap(),
            factory_id: Some("FF-500293".into()),
            requester: Some("홍길동".into()),
            callback_url: None,
        };
        let (read, raw) = read(&serde_json::to_vec(&sent).unwrap()).unwrap();
        assert_eq!(read, sent);
        assert_eq!(raw["MessageAttributeProductCnt"], 7);
        assert!(raw.get("CallbackUrl").is_none());
    }
}
