//! `hub up`: migrate, seed on first run, start every subgraph, wait until
//! they are ready, and stop them all cleanly on Ctrl-C.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use platform::config::Settings;
use tokio::process::{Child, Command};

use crate::{seed, subgraphs, Subgraph};

pub async fn up(root: &Path) -> anyhow::Result<()> {
    let settings = Settings::load(identity::DEFAULTS)?;
    check_postgres(&settings).await?;
    let redis_ok = check_redis(&settings).await;

    build_binaries(root).await?;
    crate::migrate_all().await?;
    if settings.environment != platform::config::Environment::Production {
        // Idempotent: adds whatever demo data is missing (first run, new subgraph).
        seed::seed(&settings).await?;
    }

    let logs = root.join(".hub/logs");
    std::fs::create_dir_all(&logs)?;
    let bin_dir = std::env::current_exe()?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut children = Vec::new();
    for sg in subgraphs() {
        let child = start(&bin_dir, &logs, &sg, root, redis_ok)?;
        children.push((sg, child));
    }
    let ready = wait_ready(&mut children).await;
    if let Err(e) = ready {
        stop(&mut children).await;
        return Err(e);
    }

    println!();
    println!("Hub is up.");
    for (sg, _) in &children {
        println!(
            "  {:<10} http://127.0.0.1:{}/graphql   (health /health, ready /ready, metrics /metrics)",
            sg.name, sg.port
        );
    }
    println!("  JWKS       http://127.0.0.1:4001/.well-known/jwks.json");
    println!("  Partner tokens: POST http://127.0.0.1:4001/oauth/token");
    println!("Logs: {}", logs.display());
    seed::print_logins();
    println!("Press Ctrl-C to stop.");

    tokio::select! {
        _ = platform::server::shutdown_signal() => println!("\nStopping…"),
        exited = wait_any(&mut children) => println!("\n{exited} exited; stopping the others (see its log)."),
    }
    stop(&mut children).await;
    println!("Stopped.");
    Ok(())
}

async fn check_postgres(settings: &Settings) -> anyhow::Result<()> {
    use sqlx::ConnectOptions;
    let opts = settings.database.admin_options()?.database("postgres");
    match tokio::time::timeout(Duration::from_secs(3), opts.connect()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => anyhow::bail!(
            "PostgreSQL is not reachable at {}:{} ({e}).\nStart it, or point HUB_DATABASE__URL at a running server.",
            opts.get_host(),
            opts.get_port()
        ),
        Err(_) => anyhow::bail!("PostgreSQL did not answer within 3 s; is HUB_DATABASE__URL right?"),
    }
}

async fn check_redis(settings: &Settings) -> bool {
    let Some(url) = settings.redis.url() else {
        println!("warning: no Redis configured; logout cannot cut access tokens short and caches are local.");
        return false;
    };
    let kv = match platform::kv::Kv::new(Some(url)) {
        Ok(kv) => kv,
        Err(_) => return false,
    };
    match kv.ping().await {
        Ok(()) => true,
        Err(e) => {
            println!("warning: Redis is not reachable ({e}); continuing without it (local fallbacks).");
            false
        }
    }
}

/// Builds the subgraph binaries next to this one, so `cargo run -p hub -- up`
/// is all a newcomer types.
async fn build_binaries(root: &Path) -> anyhow::Result<()> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.arg("build").current_dir(root);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    for sg in subgraphs() {
        cmd.args(["-p", sg.name]);
    }
    let status = cmd.status().await?;
    anyhow::ensure!(status.success(), "building the subgraphs failed");
    Ok(())
}

fn start(bin_dir: &Path, logs: &Path, sg: &Subgraph, root: &Path, redis_ok: bool) -> anyhow::Result<Child> {
    let exe: PathBuf = bin_dir.join(sg.name);
    anyhow::ensure!(
        exe.exists(),
        "{} not found; run `cargo build --workspace`",
        exe.display()
    );
    let log = std::fs::File::create(logs.join(format!("{}.log", sg.name)))?;
    let mut cmd = Command::new(exe);
    cmd.current_dir(root)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true);
    if !redis_ok {
        cmd.env("HUB_REDIS__URL", "");
    }
    Ok(cmd.spawn()?)
}

async fn wait_ready(children: &mut [(Subgraph, Child)]) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    for (sg, child) in children.iter_mut() {
        let url = format!("http://127.0.0.1:{}/ready", sg.port);
        loop {
            if let Some(status) = child.try_wait()? {
                anyhow::bail!(
                    "{} exited during start-up ({status}); see .hub/logs/{}.log",
                    sg.name,
                    sg.name
                );
            }
            if let Ok(r) = http.get(&url).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{} not ready after 60 s; see .hub/logs/{}.log",
                sg.name,
                sg.name
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

async fn wait_any(children: &mut [(Subgraph, Child)]) -> &'static str {
    loop {
        for (sg, child) in children.iter_mut() {
            if let Ok(Some(_)) = child.try_wait() {
                return sg.name;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// SIGTERM first (graceful shutdown), then kill after a grace period.
async fn stop(children: &mut [(Subgraph, Child)]) {
    for (_, child) in children.iter_mut() {
        if let Some(pid) = child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
    }
    for (sg, child) in children.iter_mut() {
        if tokio::time::timeout(Duration::from_secs(10), child.wait())
            .await
            .is_err()
        {
            eprintln!("{} did not stop in 10 s; killing it", sg.name);
            let _ = child.kill().await;
        }
    }
}
