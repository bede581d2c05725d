//! What a test leaves behind is removed whether it passes or fails: its databases and its
//! CloudFormation stack. [`Cleanup::run`] does it at the end of a passing test; if the
//! test panics first, dropping the guard does it on a thread of its own (the test's
//! runtime may be unwinding), and the stack's deletion is awaited either way.

use crate::mysql::MysqlServer;
use crate::topology::Topology;

pub struct Cleanup {
    mysql_url: String,
    databases: Vec<String>,
    stack: Option<(aws_sdk_cloudformation::Client, Topology)>,
    done: bool,
}

impl Cleanup {
    pub fn new(mysql_url: &str, databases: Vec<String>) -> Self {
        Self {
            mysql_url: mysql_url.to_string(),
            databases,
            stack: None,
            done: false,
        }
    }

    /// Also deletes this stack.
    pub fn stack(&mut self, cf: aws_sdk_cloudformation::Client, topology: Topology) {
        self.stack = Some((cf, topology));
    }

    /// Drops the databases and deletes the stack, waiting until it is gone.
    pub async fn run(mut self) -> anyhow::Result<()> {
        self.done = true;
        remove(&self.mysql_url, &self.databases, self.stack.take()).await
    }
}

async fn remove(
    mysql_url: &str,
    databases: &[String],
    stack: Option<(aws_sdk_cloudformation::Client, Topology)>,
) -> anyhow::Result<()> {
    let dropped = async { MysqlServer::parse(mysql_url)?.drop_databases(databases).await }.await;
    if let Some((cf, topology)) = stack {
        topology.delete(&cf).await?;
    }
    dropped
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let (url, databases, stack) = (self.mysql_url.clone(), self.databases.clone(), self.stack.take());
        let cleaned = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(remove(&url, &databases, stack))
        })
        .join();
        match cleaned {
            Ok(Ok(())) => eprintln!("test failed: its databases and stack were removed"),
            Ok(Err(err)) => eprintln!("test failed, and removing its databases and stack failed too: {err:#}"),
            Err(_) => eprintln!("test failed, and removing its databases and stack panicked"),
        }
    }
}
