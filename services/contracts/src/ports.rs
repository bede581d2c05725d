//! Where each service listens by default, and the variable that moves it: written once
//! here for the services' own defaults, the factory URL stock-worker calls, the
//! development environment and the suites.

/// A service's default port and the environment variable that overrides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefaultPort {
    /// The service's name, as in its binary and its logs.
    pub service: &'static str,
    pub port: u16,
    /// The environment variable that sets the port instead.
    pub variable: &'static str,
}

pub const SALES: DefaultPort = DefaultPort::new("sales", 8080, "SALES_PORT");

pub const FACTORY: DefaultPort = DefaultPort::new("factory", 8081, "FACTORY_PORT");

/// stock-worker's health and metrics port.
pub const STOCK_WORKER: DefaultPort = DefaultPort::new("stock-worker", 8082, "STOCK_WORKER_PORT");

/// stock-inc-worker's health and metrics port.
pub const STOCK_INC_WORKER: DefaultPort = DefaultPort::new("stock-inc-worker", 8083, "STOCK_INC_WORKER_PORT");

impl DefaultPort {
    const fn new(service: &'static str, port: u16, variable: &'static str) -> Self {
        Self {
            service,
            port,
            variable,
        }
    }

    /// `http://127.0.0.1:{port}`: the service on this machine.
    pub fn local_url(self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
