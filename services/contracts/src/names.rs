//! The topology's topic and queue names (without an environment's prefix), as
//! `localstack/stockflow.yaml` declares them: a producer and its consumers name them here.

pub const STOCK_EMPTY_TOPIC: &str = "stock_empty";
pub const STOCK_ARRIVAL_TOPIC: &str = "stock_arrival";
pub const OPS_ALERTS_TOPIC: &str = "ops_alerts";
pub const STOCK_QUEUE: &str = "stock_queue";
pub const STOCK_DLQ: &str = "dead_letter_queue";
pub const STOCK_INC_QUEUE: &str = "stock_inc_queue";
pub const STOCK_INC_DLQ: &str = "stock_inc_dead_letter_queue";
pub const OPS_ALERT_QUEUE: &str = "ops_alert_queue";
