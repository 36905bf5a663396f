//! The frontend teams' side, end to end: `npm test` in frontend-codegen runs
//! the generated client through a real Apollo Client and drives the example
//! page in headless Chromium, against this platform and the real router
//! loading the committed client manifests.

use std::process::Command;

use hub_e2e::{free_port, repo_root, Platform, RouterOptions};

fn cors_allows(resp: &reqwest::Response, origin: &str) -> bool {
    resp.headers()
        .get("access-control-allow-origin")
        .is_some_and(|v| v.as_bytes() == origin.as_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_generated_client_and_the_example_page_run_against_the_router() {
    let dir = repo_root().join("frontend-codegen");
    assert!(
        dir.join("node_modules/.bin/vitest").exists(),
        "frontend-codegen has no node_modules: run `npm ci` in frontend-codegen (`hub test` does)"
    );
    let page_port = free_port();
    let origin = format!("http://127.0.0.1:{page_port}");
    // Links in mails lead to the example page.
    let p = Platform::start_with(&[("HUB_MAIL__APP_URL", origin.clone())]).await;
    p.seed_demo().await;
    let router = p
        .router(
            RouterOptions::default()
                .manifests(dir.join("manifests"))
                .cors_origins(&format!("^http://127\\.0\\.0\\.1:{page_port}$"))
                // The page's partial-answer test pauses identity.
                .subgraph_timeout("2s"),
        )
        .await;

    // Only the configured origin gets CORS headers.
    for (from, allowed) in [(origin.as_str(), true), ("http://evil.example", false)] {
        let resp = p
            .http
            .request(reqwest::Method::OPTIONS, &router.url)
            .header("origin", from)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,authorization")
            .send()
            .await
            .unwrap();
        assert_eq!(cors_allows(&resp, from), allowed, "preflight from {from}");
    }

    let out = Command::new("npm")
        .args(["test", "--silent"])
        .current_dir(&dir)
        .env("HUB_ROUTER_URL", &router.url)
        .env("HUB_TOKEN_URL", format!("{}/oauth/token", p.url("identity")))
        .env("HUB_PAGE_PORT", page_port.to_string())
        .env("HUB_MAIL_DIR", p.dir.join(".hub/mail"))
        .env("HUB_IDENTITY_PID", p.subgraph("identity").proc.pid().to_string())
        .env("NO_COLOR", "1")
        .output()
        .expect("npm");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "npm test failed:\n{stdout}\n{}\n--- router ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        router.proc.log_tail()
    );
    // Every suite ran: the client's, the page's and the inspector's.
    for suite in ["client.test.ts", "page.test.ts", "inspector.test.ts"] {
        assert!(stdout.contains(suite), "{suite} did not run:\n{stdout}");
    }
    assert!(repo_root()
        .join("target/frontend/example-web-appointments.png")
        .exists());
}
