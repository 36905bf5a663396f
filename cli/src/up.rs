//! `hub up`: the whole platform on this machine. Builds what is missing,
//! starts PostgreSQL if none answers, migrates, seeds the demo data, starts
//! every subgraph and the router, waits until all are ready, and stops them
//! all cleanly on Ctrl-C.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use platform::config::Settings;
use tokio::process::{Child, Command};

use registry::SUBGRAPHS;

use crate::postgres;

/// One process `hub up` runs.
struct Proc {
    name: &'static str,
    ready_url: String,
    child: Child,
}

pub async fn up(root: &Path) -> anyhow::Result<()> {
    let mut embedded = postgres::ensure(root).await?;
    let result = run(root).await;
    if let Some(pg) = embedded.as_mut() {
        pg.stop().await;
    }
    result
}

async fn run(root: &Path) -> anyhow::Result<()> {
    let settings = SUBGRAPHS[0].settings()?;
    let redis_ok = check_redis(&settings).await;

    build_binaries(root).await?;
    crate::migrate_all().await?;
    if settings.environment != platform::config::Environment::Production {
        // Idempotent: adds whatever demo data is missing (first run, new subgraph).
        crate::seed_all().await?;
    }

    let logs = root.join(".hub/logs");
    std::fs::create_dir_all(&logs)?;
    let bin_dir = std::env::current_exe()?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    // A fresh secret per run: only this run's router can call the subgraphs.
    let router_secret = format!("dev-{}", uuid::Uuid::new_v4().simple());
    let mut env: Vec<(&str, String)> = vec![
        ("HUB_AUTH__ROUTER_SECRET", router_secret),
        ("HUB_AUTH__REQUIRE_ROUTER_SECRET", "true".into()),
        // No load balancer in front: Ctrl-C stops at once.
        ("HUB_SERVER__DRAIN_SECS", "0".into()),
    ];
    if !redis_ok {
        env.push(("HUB_REDIS__URL", String::new()));
    }

    let (router_config, ports) = local_router_config(root)?;
    let mut procs = Vec::new();
    for sg in SUBGRAPHS {
        let port = ports[sg.name];
        let child = spawn(&bin_dir.join(sg.name), &[], &logs, sg.name, root, &env)?;
        procs.push(Proc {
            name: sg.name,
            ready_url: format!("http://127.0.0.1:{port}/ready"),
            child,
        });
    }
    // The router finds each subgraph where its settings put it.
    let router_yaml = root.join(".hub/router.yaml");
    std::fs::write(&router_yaml, router_config)?;
    let mut router_env = env.clone();
    router_env.push(("HUB_ROUTER_INTROSPECTION", "true".into()));
    router_env.push(("HUB_ROUTER_ALLOW_AD_HOC", "true".into()));
    // HUB_OTEL__ENDPOINT in the environment: every process exports traces.
    let traces = settings.otel.endpoint().map(str::to_string);
    if traces.is_some() {
        router_env.push(("HUB_ROUTER_OTLP_ENABLED", "true".into()));
    }
    // The FHIR API's service, where its settings put it.
    router_env.push((
        "HUB_ROUTER_FHIR_UPSTREAM",
        format!("http://127.0.0.1:{}", ports["medical"]),
    ));
    // The example page (frontend-codegen/example-web): Vite's development
    // server (`npm run dev`, 5173) and its preview of the build (`npm run
    // preview`, 4173), unless the environment names other origins.
    if std::env::var_os("HUB_ROUTER_CORS_ORIGINS").is_none() {
        router_env.push((
            "HUB_ROUTER_CORS_ORIGINS",
            r"^http://(localhost|127\.0\.0\.1):(5173|4173)$".into(),
        ));
    }
    let router_config = router_yaml.display().to_string();
    let router_args = ["--config", router_config.as_str(), "--supergraph", "supergraph.graphql"];
    let router = spawn(
        &bin_dir.join("hub-router"),
        &router_args,
        &logs,
        "router",
        root,
        &router_env,
    )?;
    procs.push(Proc {
        name: "router",
        ready_url: "http://127.0.0.1:8088/health".into(),
        child: router,
    });

    if let Err(e) = wait_ready(&mut procs).await {
        stop(&mut procs).await;
        return Err(e);
    }

    println!();
    println!("Hub is up: http://127.0.0.1:4000/  (GraphQL; send POST with content-type: application/json)");
    println!("  router health  http://127.0.0.1:8088/health    metrics http://127.0.0.1:9090/metrics");
    for sg in SUBGRAPHS {
        println!(
            "  {:<14} http://127.0.0.1:{}/graphql (router only; /health /ready /metrics open)",
            sg.name, ports[sg.name]
        );
    }
    println!("  JWKS           http://127.0.0.1:4001/.well-known/jwks.json");
    println!("  Partner tokens POST http://127.0.0.1:4001/oauth/token");
    if let Some(port) = ports.get("public") {
        println!(
            "  OCDS           http://127.0.0.1:{port}/ocds/releases  /ocds/records/{{ocid}}  (public data, no token)"
        );
    }
    println!("Logs: {}/<service>.log", logs.display());
    match &traces {
        Some(endpoint) => println!(
            "Traces: router and subgraphs export to {endpoint} (OTLP/HTTP); a log line's trace_id finds its trace"
        ),
        None => println!("Traces: off (set HUB_OTEL__ENDPOINT=http://127.0.0.1:4318 to export; docs/observability.md)"),
    }
    print_mail(root);
    identity::seed::print_logins();
    println!("Press Ctrl-C to stop.");

    tokio::select! {
        _ = platform::server::shutdown_signal() => println!("\nStopping…"),
        exited = wait_any(&mut procs) => println!("\n{exited} exited; stopping the others (see its log)."),
    }
    stop(&mut procs).await;
    println!("Stopped.");
    Ok(())
}

/// The router's configuration for subgraphs on this machine, each on the
/// port its settings give (`HUB_<NAME>_SERVER__PORT`), and those ports.
pub fn local_router_config(root: &Path) -> anyhow::Result<(String, HashMap<&'static str, u16>)> {
    let mut ports = HashMap::new();
    for sg in SUBGRAPHS {
        ports.insert(sg.name, sg.figment().extract_inner::<u16>("server.port")?);
    }
    let yaml = registry::router_config(root, |sg| format!("http://127.0.0.1:{}/graphql", ports[sg.name]))?;
    Ok((yaml, ports))
}

async fn check_redis(settings: &Settings) -> bool {
    let Some(url) = settings.redis.url() else {
        println!("warning: no Redis configured; logout cannot cut access tokens short, rate limits are per process.");
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

/// Builds the subgraphs and the router next to this binary, so
/// `cargo run -p hub -- up` is all a newcomer types. The first router build
/// takes several minutes.
async fn build_binaries(root: &Path) -> anyhow::Result<()> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.arg("build").current_dir(root);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    for sg in SUBGRAPHS {
        cmd.args(["-p", sg.name]);
    }
    cmd.args(["-p", "hub-router"]);
    println!("Building the subgraphs and the router (the first router build takes several minutes)…");
    let status = cmd.status().await?;
    anyhow::ensure!(status.success(), "building the platform failed");
    Ok(())
}

fn spawn(
    exe: &Path,
    args: &[&str],
    logs: &Path,
    name: &str,
    root: &Path,
    env: &[(&str, String)],
) -> anyhow::Result<Child> {
    let exe: PathBuf = exe.to_path_buf();
    anyhow::ensure!(
        exe.exists(),
        "{} not found; run `cargo build --workspace`",
        exe.display()
    );
    let log = std::fs::File::create(logs.join(format!("{name}.log")))?;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Ok(cmd.spawn()?)
}

async fn wait_ready(procs: &mut [Proc]) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
    let deadline = Instant::now() + Duration::from_secs(90);
    for p in procs.iter_mut() {
        loop {
            if let Some(status) = p.child.try_wait()? {
                anyhow::bail!(
                    "{} exited during start-up ({status}); see .hub/logs/{}.log",
                    p.name,
                    p.name
                );
            }
            if let Ok(r) = http.get(&p.ready_url).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{} not ready after 90 s; see .hub/logs/{}.log",
                p.name,
                p.name
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

async fn wait_any(procs: &mut [Proc]) -> &'static str {
    loop {
        for p in procs.iter_mut() {
            if let Ok(Some(_)) = p.child.try_wait() {
                return p.name;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// SIGTERM first (graceful shutdown), then kill after a grace period.
async fn stop(procs: &mut [Proc]) {
    for p in procs.iter_mut() {
        if let Some(pid) = p.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
    }
    for p in procs.iter_mut() {
        if tokio::time::timeout(Duration::from_secs(10), p.child.wait())
            .await
            .is_err()
        {
            eprintln!("{} did not stop in 10 s; killing it", p.name);
            let _ = p.child.kill().await;
        }
    }
}

/// Where the services' mail goes, as their settings say.
fn print_mail(root: &Path) {
    use platform::config::MailTransport;
    let Some(mail) = SUBGRAPHS.first().and_then(|sg| sg.settings().ok()).map(|s| s.mail) else {
        return;
    };
    match mail.transport {
        MailTransport::File => println!(
            "Mail: written to {}/*.eml (invitations, resets, confirmations); HUB_MAIL__TRANSPORT=smtp and HUB_MAIL__SMTP_URL send it instead",
            root.join(&mail.dir).display()
        ),
        MailTransport::Smtp => println!("Mail: sent through HUB_MAIL__SMTP_URL"),
        MailTransport::Off => println!("Mail: off (HUB_MAIL__TRANSPORT=off)"),
    }
}
