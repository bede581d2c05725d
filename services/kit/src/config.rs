//! Configuration from environment variables, each with a default that works on a
//! developer machine (MySQL on 127.0.0.1:3306; AWS settings are `stockflow_messaging::aws`'s).
//!
//! Every setting is listed once, in the README's configuration table. A service's
//! settings struct flattens the common pieces defined here and adds its own.

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Serialized};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Reads `T` from the environment: defaults from `T::default()`, overridden by any
/// environment variable whose lower-cased name matches a field.
pub fn from_env<T: Serialize + DeserializeOwned + Default>() -> anyhow::Result<T> {
    Figment::from(Serialized::defaults(T::default()))
        .merge(Env::raw().only(&field_names::<T>().iter().map(String::as_str).collect::<Vec<_>>()))
        .extract()
        .context("invalid configuration: check the environment variables listed in the README")
}

/// The field names of `T`'s default value, so that only those are read from the
/// environment (and an unrelated variable such as `PATH` can never break parsing).
fn field_names<T: Serialize + Default>() -> Vec<String> {
    match serde_json::to_value(T::default()) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Where the MySQL server is and how many connections a service may hold.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct DatabaseSettings {
    /// Server URL without a database name, e.g. `mysql://root@127.0.0.1:3306`.
    pub mysql_url: String,
    /// Upper bound of the connection pool.
    pub db_pool_max: usize,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            mysql_url: "mysql://root@127.0.0.1:3306".into(),
            db_pool_max: 16,
        }
    }
}

/// Where a service listens for HTTP.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct HttpSettings {
    pub bind_host: String,
}

impl HttpSettings {
    /// Binds `port` on the configured host (0 picks a free port); the error names the
    /// variable to change. The port is this process's alone (a worker's health port:
    /// each replica must be observable on its own).
    pub fn listen(&self, port: u16, service: &str, port_variable: &str) -> anyhow::Result<std::net::TcpListener> {
        std::net::TcpListener::bind((self.bind_host.as_str(), port)).with_context(|| {
            format!(
                "{service} cannot listen on {}:{port} (is another {service} running? set {port_variable} or BIND_HOST)",
                self.bind_host
            )
        })
    }

    /// Binds `port` with `SO_REUSEPORT`, so that replicas of an HTTP service share it and
    /// the kernel spreads connections among them (no load balancer needed on one host).
    /// Another process can join only if it sets the option too and runs as the same user.
    pub fn listen_shared(
        &self,
        port: u16,
        service: &str,
        port_variable: &str,
    ) -> anyhow::Result<std::net::TcpListener> {
        let context = || {
            format!(
                "{service} cannot listen on {}:{port} (a process other than a {service} replica holds it? \
                 set {port_variable} or BIND_HOST)",
                self.bind_host
            )
        };
        let address = std::net::ToSocketAddrs::to_socket_addrs(&(self.bind_host.as_str(), port))
            .with_context(context)?
            .next()
            .with_context(context)?;
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(address),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )
        .with_context(context)?;
        socket.set_reuse_address(true).with_context(context)?;
        socket.set_reuse_port(true).with_context(context)?;
        socket.bind(&address.into()).with_context(context)?;
        socket.listen(1024).with_context(context)?;
        Ok(socket.into())
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            bind_host: "127.0.0.1".into(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure type
mod tests {
    use super::*;

    #[derive(Debug, Default, Serialize, serde::Deserialize)]
    struct Sample {
        #[serde(flatten)]
        db: DatabaseSettings,
        sample_port: u16,
    }

    #[test]
    fn defaults_apply_and_environment_overrides() {
        figment::Jail::expect_with(|jail| {
            // A developer's or CI's exported MYSQL_URL (or DB_POOL_MAX) must not change
            // what this test sees: it checks the defaults. The jail restores it after.
            jail.clear_env();
            jail.set_env("SAMPLE_PORT", "9000");
            let loaded: Sample = from_env().expect("loads");
            assert_eq!(loaded.sample_port, 9000);
            assert_eq!(loaded.db.mysql_url, "mysql://root@127.0.0.1:3306");
            Ok(())
        });
    }

    #[test]
    fn replicas_share_a_port_and_a_plain_listener_does_not() {
        let http = HttpSettings::default();
        let first = http.listen_shared(0, "sales", "SALES_PORT").expect("binds");
        let port = first.local_addr().unwrap().port();
        let second = http
            .listen_shared(port, "sales", "SALES_PORT")
            .expect("a replica joins the port");
        assert_eq!(second.local_addr().unwrap().port(), port);
        let err = http.listen(port, "stock-worker", "STOCK_WORKER_PORT").unwrap_err();
        assert!(format!("{err:#}").contains("STOCK_WORKER_PORT"), "{err:#}");
    }

    #[test]
    fn a_malformed_value_is_an_error_naming_the_problem() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("SAMPLE_PORT", "not-a-port");
            let err = from_env::<Sample>().unwrap_err();
            assert!(format!("{err:#}").contains("invalid configuration"));
            Ok(())
        });
    }
}
