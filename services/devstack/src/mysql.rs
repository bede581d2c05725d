//! `MYSQL_URL`, read once, the way the services read it (mysql_async's URL parser): the
//! scripts ask `stockflow-devstack mysql-check` instead of parsing it themselves. Also a
//! login check (a server that accepts TCP but refuses the user is not "up") and
//! dropping databases.

use anyhow::Context;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};
use stockflow_kit::db::redact;

/// The server a `MYSQL_URL` names.
#[derive(Clone, Debug)]
pub struct MysqlServer {
    url: String,
    opts: Opts,
}

impl MysqlServer {
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let opts = Opts::from_url(url).with_context(|| {
            format!(
                "MYSQL_URL is not a mysql:// URL: {} (expected mysql://user[:password]@host[:port])",
                redact(url)
            )
        })?;
        Ok(Self {
            url: url.to_string(),
            opts,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn host(&self) -> String {
        self.opts.ip_or_hostname().to_string()
    }

    pub fn port(&self) -> u16 {
        self.opts.tcp_port()
    }

    pub fn user(&self) -> String {
        self.opts.user().unwrap_or("root").to_string()
    }

    /// The URL with its password hidden, for messages.
    pub fn redacted(&self) -> String {
        redact(&self.url)
    }

    async fn connect(&self) -> anyhow::Result<Conn> {
        Conn::new(OptsBuilder::from_opts(self.opts.clone()).db_name(None::<String>))
            .await
            .with_context(|| {
                format!(
                    "cannot log in to MySQL at {}:{} as {} ({})",
                    self.host(),
                    self.port(),
                    self.user(),
                    self.redacted()
                )
            })
    }

    /// Logs in and returns the server's version.
    pub async fn check(&self) -> anyhow::Result<String> {
        let mut conn = self.connect().await?;
        let version: Option<String> = conn.query_first("SELECT VERSION()").await?;
        conn.disconnect().await.ok();
        Ok(version.unwrap_or_default())
    }

    /// `DROP DATABASE IF EXISTS` each of `names` (plain identifiers only).
    pub async fn drop_databases(&self, names: &[String]) -> anyhow::Result<()> {
        let mut conn = self.connect().await?;
        for name in names {
            anyhow::ensure!(
                !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "refusing to drop database `{name}`: not a plain identifier"
            );
            conn.query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
                .await
                .with_context(|| format!("cannot drop database `{name}`"))?;
        }
        conn.disconnect().await.ok();
        Ok(())
    }
}

/// Logs in at `url`: the line that says so; on failure, how to get a server there.
pub async fn check_or_explain(url: &str) -> anyhow::Result<String> {
    let server = MysqlServer::parse(url)?;
    match server.check().await {
        Ok(version) => Ok(format!(
            "logged in to {}:{} as {}: server {version}",
            server.host(),
            server.port(),
            server.user()
        )),
        Err(err) => Err(err.context(format!(
            "MySQL/MariaDB does not accept a login at MYSQL_URL={}. Either\n\
             - start the local server: service mariadb start   (Debian: apt-get install mariadb-server), or\n\
             - with Docker: docker compose up -d mysql, then\n  \
               export MYSQL_URL=mysql://root:stockflow@127.0.0.1:23306   (compose publishes MySQL on 23306)\n\
             - or point MYSQL_URL at a server and a user that may create databases:\n  \
               export MYSQL_URL=mysql://user:password@host:port",
            server.redacted()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_host_port_and_user_and_hides_the_password() {
        let server = MysqlServer::parse("mysql://app:s3cret@db.internal:3307").unwrap();
        assert_eq!(
            (server.host(), server.port(), server.user()),
            ("db.internal".into(), 3307, "app".into())
        );
        assert_eq!(server.redacted(), "mysql://app:***@db.internal:3307");
        let default_port = MysqlServer::parse("mysql://root@127.0.0.1").unwrap();
        assert_eq!(default_port.port(), 3306);
    }

    #[test]
    fn a_url_that_is_not_mysql_is_refused_with_the_expected_form() {
        let err = MysqlServer::parse("postgres://x@y").unwrap_err();
        assert!(format!("{err:#}").contains("mysql://user"), "{err:#}");
    }
}
