//! The four services, the variable each reads its port from, and where each replica
//! listens: HTTP services' replicas share one port (`SO_REUSEPORT`); a worker's
//! replica `i` listens on its own port, `base + 100 × i`, so each is observable alone.

/// A stockflow service binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    Sales,
    Factory,
    StockWorker,
    StockIncWorker,
}

impl Service {
    /// The port the service listens on when its variable (`SALES_PORT`, …) is not set.
    pub fn default_port(self) -> u16 {
        use stockflow_contracts::ports;
        match self {
            Service::Sales => ports::SALES.port,
            Service::Factory => ports::FACTORY.port,
            Service::StockWorker => ports::STOCK_WORKER.port,
            Service::StockIncWorker => ports::STOCK_INC_WORKER.port,
        }
    }

    /// In start order: the HTTP services first, the workers (which call them) after.
    pub const ALL: [Service; 4] = [
        Service::Sales,
        Service::Factory,
        Service::StockWorker,
        Service::StockIncWorker,
    ];

    /// The binary's name, also the prefix of its pid and log files.
    pub fn name(self) -> &'static str {
        match self {
            Service::Sales => "sales",
            Service::Factory => "factory",
            Service::StockWorker => "stock-worker",
            Service::StockIncWorker => "stock-inc-worker",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The environment variable holding its port.
    pub fn port_variable(self) -> &'static str {
        match self {
            Service::Sales => "SALES_PORT",
            Service::Factory => "FACTORY_PORT",
            Service::StockWorker => "STOCK_WORKER_PORT",
            Service::StockIncWorker => "STOCK_INC_WORKER_PORT",
        }
    }

    /// Replicas of an HTTP service share its port; a worker's replicas do not.
    pub fn shares_port(self) -> bool {
        matches!(self, Service::Sales | Service::Factory)
    }
}

/// How far apart the health ports of a worker's replicas are.
pub const WORKER_PORT_STRIDE: u16 = 100;

/// Where every replica listens.
#[derive(Clone, Debug)]
pub struct Ports {
    pub sales: u16,
    pub factory: u16,
    /// One port per replica.
    pub stock_worker: Vec<u16>,
    pub stock_inc_worker: Vec<u16>,
}

impl Ports {
    /// The documented scheme: sales and factory replicas on their port, worker replica
    /// `i` on `base + 100 × i` (from the defaults of [`crate::ports`]).
    pub fn strided(sales: u16, factory: u16, stock_worker: u16, stock_inc_worker: u16, replicas: usize) -> Self {
        let strided = |base: u16| {
            (0..replicas)
                .map(|i| base.saturating_add(WORKER_PORT_STRIDE.saturating_mul(i as u16)))
                .collect()
        };
        Self {
            sales,
            factory,
            stock_worker: strided(stock_worker),
            stock_inc_worker: strided(stock_inc_worker),
        }
    }

    /// Distinct free ports for `replicas` of each service, all bound before any is
    /// released (a port bound and released one at a time can come back twice).
    pub fn free(replicas: usize) -> std::io::Result<Self> {
        let ports = crate::ports::free_ports(2 + 2 * replicas)?;
        Ok(Self {
            sales: ports[0],
            factory: ports[1],
            stock_worker: ports[2..2 + replicas].to_vec(),
            stock_inc_worker: ports[2 + replicas..].to_vec(),
        })
    }

    /// The port of `service`'s replica `index`.
    pub fn of(&self, service: Service, index: usize) -> u16 {
        let nth = |ports: &[u16]| ports.get(index).copied().unwrap_or(0);
        match service {
            Service::Sales => self.sales,
            Service::Factory => self.factory,
            Service::StockWorker => nth(&self.stock_worker),
            Service::StockIncWorker => nth(&self.stock_inc_worker),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_has_one_default_port_of_its_own() {
        let mut ports: Vec<u16> = Service::ALL.into_iter().map(Service::default_port).collect();
        ports.sort();
        ports.dedup();
        assert_eq!(ports.len(), Service::ALL.len());
    }

    #[test]
    fn worker_replicas_get_their_own_ports_http_replicas_share() {
        let ports = Ports::strided(8080, 8081, 8082, 8083, 3);
        assert_eq!(ports.of(Service::Sales, 2), 8080);
        assert_eq!(ports.of(Service::Factory, 1), 8081);
        assert_eq!(ports.stock_worker, [8082, 8182, 8282]);
        assert_eq!(ports.of(Service::StockIncWorker, 2), 8283);
    }

    #[test]
    fn free_ports_are_distinct() {
        let ports = Ports::free(3).unwrap();
        let mut all = vec![ports.sales, ports.factory];
        all.extend(&ports.stock_worker);
        all.extend(&ports.stock_inc_worker);
        let count = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), count);
    }

    #[test]
    fn names_round_trip() {
        for s in Service::ALL {
            assert_eq!(Service::from_name(s.name()), Some(s));
        }
    }
}
