//! Validated input: a value of these types is known to be well-formed.

mod checkout_request;
mod quantity;
mod sku;

pub use checkout_request::CheckoutRequest;
pub use quantity::Quantity;
pub use sku::Sku;
