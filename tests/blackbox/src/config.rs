//! Where the stack under test is: read once from the environment, with the defaults
//! of a `scripts/up` stack on this machine. Nothing else is needed to run the suite.

use std::path::PathBuf;

/// The stack's addresses and credentials.
#[derive(Clone, Debug)]
pub struct StackConfig {
    /// `SALES_URL` (default http://127.0.0.1:8080).
    pub sales_url: String,
    /// `FACTORY_URL` (default http://127.0.0.1:8081).
    pub factory_url: String,
    /// `AWS_ENDPOINT_URL` (default http://127.0.0.1:4566; empty: real AWS).
    pub aws_endpoint_url: String,
    /// `AWS_REGION` (default us-east-1).
    pub aws_region: String,
    /// `MYSQL_URL` (default mysql://root@127.0.0.1:3306), without a database.
    pub mysql_url: String,
    /// `WAREHOUSE_DB` (default stockflow).
    pub warehouse_db: String,
    /// `STOCKFLOW_PREFIX` (default empty): the prefix of every topic and queue.
    pub prefix: String,
    /// `STOCKCTL`: the stockctl binary (default: `stockctl` next to this test's
    /// target directory, else on `PATH`).
    pub stockctl: PathBuf,
}

fn var(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

impl StackConfig {
    pub fn from_env() -> Self {
        Self {
            sales_url: var("SALES_URL", "http://127.0.0.1:8080").trim_end_matches('/').into(),
            factory_url: var("FACTORY_URL", "http://127.0.0.1:8081").trim_end_matches('/').into(),
            aws_endpoint_url: var("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
            aws_region: var("AWS_REGION", "us-east-1"),
            mysql_url: var("MYSQL_URL", "mysql://root@127.0.0.1:3306")
                .trim_end_matches('/')
                .into(),
            warehouse_db: var("WAREHOUSE_DB", "stockflow"),
            prefix: var("STOCKFLOW_PREFIX", ""),
            stockctl: std::env::var_os("STOCKCTL")
                .map(PathBuf::from)
                .unwrap_or_else(default_stockctl),
        }
    }

    /// A topic or queue's full name in this stack.
    pub fn name(&self, base: &str) -> String {
        format!("{}{base}", self.prefix)
    }
}

/// `target/<profile>/stockctl` when this test runs from `target/<profile>/deps/`
/// (cargo builds it with `--bins`), else `stockctl` from `PATH` (the e2e image).
fn default_stockctl() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("stockctl")))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from("stockctl"))
}
