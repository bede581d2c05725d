//! The checks' HTTP: one request's answer (status, content type, JSON or text body; status
//! 0 when nothing answered), what a check expects of it, and Prometheus's API.

use std::fmt;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

/// One request's answer.
#[derive(Debug)]
pub struct Answer {
    /// 0: no answer (the error is the body).
    pub status: u16,
    pub content_type: String,
    /// The JSON body, or its text as a string.
    pub body: Value,
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = self.body.to_string();
        let short: String = body.chars().take(300).collect();
        write!(f, "{} {short}", self.status)
    }
}

impl Answer {
    /// The body, when the status is `status` (and `field` has that value).
    pub fn expect(&self, status: u16, field: Option<(&str, &str)>) -> anyhow::Result<&Value> {
        let field_ok = field.is_none_or(|(name, value)| self.body.get(name).and_then(Value::as_str) == Some(value));
        anyhow::ensure!(
            self.status == status && field_ok,
            "expected {status}{}, got {self}",
            field.map(|(n, v)| format!(" with {n}={v:?}")).unwrap_or_default()
        );
        Ok(&self.body)
    }

    /// The field `name` of a JSON object body.
    pub fn field(&self, name: &str) -> anyhow::Result<&Value> {
        self.body.get(name).with_context(|| format!("no {name} in {self}"))
    }
}

/// A client whose requests give up after 10 s.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
}

impl Http {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?,
        })
    }

    pub async fn get(&self, url: &str) -> Answer {
        answer(self.client.get(url).send().await).await
    }

    pub async fn post_json(&self, url: &str, body: &Value) -> Answer {
        answer(self.client.post(url).json(body).send().await).await
    }

    /// The `data` of a Prometheus API answer whose status is `success`.
    pub async fn prometheus(&self, base: &str, path: &str, query: &[(&str, &str)]) -> Option<Value> {
        let request = self.client.get(format!("{base}{path}")).query(query);
        let answer = answer(request.send().await).await;
        (answer.status == 200 && answer.body.get("status").and_then(Value::as_str) == Some("success"))
            .then(|| answer.body.get("data").cloned())
            .flatten()
    }
}

async fn answer(sent: reqwest::Result<reqwest::Response>) -> Answer {
    let response = match sent {
        Ok(response) => response,
        Err(err) => return no_answer(err),
    };
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    match response.text().await {
        Ok(text) => Answer {
            status,
            content_type,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        },
        Err(err) => no_answer(err),
    }
}

fn no_answer(err: reqwest::Error) -> Answer {
    Answer {
        status: 0,
        content_type: String::new(),
        body: Value::String(err.to_string()),
    }
}
