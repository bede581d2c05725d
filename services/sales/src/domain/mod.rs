//! Validated input: a value of these types is known to be well-formed.

mod checkout_request;
mod idempotency_key;
mod quantity;
mod sku;

pub use checkout_request::{CheckoutBody, CheckoutRequest, LegacyBody, ModernBody};
pub use idempotency_key::IdempotencyKey;
pub use quantity::Quantity;
pub use sku::Sku;
