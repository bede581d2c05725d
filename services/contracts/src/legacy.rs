//! The original system's order fields, `MessageAttributeProductId`,
//! `MessageAttributeProductCnt`, `MessageAttributeFactoryId` and
//! `MessageAttributeRequester`: the legacy checkout body of sales and the factory's
//! manufacture request both carry them. The count may be a JSON number or a string of
//! digits, as the original system sent it.

use crate::fields::{BodyError, CountForm, Fields};

pub const PRODUCT_ID: &str = "MessageAttributeProductId";
pub const PRODUCT_CNT: &str = "MessageAttributeProductCnt";
pub const FACTORY_ID: &str = "MessageAttributeFactoryId";
pub const REQUESTER: &str = "MessageAttributeRequester";

/// The longest product id and factory id (a sku is at most 32 characters).
pub const MAX_ID_CHARS: usize = 32;
/// The longest requester name.
pub const MAX_REQUESTER_CHARS: usize = 100;

/// The legacy order fields of a body, each checked for its type and length; the count's
/// range and the product id's form are the reader's to check.
#[derive(Clone, Debug, PartialEq)]
pub struct LegacyOrder {
    pub product_id: String,
    pub count: i64,
    pub factory_id: Option<String>,
    pub requester: Option<String>,
}

impl LegacyOrder {
    pub fn read(fields: &Fields) -> Result<Self, BodyError> {
        Ok(Self {
            product_id: fields.required_string(PRODUCT_ID, MAX_ID_CHARS)?,
            count: fields.count(PRODUCT_CNT, CountForm::NumberOrDigits)?,
            factory_id: fields.optional_string(FACTORY_ID, MAX_ID_CHARS)?,
            requester: fields.optional_string(REQUESTER, MAX_REQUESTER_CHARS)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Result<LegacyOrder, BodyError> {
        LegacyOrder::read(&Fields::parse(json.as_bytes(), "{}").unwrap())
    }

    #[test]
    fn reads_the_count_as_a_number_or_a_string() {
        let order = read(r#"{"MessageAttributeProductId":"CP-502101","MessageAttributeProductCnt":"10","MessageAttributeFactoryId":"FF-500293","MessageAttributeRequester":"홍길동"}"#).unwrap();
        assert_eq!(order.product_id, "CP-502101");
        assert_eq!(order.count, 10);
        assert_eq!(order.factory_id.as_deref(), Some("FF-500293"));
        assert_eq!(order.requester.as_deref(), Some("홍길동"));
        assert_eq!(
            read(r#"{"MessageAttributeProductId":"A","MessageAttributeProductCnt":3}"#)
                .unwrap()
                .count,
            3
        );
    }

    #[test]
    fn names_the_field_that_is_wrong() {
        let detail = |json| read(json).unwrap_err().detail().to_string();
        assert!(detail(r#"{"MessageAttributeProductCnt":1}"#).contains(PRODUCT_ID));
        assert!(detail(r#"{"MessageAttributeProductId":"A","MessageAttributeProductCnt":true}"#).contains(PRODUCT_CNT));
        assert!(
            detail(r#"{"MessageAttributeProductId":"A","MessageAttributeProductCnt":1,"MessageAttributeFactoryId":7}"#)
                .contains(FACTORY_ID)
        );
    }
}
