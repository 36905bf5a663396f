//! A PostgreSQL cluster of a test's own, to crash (`pg_ctl -m immediate`,
//! no checkpoint, recovery from the WAL on the next start) and start again
//! mid-test, or to follow with a streaming replica: what the shared server
//! cannot be. Made with the machine's
//! `initdb` and `pg_ctl`, as the `postgres` user when the tests run as root
//! (PostgreSQL refuses to run as root).

use std::{
    path::PathBuf,
    process::{Command, Stdio},
};

use uuid::Uuid;

pub struct Postgres {
    port: u16,
    dir: PathBuf,
    bin: PathBuf,
    as_root: bool,
}

impl Postgres {
    /// A new cluster on a free port, started.
    pub fn start() -> Postgres {
        let pg = Postgres::empty();
        let data = pg.data();
        let ok = pg
            .tool("initdb")
            .args(["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "initdb failed in {data}");
        pg.restart();
        pg
    }

    /// A streaming replica of this cluster, started on a port of its own: a
    /// base backup (`pg_basebackup -R` writes the standby's connection to
    /// this primary), then a hot standby replaying its WAL.
    pub fn standby(&self) -> Postgres {
        let standby = Postgres::empty();
        let data = standby.data();
        let port = self.port.to_string();
        let ok = standby
            .tool("pg_basebackup")
            .args(["-D", &data, "-h", "127.0.0.1", "-p", &port, "-U", "postgres"])
            .args(["-R", "-X", "stream", "--no-sync", "-c", "fast"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "pg_basebackup from port {port} failed");
        standby.restart();
        standby
    }

    fn empty() -> Postgres {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let dir = std::env::temp_dir().join(format!("hub-test-pg-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("cluster directory");
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let pg = Postgres {
            port,
            dir,
            bin: bin_dir(),
            as_root,
        };
        if as_root {
            let owned = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(&pg.dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(owned, "chown of {} to postgres failed", pg.dir.display());
        }
        pg
    }

    /// `postgres://postgres@127.0.0.1:<port>` (append `/<database>`).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    /// Starts the cluster (again), waiting until it accepts connections.
    pub fn restart(&self) {
        let (data, log) = (self.data(), self.dir.join("server.log"));
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=200",
            self.port,
            self.dir.display()
        );
        let ok = self
            .tool("pg_ctl")
            .args([
                "-D",
                &data,
                "-l",
                &log.to_string_lossy(),
                "-w",
                "-t",
                "60",
                "-o",
                &opts,
                "start",
            ])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "pg_ctl start failed:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// A crash: every backend killed at once, no shutdown checkpoint; the
    /// next start replays the WAL, as after a power cut of the server.
    pub fn crash(&self) {
        let _ = self
            .tool("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .status();
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn tool(&self, name: &str) -> Command {
        let exe = self.bin.join(name);
        if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.crash();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest Debian-style install, else the directory of `initdb` on the PATH.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").exists())
        .collect();
    versions.sort();
    if let Some(dir) = versions.pop() {
        return dir;
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
        .expect("PostgreSQL's server tools (initdb, pg_ctl) are not installed")
}
