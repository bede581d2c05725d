//! The command line stockctl parses: its commands, their flags and their help.

use clap::{ArgGroup, Parser, Subcommand};

use crate::Dlq;

/// Operate stockflow: status, dead-letter queues, alerts, the stock invariant.
///
/// Configured by the services' environment variables: MYSQL_URL, WAREHOUSE_DB,
/// AWS_ENDPOINT_URL (empty for real AWS), AWS_REGION, STOCKFLOW_PREFIX.
/// Exit status: 0 ok, 1 check failed, 2 could not run.
#[derive(Debug, Parser)]
#[command(name = "stockctl", version)]
pub struct Cli {
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Products and stock, open restock requests, queue depths, alarm states.
    Status,
    /// The dead-letter queues.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// The ops_alert_queue inbox: worker alerts and CloudWatch alarm changes.
    /// Reading consumes: what is printed is deleted (use --peek to leave it).
    Alerts {
        /// Keep long-polling and print alerts as they arrive, until Ctrl-C.
        #[arg(long)]
        follow: bool,
        /// Leave the alerts in the queue (read with VisibilityTimeout=0).
        #[arg(long, conflicts_with = "follow")]
        peek: bool,
        /// Also POST each alert to this Slack-compatible incoming webhook
        /// (`{"text": …, "blocks": […]}`); an alert is deleted only once the webhook
        /// answered 2xx. Default: $ALERT_WEBHOOK_URL (ignored with --peek).
        #[arg(long, value_name = "URL", conflicts_with = "peek")]
        webhook: Option<String>,
        /// With --follow: how long an alert the webhook refused waits before it is tried again.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=43_200))]
        retry_seconds: u64,
    },
    /// Production orders that arrived for a restock request another order had fulfilled:
    /// not added to stock, each waiting for a person's decision.
    Surplus {
        #[command(subcommand)]
        command: SurplusCommand,
    },
    /// Check the stock invariant: initial + produced - sold = stock for every sku,
    /// no negative stock, no restock request open too long. Exit 1 when violated.
    Verify {
        /// A restock request open longer than this is a violation.
        #[arg(long, default_value_t = 600)]
        max_open_seconds: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Messages in the DLQs with why they failed (non-destructive).
    List {
        /// Only this DLQ (default: both).
        #[arg(long, value_enum)]
        queue: Option<Dlq>,
    },
    /// One message in full, by its DLQ message id or its original message id.
    Show {
        message_id: String,
        #[arg(long, value_enum)]
        queue: Option<Dlq>,
    },
    /// Move the DLQ's messages back to their work queue and wait until done.
    Redrive {
        #[arg(long, value_enum)]
        queue: Option<Dlq>,
        /// Give up waiting after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout_seconds: u64,
    },
    /// Delete every message of the DLQ(s). Asks first unless --yes.
    Purge {
        #[arg(long, value_enum)]
        queue: Option<Dlq>,
        /// Do not ask (required when stdin is not a terminal).
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SurplusCommand {
    /// The surplus arrivals that wait for a decision.
    List,
    /// Decide on one, once: keep its goods (added to stock) or return them.
    #[command(group(ArgGroup::new("decision").required(true).args(["keep", "return_goods"])))]
    Settle {
        /// The surplus arrival's production order id.
        production_order_id: uuid::Uuid,
        /// Keep the goods: add its quantity to the sku's stock.
        #[arg(long)]
        keep: bool,
        /// Return the goods: stock stays as it is.
        #[arg(long = "return")]
        return_goods: bool,
    },
}

impl Cli {
    /// Whether the command runs until interrupted (and so wants Ctrl-C handled).
    pub fn follows(&self) -> bool {
        matches!(self.command, Command::Alerts { follow: true, .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_parses() {
        let cli = Cli::try_parse_from(["stockctl", "dlq", "redrive", "--queue", "stock-inc", "--json"]).unwrap();
        assert!(cli.json);
        assert!(matches!(
            cli.command,
            Command::Dlq {
                command: DlqCommand::Redrive {
                    queue: Some(Dlq::StockInc),
                    ..
                }
            }
        ));
        let cli = Cli::try_parse_from(["stockctl", "verify"]).unwrap();
        assert!(matches!(cli.command, Command::Verify { max_open_seconds: 600 }));
        assert!(Cli::try_parse_from(["stockctl", "alerts", "--follow", "--peek"]).is_err());
        let order = "0b6a8f52-5d4e-4d7e-9a43-4f6f2b1f8c11";
        for refused in [
            vec!["stockctl", "surplus", "settle", order],
            vec!["stockctl", "surplus", "settle", order, "--keep", "--return"],
            vec!["stockctl", "surplus", "settle", "not-a-uuid", "--keep"],
        ] {
            assert!(Cli::try_parse_from(&refused).is_err(), "{refused:?}");
        }
        let cli = Cli::try_parse_from(["stockctl", "surplus", "settle", order, "--return"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Surplus {
                command: SurplusCommand::Settle {
                    keep: false,
                    return_goods: true,
                    ..
                }
            }
        ));
        assert!(
            Cli::try_parse_from(["stockctl", "alerts", "--follow"])
                .unwrap()
                .follows()
        );
    }
}
