//! Fuzzing the development stack: schemathesis (PyPI) reads the supergraph
//! through the router's introspection and sends generated queries and
//! mutations, valid and invalid, as an anonymous caller and as demo users of
//! several roles. Any 5xx, or any GraphQL error coded `INTERNAL` (or not
//! coded at all), fails the run: bad input must always come back as an
//! error the client can act on. The check lives in `fuzz/hooks.py`.
//!
//! Ignored by default because it needs schemathesis:
//! `python3 -m venv ~/.cache/hub-fuzz-venv && ~/.cache/hub-fuzz-venv/bin/pip install -r fuzz/requirements.txt`,
//! then `cargo test -p hub-e2e --test fuzz -- --ignored`. `.ci/run` does both.
//! `HUB_FUZZ_SECONDS` sets the time per caller (default 40), `HUB_FUZZ_SEED`
//! replays a run (schemathesis prints the seed it used).

use std::{path::PathBuf, process::Stdio};

use hub_e2e::{repo_root, Platform, RouterOptions};
use identity::seed::DEMO_PASSWORD;

fn schemathesis() -> PathBuf {
    if let Ok(p) = std::env::var("HUB_SCHEMATHESIS") {
        return p.into();
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let st = PathBuf::from(home).join(".cache/hub-fuzz-venv/bin/st");
    assert!(
        st.exists(),
        "schemathesis not found at {} (set HUB_SCHEMATHESIS, or install it: \
         python3 -m venv ~/.cache/hub-fuzz-venv && ~/.cache/hub-fuzz-venv/bin/pip install -r fuzz/requirements.txt)",
        st.display()
    );
    st
}

/// `logout` would end the fuzzer's own session halfway through. schemathesis
/// 4.32 reports the mutations taking the `Amount` scalar as "unknown scalar"
/// even with a strategy registered in the hooks, so it cannot generate them;
/// their input checks are covered by the public subgraph's API tests.
const EXCLUDED: &[&str] = &["Mutation.logout", "Mutation.createBid", "Mutation.createTender"];

#[tokio::test]
#[ignore = "needs schemathesis (fuzz/requirements.txt); .ci/run installs it and runs this test"]
async fn fuzzed_requests_never_get_an_internal_error_or_a_5xx() {
    let st = schemathesis();
    let seconds = std::env::var("HUB_FUZZ_SECONDS").unwrap_or_else(|_| "40".into());
    let p = Platform::start().await;
    p.seed_demo().await;
    // As `hub up` runs it: introspection and ad-hoc operations on.
    let r = p.router(RouterOptions::default().introspection(true)).await;
    let before = p.subgraph_requests_total().await;

    let mut failures = Vec::new();
    for who in [
        None,
        Some(("clinique-saint-paul", "dr.martin@clinique-saint-paul.example")),
        Some(("clinique-saint-paul", "admin@clinique-saint-paul.example")),
        Some(("clinique-saint-paul", "billing@clinique-saint-paul.example")),
        Some(("ville-de-lyon", "buyer@ville-de-lyon.example")),
        Some(("acme-fournitures", "sales@acme-fournitures.example")),
    ] {
        let mut cmd = tokio::process::Command::new(&st);
        cmd.args(["run", &r.url, "--checks", "no_internal_error", "--max-time", &seconds])
            .args(["--workers", "2", "--no-color", "--generation-database", "none"])
            .args(["--request-timeout", "20", "--generation-allow-x00", "true"]);
        for name in EXCLUDED {
            cmd.args(["--exclude-name", name]);
        }
        if let Ok(seed) = std::env::var("HUB_FUZZ_SEED") {
            cmd.args(["--seed", &seed]);
        }
        if let Some((org, email)) = who {
            let token = p.login_with(&r, org, email, DEMO_PASSWORD).await;
            cmd.args(["--header", &format!("Authorization: Bearer {token}")]);
        }
        let out = cmd
            .env("SCHEMATHESIS_HOOKS", "hooks")
            .env("PYTHONPATH", repo_root().join("fuzz"))
            .current_dir(&p.dir)
            .stdin(Stdio::null())
            .output()
            .await
            .expect("run schemathesis");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let caller = who.map_or("an anonymous caller", |(_, email)| email);
        let summary: Vec<&str> = stdout.lines().rev().take(12).collect();
        println!(
            "fuzzed as {caller}:\n{}",
            summary.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
        if !out.status.success() {
            failures.push(format!(
                "as {caller}:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let served = p.subgraph_requests_total().await - before;
    assert!(
        failures.is_empty(),
        "schemathesis found failures:\n{}",
        failures.join("\n\n")
    );
    // Most generated operations reach a subgraph; a run that sent nothing proves nothing.
    assert!(served > 200, "only {served} fuzzed requests reached the subgraphs");
}
