//! The README's story against the compose stack: a sale, the legacy body, a 409 that asks
//! for a restock, the restock arriving, the factory's production order at stage 종료, and
//! quantity 0 as a 422 problem. Each check says what it saw in the step's log; a failure's
//! first line is what the summary note says.

use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};

use super::cmd::{self, Out};
use super::http::Http;
use super::project::{MYSQL_ROOT_PASSWORD, Project};
use crate::poll;

/// The product the story sells (the seed has 3).
const SKU: &str = "CP-502101";

/// The story's checks, against one project.
pub struct Story<'a> {
    pub http: &'a Http,
    pub project: &'a Project,
    pub out: Out<'a>,
}

/// What the 409 left: the restock it asked for, and the stock before it arrives.
struct Shortage {
    restock_request_id: String,
    remaining: i64,
}

impl Story<'_> {
    fn sales(&self) -> String {
        format!("http://127.0.0.1:{}", self.project.ports.sales)
    }

    /// The whole story; what it saw, for the summary note.
    pub async fn run(&self) -> anyhow::Result<String> {
        let shortage = self
            .until_out_of_stock()
            .await
            .context("the README's story failed before the restock")?;
        let restocked = self.restocked(shortage.remaining).await.context("no restock arrived")?;
        let order = self.production_order(&shortage.restock_request_id).await?;
        self.factory_order(&order)
            .await
            .context("the factory's order did not reach 종료")?;
        self.problem().await.context("quantity 0 was not a 422 problem")?;
        Ok(format!(
            "sale, legacy body, 409, restock after {:.1} s, factory order 종료, 422",
            restocked.as_secs_f64()
        ))
    }

    /// A sale, the legacy body, then more than there is: a 409 naming a restock request.
    async fn until_out_of_stock(&self) -> anyhow::Result<Shortage> {
        let (sales, out) = (self.sales(), self.out);
        let checkout = format!("{sales}/checkout");
        let product = self.http.get(&format!("{sales}/products/{SKU}")).await;
        let stock = product.expect(200, None)?;
        let stock = stock.get("stock").and_then(Value::as_i64).context("no stock")?;
        out.say(format_args!("GET /products/{SKU}: stock {stock}"));
        anyhow::ensure!(
            stock >= 2,
            "the story needs a fresh stack (stock of {SKU} is {stock}, the seed has 3)"
        );
        let sold = self
            .http
            .post_json(&checkout, &json!({"sku": SKU, "quantity": 1}))
            .await;
        sold.expect(200, Some(("status", "sold")))?;
        out.say(format_args!(
            "sale: 200 {}, remaining {}",
            sold.field("message")?,
            sold.field("remaining_stock")?
        ));
        let legacy = json!({
            "MessageAttributeProductId": SKU, "MessageAttributeProductCnt": "1",
            "MessageAttributeFactoryId": "FF-500293", "MessageAttributeRequester": "홍길동",
        });
        let sold = self.http.post_json(&checkout, &legacy).await;
        sold.expect(200, Some(("status", "sold")))?;
        let remaining = sold.field("remaining_stock")?.as_i64().context("remaining_stock")?;
        out.say(format_args!(
            "legacy body: 200 {}, remaining {remaining}",
            sold.field("message")?
        ));
        let more = json!({"sku": SKU, "quantity": remaining + 5});
        let short = self.http.post_json(&checkout, &more).await;
        short.expect(409, Some(("status", "out_of_stock")))?;
        let restock_request_id = match short.field("restock_request_id")? {
            Value::String(id) => id.clone(),
            other => other.to_string(),
        };
        out.say(format_args!(
            "more than there is: 409 {}, restock request {restock_request_id}",
            short.field("message")?
        ));
        Ok(Shortage {
            restock_request_id,
            remaining,
        })
    }

    /// The stock rises above `before`: how long it took.
    async fn restocked(&self, before: i64) -> anyhow::Result<Duration> {
        let url = format!("{}/products/{SKU}", self.sales());
        let what = format!("the restock of {SKU} (stock above {before})");
        let seen = poll::within(&what, Duration::from_secs(120), Duration::from_millis(500), || async {
            let answer = self.http.get(&url).await;
            match answer.body.get("stock").and_then(Value::as_i64) {
                Some(stock) if answer.status == 200 && stock > before => Ok(stock),
                _ => Err(answer),
            }
        })
        .await?;
        self.out.say(format_args!(
            "restock arrived after {:.1} s: stock {}",
            seen.after.as_secs_f64(),
            seen.value
        ));
        Ok(seen.after)
    }

    /// The production order the restock request names, read from MySQL in its container.
    async fn production_order(&self, restock_request_id: &str) -> anyhow::Result<String> {
        let password = format!("-p{MYSQL_ROOT_PASSWORD}");
        let query = format!(
            "SELECT production_order_id FROM stockflow.restock_requests WHERE id = '{}'",
            restock_request_id.replace('\'', "")
        );
        let args = [
            "exec",
            "-T",
            "mysql",
            "mysql",
            "-uroot",
            password.as_str(),
            "-N",
            "-B",
            "-e",
            query.as_str(),
        ];
        let order = cmd::capture(&mut self.project.command(args)).await?;
        let order = order.lines().last().unwrap_or_default().trim().to_string();
        anyhow::ensure!(
            !order.is_empty() && order != "NULL",
            "restock request {restock_request_id} has no production order id"
        );
        Ok(order)
    }

    /// The factory's production order reaches stage 종료.
    async fn factory_order(&self, order: &str) -> anyhow::Result<()> {
        let url = format!(
            "http://127.0.0.1:{}/api/manufactures/{order}",
            self.project.ports.factory
        );
        let what = format!("production order {order} at stage 종료");
        poll::within(&what, Duration::from_secs(60), Duration::from_secs(2), || async {
            let answer = self.http.get(&url).await;
            if answer.status == 200 && answer.body.to_string().contains("종료") {
                Ok(())
            } else {
                Err(answer)
            }
        })
        .await?;
        self.out
            .say(format_args!("factory: production order {order} reached 종료"));
        Ok(())
    }

    /// Quantity 0: a 422 application/problem+json with type, title, status and detail.
    async fn problem(&self) -> anyhow::Result<()> {
        let url = format!("{}/checkout", self.sales());
        let answer = self.http.post_json(&url, &json!({"sku": SKU, "quantity": 0})).await;
        anyhow::ensure!(
            answer.status == 422 && answer.content_type.starts_with("application/problem+json"),
            "quantity 0: expected 422 application/problem+json, got {} {}",
            answer.content_type,
            answer
        );
        let missing: Vec<&str> = ["type", "title", "status", "detail"]
            .into_iter()
            .filter(|k| answer.body.get(k).is_none())
            .collect();
        anyhow::ensure!(missing.is_empty(), "the problem lacks {missing:?}: {answer}");
        self.out.say(format_args!(
            "quantity 0: 422 problem+json: {}",
            answer.field("detail")?
        ));
        Ok(())
    }
}
