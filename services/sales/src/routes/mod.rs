//! The Sales API's HTTP routes.

mod checkout;
mod products;

pub use checkout::checkout;
pub use products::{get_product, list_products};
