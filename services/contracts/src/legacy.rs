//! The original system's order fields, `MessageAttributeProductId`,
//! `MessageAttributeProductCnt`, `MessageAttributeFactoryId` and
//! `MessageAttributeRequester`: the legacy checkout body of sales and the factory's
//! manufacture request both carry them. The count may be a JSON number or a string of
//! digits, as the original system sent it.

pub const PRODUCT_ID: &str = "MessageAttributeProductId";
pub const PRODUCT_CNT: &str = "MessageAttributeProductCnt";
pub const FACTORY_ID: &str = "MessageAttributeFactoryId";
pub const REQUESTER: &str = "MessageAttributeRequester";

/// The longest product id and factory id (a sku is at most 32 characters).
pub const MAX_ID_CHARS: usize = 32;
/// The longest requester name.
pub const MAX_REQUESTER_CHARS: usize = 100;

/// The legacy order fields of a body, as read (`stockflow_kit::body` reads and checks
/// them); the count's range and the product id's form are the reader's to check.
#[derive(Clone, Debug, PartialEq)]
pub struct LegacyOrder {
    pub product_id: String,
    pub count: i64,
    pub factory_id: Option<String>,
    pub requester: Option<String>,
}
