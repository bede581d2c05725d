//! The Factory API's HTTP routes.

mod manufactures;

pub use manufactures::{ProductionTime, create_manufacture, get_manufacture};
