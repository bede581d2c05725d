//! Validated input: a value of these types is known to be well-formed. The
//! `Idempotency-Key` header is the factory's as well, so its type lives in the shared
//! contracts.

mod checkout_request;
mod page;
mod quantity;
mod sku;

pub use checkout_request::{CheckoutBody, CheckoutRequest, LegacyBody, ModernBody};
pub use page::PageRequest;
pub use quantity::Quantity;
pub use sku::Sku;
pub use stockflow_shared::contracts::IdempotencyKey;
