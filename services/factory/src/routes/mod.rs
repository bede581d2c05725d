//! The Factory API's HTTP routes.

mod manufactures;

pub use manufactures::{
    __path_create_manufacture, __path_get_manufacture, ProductionTime, create_manufacture, get_manufacture,
};
