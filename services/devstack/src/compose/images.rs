//! The base images: read from where they are declared (`ARG X_IMAGE=...` in the Dockerfile,
//! `${X_IMAGE:-...}` in compose.yaml; `STOCKFLOW_*_IMAGE` are the images built here), and for
//! each the one to use: the variable when you set it, the real image when present or
//! pullable, else a local stand-in ([`super::standins`]), passed to compose as that variable.
//! An image with neither (Grafana: not in Debian) is listed as missing, and what needs it
//! is not run.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context;

use super::cmd::Out;
use super::engine::Docker;
use super::standins::{self, Recipe, Rootfs};

/// A base image variable and its declared default.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Declared {
    pub variable: String,
    pub default: String,
}

/// `ARG X_IMAGE=default` lines of a Dockerfile.
pub fn declared_in_dockerfile(text: &str) -> Vec<Declared> {
    text.lines()
        .filter_map(|line| line.strip_prefix("ARG "))
        .filter_map(|arg| arg.split_once('='))
        .filter(|(variable, _)| is_image_variable(variable))
        .map(|(variable, default)| Declared {
            variable: variable.into(),
            default: default.into(),
        })
        .collect()
}

/// `${X_IMAGE:-default}` anywhere in a compose file.
pub fn declared_in_compose(text: &str) -> Vec<Declared> {
    text.split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}'))
        .filter_map(|(inside, _)| inside.split_once(":-"))
        .filter(|(variable, _)| is_image_variable(variable))
        .map(|(variable, default)| Declared {
            variable: variable.into(),
            default: default.into(),
        })
        .collect()
}

/// `[A-Z_]*_IMAGE`, not one of the images built here (`STOCKFLOW_*`).
fn is_image_variable(name: &str) -> bool {
    name.ends_with("_IMAGE")
        && !name.starts_with("STOCKFLOW_")
        && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
}

/// Every base image the Dockerfile and compose.yaml in `root` declare, each once, sorted.
pub fn declared(root: &Path) -> anyhow::Result<BTreeSet<Declared>> {
    let read = |name: &str| {
        std::fs::read_to_string(root.join(name)).with_context(|| format!("cannot read {}", root.join(name).display()))
    };
    let mut all: BTreeSet<Declared> = declared_in_dockerfile(&read("Dockerfile")?).into_iter().collect();
    all.extend(declared_in_compose(&read("compose.yaml")?));
    Ok(all)
}

/// The stand-in for a variable: its image name and how it is made; `None` when there is none.
pub fn standin_for(variable: &str) -> Option<(&'static str, Recipe)> {
    Some(match variable {
        "RUNTIME_IMAGE" => (standins::BASE, Recipe::Rootfs(Rootfs::Debian)),
        "RUST_IMAGE" => ("stockflow-standin/rust:1.95", Recipe::Rootfs(Rootfs::Rust)),
        "NODE_IMAGE" => ("stockflow-standin/node:20", Recipe::Rootfs(Rootfs::Node)),
        "MYSQL_IMAGE" => ("stockflow-standin/mariadb:10.11", Recipe::Dockerfile("mariadb")),
        "LOCALSTACK_IMAGE" => ("stockflow-standin/localstack:4.13.1", Recipe::Dockerfile("localstack")),
        "PROMETHEUS_IMAGE" => ("stockflow-standin/prometheus:2.42", Recipe::Dockerfile("prometheus")),
        _ => return None,
    })
}

/// A stand-in used in place of an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standin {
    pub variable: String,
    pub name: String,
    pub instead_of: String,
}

/// What the images came to: the variables to pass to compose, the stand-ins, the missing.
#[derive(Debug, Default)]
pub struct Images {
    pub env: Vec<(String, String)>,
    pub standins: Vec<Standin>,
    /// Neither present, pullable nor stood in for.
    pub missing: Vec<Declared>,
}

impl Images {
    /// Whether the image of `variable` is missing (what needs it is not run).
    pub fn is_missing(&self, variable: &str) -> bool {
        self.missing.iter().any(|m| m.variable == variable)
    }
}

/// For every declared base image: yours, the real one, or a stand-in (built in `dir`).
pub async fn resolve(docker: &Docker, root: &Path, dir: &Path, cache: &Path) -> anyhow::Result<Images> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut images = Images::default();
    for image in declared(root)? {
        let variable = &image.variable;
        if let Some(yours) = std::env::var(variable).ok().filter(|v| !v.is_empty()) {
            Out::Stderr.say(format_args!("{variable}={yours} (set by you)"));
            continue;
        }
        if docker.has_image(&image.default).await || docker.pull(&image.default).await {
            Out::Stderr.say(format_args!("{variable}: {}", image.default));
            continue;
        }
        let Some((name, recipe)) = standin_for(variable) else {
            Out::Stderr.say(format_args!(
                "{variable}: {} cannot be pulled and has no stand-in: what needs it is not run",
                image.default
            ));
            images.missing.push(image);
            continue;
        };
        Out::Stderr.say(format_args!(
            "{variable}: {} cannot be pulled: stand-in {name}",
            image.default
        ));
        let builder = standins::Builder {
            docker,
            root,
            dir,
            cache,
        };
        builder.ensure(name, recipe).await?;
        images.env.push((variable.clone(), name.into()));
        images.standins.push(Standin {
            variable: variable.clone(),
            name: name.into(),
            instead_of: image.default.clone(),
        });
    }
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(variable: &str, default: &str) -> Declared {
        Declared {
            variable: variable.into(),
            default: default.into(),
        }
    }

    #[test]
    fn the_dockerfile_declares_its_base_images_as_args() {
        let text = "# syntax\nARG RUST_IMAGE=rust:1.95-bookworm\nARG PROFILE=release\nARG STOCKFLOW_IMAGE=x\nFROM ${RUST_IMAGE} AS build\n";
        assert_eq!(
            declared_in_dockerfile(text),
            [declared("RUST_IMAGE", "rust:1.95-bookworm")]
        );
    }

    #[test]
    fn compose_declares_them_as_defaults_of_variables() {
        let text = "    image: ${MYSQL_IMAGE:-mysql:8.4}\n    image: ${STOCKFLOW_IMAGE:-stockflow:local}\n    \
                    RUST_IMAGE: ${RUST_IMAGE:-rust:1.95-bookworm}\n    port: ${SALES_HOST_PORT:-28080}\n    x: ${GRAFANA_IMAGE}\n";
        assert_eq!(
            declared_in_compose(text),
            [
                declared("MYSQL_IMAGE", "mysql:8.4"),
                declared("RUST_IMAGE", "rust:1.95-bookworm")
            ]
        );
    }

    #[test]
    fn the_repository_declares_every_image_that_has_a_standin_and_grafana() {
        let root = Path::new(super::super::ROOT);
        let variables: Vec<String> = super::declared(root).unwrap().into_iter().map(|d| d.variable).collect();
        for variable in [
            "GRAFANA_IMAGE",
            "LOCALSTACK_IMAGE",
            "MYSQL_IMAGE",
            "NODE_IMAGE",
            "PROMETHEUS_IMAGE",
            "RUNTIME_IMAGE",
            "RUST_IMAGE",
        ] {
            assert!(
                variables.iter().any(|v| v == variable),
                "{variable} not in {variables:?}"
            );
        }
        assert_eq!(variables.len(), 7, "each variable once: {variables:?}");
    }

    #[test]
    fn grafana_has_no_standin_and_mysql_stands_in_with_mariadb() {
        assert!(standin_for("GRAFANA_IMAGE").is_none());
        let (name, recipe) = standin_for("MYSQL_IMAGE").unwrap();
        assert_eq!(name, "stockflow-standin/mariadb:10.11");
        assert_eq!(recipe, Recipe::Dockerfile("mariadb"));
        assert_eq!(standin_for("RUNTIME_IMAGE").unwrap().0, standins::BASE);
    }
}
