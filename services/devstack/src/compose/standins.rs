//! Local stand-ins for base images no registry serves, under names of their own
//! (`stockflow-standin/…`; an official name is never re-tagged):
//!
//! - a root file system ([`Rootfs`]): `debootstrap --variant=minbase bookworm` from this
//!   machine's Debian mirror, its CA bundle (its registries sit behind a TLS proxy) and what
//!   the kind copies from this machine, `docker import`ed as one layer (vfs copies every
//!   layer whole, so the big toolchain images are one);
//! - a Dockerfile of `scripts/standins/` ([`Recipe::Dockerfile`]) on the Debian one (layer
//!   cache: seconds when nothing changed), its context the CA bundle and the files it copies.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use tokio::process::Command;

use super::cmd::{self, Out, on_path};
use super::engine::{Docker, apt_install};

/// The Debian stand-in, base of every other one.
pub const BASE: &str = "stockflow-standin/debian:bookworm";
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// A root file system stand-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rootfs {
    /// For debian:bookworm-slim.
    Debian,
    /// For rust:1.95-bookworm: a C toolchain and this machine's Rust toolchain (of the pinned
    /// version) at the official image's paths.
    Rust,
    /// For node:20-bookworm-slim: this machine's node and npm at the official image's paths.
    Node,
}

impl Rootfs {
    fn name(self) -> &'static str {
        match self {
            Rootfs::Debian => "debian",
            Rootfs::Rust => "rust",
            Rootfs::Node => "node",
        }
    }
}

/// How a stand-in is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recipe {
    Rootfs(Rootfs),
    /// `scripts/standins/<kind>.Dockerfile` on [`BASE`].
    Dockerfile(&'static str),
}

/// The Debian mirror of apt's sources: a deb822 `URIs:` line, else a one-line `deb URL
/// bookworm` source.
pub fn mirror_in(deb822: &str, one_line: &str) -> Option<String> {
    let is_debian = |url: &str| url.starts_with("http") && url.trim_end_matches('/').ends_with("debian");
    let from_deb822 = deb822
        .lines()
        .filter_map(|line| line.strip_prefix("URIs:"))
        .map(str::trim)
        .find(|url| !url.contains(' ') && is_debian(url));
    let from_one_line = || {
        one_line.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                ["deb", url, suite, ..] if is_debian(url) && suite.starts_with("bookworm") => Some(*url),
                _ => None,
            }
        })
    };
    from_deb822.or_else(from_one_line).map(String::from)
}

/// The mirror apt uses on this machine, for debootstrap.
fn mirror() -> String {
    let mut sources: Vec<PathBuf> = std::fs::read_dir("/etc/apt/sources.list.d")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "sources"))
        .collect();
    sources.sort();
    let deb822: String = sources.iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect();
    let one_line = std::fs::read_to_string("/etc/apt/sources.list").unwrap_or_default();
    mirror_in(&deb822, &one_line).unwrap_or_else(|| "http://deb.debian.org/debian".into())
}

/// Where stand-ins are built from.
pub struct Builder<'a> {
    pub docker: &'a Docker,
    /// The repository (scripts/standins, localstack/requirements.txt).
    pub root: &'a Path,
    /// Their logs and build directories.
    pub dir: &'a Path,
    /// `$STOCKFLOW_CACHE` (debootstrap's package cache).
    pub cache: &'a Path,
}

impl Builder<'_> {
    /// Makes `name` unless present (a Dockerfile stand-in is always rebuilt: the layer cache
    /// makes that quick, and it follows changes of its Dockerfile).
    pub async fn ensure(&self, name: &str, recipe: Recipe) -> anyhow::Result<()> {
        match recipe {
            Recipe::Rootfs(kind) if !self.docker.has_image(name).await => self.rootfs(name, kind).await,
            Recipe::Rootfs(_) => Ok(()),
            Recipe::Dockerfile(kind) => {
                if !self.docker.has_image(BASE).await {
                    self.rootfs(BASE, Rootfs::Debian).await?;
                }
                self.dockerfile(name, kind).await
            }
        }
    }

    /// debootstrap, what the kind copies, `docker import`.
    async fn rootfs(&self, name: &str, kind: Rootfs) -> anyhow::Result<()> {
        let started = Instant::now();
        let dir = self.dir.join(format!("rootfs-{}", kind.name()));
        let log = self.dir.join(format!("rootfs-{}.log", kind.name()));
        if on_path("debootstrap").is_none() {
            apt_install(&["debootstrap"]).await?;
        }
        let include = match kind {
            Rootfs::Rust => {
                check_rustc(name).await?;
                Some("--include=gcc,g++,libc6-dev,make,pkg-config,curl,ca-certificates")
            }
            Rootfs::Node => {
                anyhow::ensure!(
                    on_path("node").is_some() && on_path("npm").is_some(),
                    "no node and npm on this machine to stand in for the node image (install Node.js 20)"
                );
                None
            }
            Rootfs::Debian => None,
        };
        let mirror = mirror();
        Out::Stderr.say(format_args!(
            "building stand-in {name}: debootstrap bookworm from {mirror} {}(log: {})",
            include.map(|i| format!("({i}) ")).unwrap_or_default(),
            log.display()
        ));
        cmd::remove_all(&dir)?;
        std::fs::write(&log, "")?;
        let packages = self.cache.join("debootstrap");
        std::fs::create_dir_all(&packages)?;
        let mut debootstrap = Command::new("debootstrap");
        debootstrap.arg("--variant=minbase").args(include);
        debootstrap.arg(format!("--cache-dir={}", packages.display()));
        debootstrap.arg("bookworm").arg(&dir).arg(&mirror);
        cmd::run(&mut debootstrap, Out::Log(&log))
            .await
            .map_err(|err| cmd::with_tail(&err, &log, 20))?;
        copy(Path::new(CA_BUNDLE), &dir.join("etc/ssl/certs/ca-certificates.crt"))?;
        match kind {
            Rootfs::Rust => copy_rust_toolchain(&dir, &log).await?,
            Rootfs::Node => copy_node(&dir).await?,
            Rootfs::Debian => {}
        }
        self.import(name, kind, &dir, &log).await?;
        cmd::remove_all(&dir)?;
        Out::Stderr.say(format_args!("{name} imported in {} s", started.elapsed().as_secs()));
        Ok(())
    }

    /// `tar -C dir -c . | docker import ... - name`, without apt's caches.
    async fn import(&self, name: &str, kind: Rootfs, dir: &Path, log: &Path) -> anyhow::Result<()> {
        cmd::remove_all(&dir.join("var/lib/apt/lists"))?;
        for deb in std::fs::read_dir(dir.join("var/cache/apt/archives"))?.flatten() {
            if deb.path().extension().is_some_and(|e| e == "deb") {
                std::fs::remove_file(deb.path())?;
            }
        }
        let changes: &[&str] = match kind {
            Rootfs::Rust => &[
                "ENV CARGO_HOME=/usr/local/cargo",
                "ENV PATH=/usr/local/rustup/toolchain/bin:/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ],
            Rootfs::Node => &["ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt"],
            Rootfs::Debian => &[],
        };
        let mut tar = Command::new("tar");
        tar.arg("-C").arg(dir).args(["-c", "."]);
        let mut import = self.docker.command(["import"]);
        for change in changes.iter().chain(&[r#"CMD ["bash"]"#]) {
            import.args(["-c", change]);
        }
        import.args(["-", name]);
        cmd::pipe(&mut tar, &mut import, Out::Log(log))
            .await
            .map_err(|err| cmd::with_tail(&err, log, 20))
    }

    /// `docker build` of scripts/standins/<kind>.Dockerfile on [`BASE`].
    async fn dockerfile(&self, name: &str, kind: &str) -> anyhow::Result<()> {
        let started = Instant::now();
        let context = self.dir.join(format!("standin-{kind}"));
        let log = self.dir.join(format!("standin-{kind}.log"));
        cmd::remove_all(&context)?;
        std::fs::create_dir_all(&context)?;
        copy(Path::new(CA_BUNDLE), &context.join("ca-certificates.crt"))?;
        let copied = match kind {
            "mariadb" => Some(self.root.join("scripts/standins/mariadb-entrypoint.sh")),
            "localstack" => Some(self.root.join("localstack/requirements.txt")),
            _ => None,
        };
        if let Some(file) = copied {
            copy(&file, &context.join(file.file_name().context("a file name")?))?;
        }
        Out::Stderr.say(format_args!(
            "building stand-in {name} (scripts/standins/{kind}.Dockerfile; log: {})",
            log.display()
        ));
        std::fs::write(&log, "")?;
        let dockerfile = self.root.join(format!("scripts/standins/{kind}.Dockerfile"));
        let base = format!("BASE_IMAGE={BASE}");
        let mut build = self.docker.command([
            "build",
            "--network",
            "host",
            "--build-arg",
            base.as_str(),
            "-t",
            name,
            "-f",
        ]);
        build.arg(&dockerfile).arg(&context).env("DOCKER_BUILDKIT", "1");
        cmd::run(&mut build, Out::Log(&log))
            .await
            .map_err(|err| cmd::with_tail(&err, &log, 30))?;
        cmd::remove_all(&context)?;
        Out::Stderr.say(format_args!("{name} ready in {} s", started.elapsed().as_secs()));
        Ok(())
    }
}

/// Copies `from` to `to`, creating `to`'s folder.
fn copy(from: &Path, to: &Path) -> anyhow::Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::copy(from, to).with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// This machine's rustc is of the version the image name pins (`…/rust:1.95`).
async fn check_rustc(name: &str) -> anyhow::Result<()> {
    let version = cmd::capture(Command::new("rustc").arg("--version"))
        .await
        .context("no rustc on this machine to stand in for the rust image (install it with rustup)")?;
    let pinned = name.rsplit(':').next().unwrap_or_default();
    anyhow::ensure!(
        version.starts_with(&format!("rustc {pinned}.")),
        "this machine's {version} cannot stand in for Rust {pinned} (install it with rustup)"
    );
    Ok(())
}

/// `rustc --print sysroot` (without its docs) to /usr/local/rustup/toolchain.
async fn copy_rust_toolchain(dir: &Path, log: &Path) -> anyhow::Result<()> {
    let sysroot = cmd::capture(Command::new("rustc").args(["--print", "sysroot"])).await?;
    let toolchain = dir.join("usr/local/rustup/toolchain");
    std::fs::create_dir_all(&toolchain)?;
    std::fs::create_dir_all(dir.join("usr/local/cargo/bin"))?;
    let mut pack = Command::new("tar");
    pack.args(["-C", &sysroot, "--exclude=./share/doc", "-c", "."]);
    let mut unpack = Command::new("tar");
    unpack.arg("-C").arg(&toolchain).arg("-x");
    cmd::pipe(&mut pack, &mut unpack, Out::Log(log)).await
}

/// This machine's node and npm at /usr/local/bin and /usr/local/lib/node_modules/npm.
async fn copy_node(dir: &Path) -> anyhow::Result<()> {
    let node = on_path("node").context("node is not on PATH")?.canonicalize()?;
    let npm_cli = on_path("npm").context("npm is not on PATH")?.canonicalize()?;
    let npm = npm_cli
        .parent()
        .and_then(Path::parent)
        .context("npm's package folder")?;
    let modules = dir.join("usr/local/lib/node_modules");
    std::fs::create_dir_all(&modules)?;
    copy(&node, &dir.join("usr/local/bin/node"))?;
    cmd::run(
        Command::new("cp").arg("-a").arg(npm).arg(modules.join("npm")),
        Out::Stderr,
    )
    .await?;
    for (link, target) in [("npm", "npm-cli.js"), ("npx", "npx-cli.js")] {
        std::os::unix::fs::symlink(
            format!("../lib/node_modules/npm/bin/{target}"),
            dir.join("usr/local/bin").join(link),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mirror_comes_from_deb822_first_else_from_a_one_line_bookworm_source() {
        let cases = [
            (
                "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n",
                "deb http://other.example/debian bookworm main\n",
                Some("http://mirror.example/debian/"),
            ),
            (
                "URIs: http://security.example/debian-security\n",
                "# deb http://x/debian bookworm\ndeb http://deb.example/debian bookworm-updates main\n",
                Some("http://deb.example/debian"),
            ),
            ("", "deb http://x/ubuntu jammy main", None),
        ];
        for (deb822, one_line, mirror) in cases {
            assert_eq!(
                mirror_in(deb822, one_line).as_deref(),
                mirror,
                "{deb822:?} / {one_line:?}"
            );
        }
    }
}
