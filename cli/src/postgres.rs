//! The embedded default: with no `HUB_DATABASE__URL` and nothing answering on
//! 127.0.0.1:5432, `hub up` creates and runs its own PostgreSQL cluster in
//! `.hub/postgres` with the machine's `initdb` and `pg_ctl`.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use tokio::process::Command;

pub struct EmbeddedPostgres {
    pg_ctl: PathBuf,
    data: PathBuf,
    run_as: Option<&'static str>,
}

const PORT: u16 = 5432;

/// Starts a local cluster when needed; `None` when PostgreSQL is managed elsewhere.
pub async fn ensure(root: &Path) -> anyhow::Result<Option<EmbeddedPostgres>> {
    if std::env::var_os("HUB_DATABASE__URL").is_some() || answers(PORT).await {
        return Ok(None);
    }
    let bin = find_bin_dir().ok_or_else(|| {
        anyhow::anyhow!(
            "PostgreSQL is not running on 127.0.0.1:{PORT} and its tools (initdb, pg_ctl) are not installed.\n\
             Install them (Debian/Ubuntu: `sudo apt-get install postgresql`; macOS: `brew install postgresql`),\n\
             or point HUB_DATABASE__URL at a running server."
        )
    })?;
    let data = root.join(".hub/postgres");
    // PostgreSQL refuses to run as root; run it as the `postgres` user then.
    let run_as = is_root().await.then_some("postgres");
    let pg = EmbeddedPostgres {
        pg_ctl: bin.join("pg_ctl"),
        data: data.clone(),
        run_as,
    };
    if !data.join("PG_VERSION").exists() {
        println!("Creating a local PostgreSQL cluster in {}…", data.display());
        std::fs::create_dir_all(&data)?;
        if let Some(user) = run_as {
            pg.command("chown")
                .args(["-R", user, &data.to_string_lossy()])
                .status()
                .await?;
        }
        let status = pg
            .command(&bin.join("initdb").to_string_lossy())
            .args([
                "-D",
                &data.to_string_lossy(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ])
            .status()
            .await?;
        anyhow::ensure!(status.success(), "initdb failed");
    }
    println!("Starting the local PostgreSQL cluster on 127.0.0.1:{PORT}…");
    let log = data.join("server.log");
    let status = pg
        .command(&pg.pg_ctl.to_string_lossy())
        .args(["-D", &data.to_string_lossy(), "-l", &log.to_string_lossy(), "-w"])
        .args([
            "-o",
            &format!("-p {PORT} -c listen_addresses=127.0.0.1 -k /tmp"),
            "start",
        ])
        .status()
        .await?;
    anyhow::ensure!(status.success(), "pg_ctl start failed; see {}", log.display());
    Ok(Some(pg))
}

impl EmbeddedPostgres {
    fn command(&self, program: &str) -> Command {
        match self.run_as {
            Some(user) if program != "chown" => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--", program]);
                c
            }
            _ => Command::new(program),
        }
    }

    pub async fn stop(&mut self) {
        let _ = self
            .command(&self.pg_ctl.to_string_lossy())
            .args(["-D", &self.data.to_string_lossy(), "-m", "fast", "-w", "stop"])
            .status()
            .await;
    }
}

/// Whether something accepts connections on this local port.
pub async fn answers(port: u16) -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_secs(1),
            tokio::net::TcpStream::connect(("127.0.0.1", port))
        )
        .await,
        Ok(Ok(_))
    )
}

/// Whether this process runs as root (PostgreSQL refuses to; apt needs it).
pub async fn is_root() -> bool {
    match Command::new("id").arg("-u").output().await {
        Ok(o) => String::from_utf8_lossy(&o.stdout).trim() == "0",
        Err(_) => false,
    }
}

/// `initdb` on the PATH, or the newest Debian-style install.
fn find_bin_dir() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").exists() && dir.join("pg_ctl").exists() {
                return Some(std::fs::canonicalize(dir.join("initdb")).ok()?.parent()?.to_path_buf());
            }
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}
