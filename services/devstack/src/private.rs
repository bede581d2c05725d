//! Private instances for the tests that crash or freeze a dependency: a MariaDB server
//! of their own here, and a LocalStack of their own ([`PrivateLocalstack`], started by
//! [`crate::localstack`] as every LocalStack is); own port, own data directory or
//! `FILESYSTEM_ROOT`, never the shared ones other tests depend on. Each can be killed with `kill -9`,
//! frozen with SIGSTOP and thawed, and started again on the same directory. A MariaDB
//! can keep its data on a small filesystem of its own (a size-limited tmpfs) that a test
//! fills up and frees. Dropping one kills it and removes its directory (unmounting its
//! filesystem first), also when the test failed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::process::{Child, Command};

pub use crate::localstack::PrivateLocalstack;
use crate::mysql::MysqlServer;
use crate::process::{signal_group, tail};

/// A directory of its own under the system's temp dir.
pub(crate) fn private_dir(kind: &str) -> anyhow::Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!("stockflow-{kind}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// A process's state letter from /proc (`T` when stopped by a signal, `?` when gone).
pub fn process_state(pid: u32) -> char {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
        })
        .unwrap_or('?')
}

/// A process of a private instance, started in its own process group.
pub(crate) struct Instance {
    pub(crate) child: Option<Child>,
    pub(crate) log: PathBuf,
}

impl Instance {
    pub(crate) fn new(log: PathBuf) -> Self {
        Self { child: None, log }
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    pub(crate) fn signal(&self, signal: i32) -> anyhow::Result<()> {
        signal_group(self.pid().context("not running")?, signal)
    }

    pub(crate) fn exited(&mut self) -> bool {
        self.child.as_mut().is_none_or(|c| !matches!(c.try_wait(), Ok(None)))
    }

    /// `kill -9` of its whole process group; returns once the process is reaped.
    pub(crate) async fn kill_9(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                signal_group(pid, libc::SIGCONT).ok(); // a frozen group dies as well, but be sure
                signal_group(pid, libc::SIGKILL)?;
            }
            tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .context("not gone 10 s after SIGKILL")??;
        }
        Ok(())
    }
}

impl Instance {
    /// Kills the server and waits for it (what dropping it does).
    fn stop(&mut self) {
        drop(std::mem::replace(
            self,
            Instance {
                child: None,
                log: PathBuf::new(),
            },
        ));
    }

    /// [`Self::stop`], then removes its directory: the server's files must be closed
    /// before they go.
    pub(crate) fn stop_then_remove(&mut self, dir: &std::path::Path) {
        self.stop();
        let _ = std::fs::remove_dir_all(dir);
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            signal_group(pid, libc::SIGCONT).ok();
            signal_group(pid, libc::SIGKILL).ok();
            // Give the kernel a moment to release its files before the directory goes.
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && std::path::Path::new(&format!("/proc/{pid}/cmdline")).exists() {
                if let Some(child) = self.child.as_mut()
                    && matches!(child.try_wait(), Ok(Some(_)))
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// A MariaDB server of a test's own, run from the machine's `mariadbd`.
pub struct PrivateMariadb {
    dir: PathBuf,
    port: u16,
    instance: Instance,
    /// The size-limited filesystem holding the data directory, if it has one.
    small_disk: Option<PathBuf>,
}

/// The file [`PrivateMariadb::fill_disk`] fills its filesystem with.
const BALLAST: &str = "ballast";

impl PrivateMariadb {
    /// Initializes a data directory and starts the server on a free port.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = private_dir("mariadb")?;
        Self::start_in(dir, None).await
    }

    /// Like [`Self::start`], with the data directory on a tmpfs of `mebibytes` of its
    /// own, so that its writes really fail for lack of space once a test fills it
    /// ([`Self::fill_disk`]). Mounting needs root (or CAP_SYS_ADMIN); the install alone
    /// takes about 115 MiB (InnoDB's 96 MiB redo log among it).
    pub async fn start_on_small_disk(mebibytes: u64) -> anyhow::Result<Self> {
        let dir = private_dir("mariadb")?;
        let disk = dir.join("disk");
        std::fs::create_dir_all(&disk)?;
        let mount = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mebibytes}m"), "tmpfs"])
            .arg(&disk)
            .output()
            .context("cannot run mount")?;
        if !mount.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        anyhow::ensure!(
            mount.status.success(),
            "cannot mount a {mebibytes} MiB tmpfs at {} (a small disk for MariaDB needs root or CAP_SYS_ADMIN): {}",
            disk.display(),
            String::from_utf8_lossy(&mount.stderr).trim()
        );
        Self::start_in(dir, Some(disk)).await
    }

    /// Where the server keeps its data: on its small disk, if it has one.
    fn data_dir(dir: &Path, small_disk: Option<&Path>) -> PathBuf {
        small_disk.unwrap_or(dir).join("data")
    }

    async fn start_in(dir: PathBuf, small_disk: Option<PathBuf>) -> anyhow::Result<Self> {
        let mut server = Self {
            port: crate::ports::free_ports(1)?[0],
            instance: Instance {
                child: None,
                log: dir.join("mariadbd.log"),
            },
            dir,
            small_disk,
        };
        let data = Self::data_dir(&server.dir, server.small_disk.as_deref());
        let install = Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args([
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ])
            .stdin(Stdio::null())
            .output()
            .await
            .context("cannot run mariadb-install-db (Debian: apt-get install mariadb-server)")?;
        anyhow::ensure!(
            install.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&install.stderr)
        );
        server.launch().await?;
        Ok(server)
    }

    /// `mysql://root@127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.instance.pid()
    }

    /// The server's log (its errors: a full disk shows there as `error 28`).
    pub fn log(&self) -> &Path {
        &self.instance.log
    }

    async fn launch(&mut self) -> anyhow::Result<()> {
        let data = Self::data_dir(&self.dir, self.small_disk.as_deref());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.instance.log)?;
        let mariadbd = ["/usr/sbin/mariadbd", "/usr/local/sbin/mariadbd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("mariadbd");
        let child = Command::new(mariadbd)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--port={}", self.port))
            .arg(format!("--socket={}", data.join("s.sock").display()))
            .args(["--bind-address=127.0.0.1", "--user=root", "--max-connections=500"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .context("cannot start mariadbd")?;
        self.instance.child = Some(child);
        let server = MysqlServer::parse(&self.url())?;
        let start = Instant::now();
        loop {
            if server.check().await.is_ok() {
                return Ok(());
            }
            anyhow::ensure!(
                !self.instance.exited(),
                "mariadbd exited during start:\n{}",
                tail(&self.instance.log, 20)
            );
            anyhow::ensure!(
                start.elapsed() < Duration::from_secs(60),
                "mariadbd does not accept logins after 60 s:\n{}",
                tail(&self.instance.log, 20)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `kill -9` of the server; returns once it is gone.
    pub async fn kill_9(&mut self) -> anyhow::Result<()> {
        self.instance.kill_9().await
    }

    /// Starts the server again on the same data directory and port (crash recovery runs).
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.launch().await
    }

    /// SIGSTOP: the kernel still accepts connections and takes what is sent; the
    /// server answers nothing until [`Self::thaw`].
    pub fn freeze(&self) -> anyhow::Result<()> {
        self.instance.signal(libc::SIGSTOP)
    }

    /// SIGCONT after [`Self::freeze`]: the server carries on where it stopped.
    pub fn thaw(&self) -> anyhow::Result<()> {
        self.instance.signal(libc::SIGCONT)
    }

    /// Fills the server's small disk with a ballast file until no byte is left; returns
    /// the bytes written.
    pub fn fill_disk(&self) -> anyhow::Result<u64> {
        use std::io::Write;
        let disk = self.small_disk.as_ref().context("this server has no small disk")?;
        let mut ballast = std::fs::File::create(disk.join(BALLAST))?;
        let chunk = vec![0u8; 1 << 20];
        let mut written = 0u64;
        loop {
            match ballast.write(&chunk) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(err) if err.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(err) => return Err(err).context("writing the ballast"),
            }
        }
        Ok(written)
    }

    /// Bytes free on the server's small disk.
    pub fn disk_free(&self) -> anyhow::Result<u64> {
        let disk = self.small_disk.as_ref().context("this server has no small disk")?;
        let path = std::ffi::CString::new(disk.as_os_str().as_encoded_bytes())?;
        let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: a valid C string and a statvfs the call fills in.
        anyhow::ensure!(
            unsafe { libc::statvfs(path.as_ptr(), &mut stat) } == 0,
            "statvfs {}: {}",
            disk.display(),
            std::io::Error::last_os_error()
        );
        Ok(stat.f_bavail as u64 * stat.f_frsize as u64)
    }

    /// Removes the ballast of [`Self::fill_disk`]: the space is free again.
    pub fn free_disk(&self) -> anyhow::Result<()> {
        let disk = self.small_disk.as_ref().context("this server has no small disk")?;
        std::fs::remove_file(disk.join(BALLAST)).context("removing the ballast")
    }
}

impl Drop for PrivateMariadb {
    fn drop(&mut self) {
        if let Some(disk) = &self.small_disk {
            self.instance.stop();
            let _ = std::process::Command::new("umount").arg(disk).status();
        }
        self.instance.stop_then_remove(&self.dir);
    }
}
