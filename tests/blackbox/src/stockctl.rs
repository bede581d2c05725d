//! `stockctl`, run as an operator runs it: the binary, configured by the stack's
//! environment variables, its output read as JSON (`--json`).

use serde_json::Value;

use crate::StackConfig;

/// Runs `stockctl --json <args>` against the stack; returns its exit status and its JSON.
pub async fn run(config: &StackConfig, args: &[&str]) -> (i32, Value) {
    let output = tokio::process::Command::new(&config.stockctl)
        .arg("--json")
        .args(args)
        .env("MYSQL_URL", &config.mysql_url)
        .env("WAREHOUSE_DB", &config.warehouse_db)
        .env("AWS_ENDPOINT_URL", &config.aws_endpoint_url)
        .env("AWS_REGION", &config.aws_region)
        .env("STOCKFLOW_PREFIX", &config.prefix)
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (build it with `cargo build -p stockctl`, or set STOCKCTL): {e}",
                config.stockctl.display()
            )
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|_| {
        panic!(
            "stockctl {args:?} printed no JSON (exit {:?}).\nstdout: {stdout}\nstderr: {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), json)
}
