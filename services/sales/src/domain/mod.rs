//! Validated input: a value of these types is known to be well-formed. A purchase's
//! parts are the warehouse's types (`warehouse::Sku`, `warehouse::Quantity`) and the
//! contracts' `IdempotencyKey` (the factory's header as well); this module parses the
//! bodies and the paging parameters into them.

mod checkout_request;
mod page;

pub use checkout_request::{CheckoutBody, CheckoutRequest, LegacyBody, ModernBody};
pub use page::PageRequest;
