//! The Sales API's HTTP routes.

mod checkout;
mod products;

pub use checkout::{__path_checkout, checkout};
pub use products::{__path_get_product, __path_list_products, get_product, list_products};
