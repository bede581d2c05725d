//! The development environment's default ports (the services' own, from
//! `stockflow_contracts::ports`, which their `Settings::default` read too; LocalStack's and
//! MySQL's), and finding free ports of 127.0.0.1.

use std::net::{TcpListener, TcpStream};

/// The shared LocalStack's port (`STOCKFLOW_LOCALSTACK_PORT`).
pub const LOCALSTACK_PORT: u16 = 4566;

/// The MySQL server the services use when `MYSQL_URL` is not set.
pub const MYSQL_URL: &str = "mysql://root@127.0.0.1:3306";

/// Nothing answers on `port` of 127.0.0.1.
pub fn port_free(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_err()
}

/// `count` distinct free ports, all bound before any is released (a port bound and
/// released one at a time can come back twice).
pub fn free_ports(count: usize) -> std::io::Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()?;
    listeners.iter().map(|l| Ok(l.local_addr()?.port())).collect()
}

/// The first of `first`, `first + step`, … up to `last` whose `width` ports from it are
/// all free.
pub fn free_base(first: u16, step: u16, last: u16, width: u16) -> Option<u16> {
    (first..=last)
        .step_by(step.max(1).into())
        .find(|base| (0..width).all(|i| port_free(base.saturating_add(i))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_port_is_not_free_and_is_skipped() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let taken = listener.local_addr().unwrap().port();
        assert!(!port_free(taken));
        assert_ne!(free_base(taken, 1, taken.saturating_add(5), 1), Some(taken));
    }
}
