//! The README's and docs/' shell examples work as written: every `sh` block
//! that calls the running platform (`curl` to 127.0.0.1:4000–4004) runs
//! with bash, on its own (no variable carries over from another block), in
//! the platform's own directory (nothing is written into the checkout),
//! against the demo data and the stack this kit starts — its ports put in
//! place of the development ones. A block that fails, or whose answers hold
//! a GraphQL `"errors"` entry, fails the test with its file and line.

use std::path::Path;

use hub_e2e::{repo_root, Platform, RouterOptions};

/// A shell example: where it is and what it runs.
struct Example {
    file: String,
    line: usize,
    script: String,
}

fn examples(root: &Path) -> Vec<Example> {
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<_> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let mut out = vec![];
    for path in files {
        let text = std::fs::read_to_string(&path).expect("markdown");
        let rel = path.strip_prefix(root).unwrap_or(&path).display().to_string();
        let mut block: Option<(usize, String)> = None;
        for (i, line) in text.lines().enumerate() {
            match &mut block {
                None if line.trim_start() == "```sh" => block = Some((i + 2, String::new())),
                Some((start, body)) if line.trim_start() == "```" => {
                    if body.contains("curl ") && body.contains("http://127.0.0.1:40") {
                        out.push(Example {
                            file: rel.clone(),
                            line: *start,
                            script: body.clone(),
                        });
                    }
                    block = None;
                }
                Some((_, body)) => {
                    body.push_str(line);
                    body.push('\n');
                }
                None => {}
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn every_shell_example_in_the_readme_and_docs_runs_against_the_platform() {
    let p = Platform::start().await;
    p.seed_demo().await;
    let r = p.router(RouterOptions::default()).await;
    let router = r.url.trim_end_matches('/').to_string();
    let found = examples(&repo_root());
    assert!(
        found.iter().any(|e| e.file == "README.md"),
        "the README's first query is an example"
    );
    let mut failures = vec![];
    for ex in &found {
        let mut script = ex.script.replace("http://127.0.0.1:4000", &router);
        // Each subgraph's development port (the registry's) to where this platform runs it.
        for sg in registry::SUBGRAPHS {
            script = script.replace(&format!("http://127.0.0.1:{}", sg.port), p.url(sg.name));
        }
        // This platform's event streams, in the shared Redis.
        script = script.replace("hub:events:", &format!("{}:", p.events_prefix));
        let out = tokio::process::Command::new("bash")
            // `-e` as a careful reader's shell would stop; no `pipefail`,
            // so `… | head -c 300` is not a failure.
            .args(["-e", "-c", &script])
            .current_dir(&p.dir)
            .output()
            .await
            .expect("bash");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let what = format!("{}:{}", ex.file, ex.line);
        if !out.status.success() {
            failures.push(format!("{what} exited with {}:\n{stdout}\n{stderr}", out.status));
        } else if stdout.contains("\"errors\"") {
            failures.push(format!("{what} answered errors:\n{stdout}"));
        } else if stdout.trim().is_empty() {
            failures.push(format!("{what} printed nothing"));
        }
        println!("{what}: {}", if out.status.success() { "ran" } else { "FAILED" });
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
