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

pub const SALES: DefaultPort = DefaultPort {
    service: "sales",
    port: 8080,
    variable: "SALES_PORT",
};

pub const FACTORY: DefaultPort = DefaultPort {
    service: "factory",
    port: 8081,
    variable: "FACTORY_PORT",
};

/// stock-worker's health and metrics port.
pub const STOCK_WORKER: DefaultPort = DefaultPort {
    service: "stock-worker",
    port: 8082,
    variable: "STOCK_WORKER_PORT",
};

/// stock-inc-worker's health and metrics port.
pub const STOCK_INC_WORKER: DefaultPort = DefaultPort {
    service: "stock-inc-worker",
    port: 8083,
    variable: "STOCK_INC_WORKER_PORT",
};

/// The four services, in the order they are started.
pub const ALL: [DefaultPort; 4] = [SALES, FACTORY, STOCK_WORKER, STOCK_INC_WORKER];

impl DefaultPort {
    /// `http://127.0.0.1:{port}`: the service on this machine.
    pub fn local_url(self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
