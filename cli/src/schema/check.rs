//! `hub schema check`: golden SDLs, composition, the API schema against a
//! base, known operations, lint and accepted changes — one verdict.

use std::{path::Path, process::Command};

use serde::Serialize;

use super::{
    accepted::AcceptedFile,
    api_schema,
    diff::Level,
    lint::{self, Finding},
    operations::{self, OperationReport},
    review, ReviewedChange,
};
use crate::compose;

#[derive(Serialize, Debug)]
pub struct Drift {
    pub file: String,
    /// A unified diff, committed → generated.
    pub diff: String,
    /// The command that rewrites the file.
    pub fix: String,
}

#[derive(Serialize, Debug, Default)]
pub struct Composition {
    pub ok: bool,
    pub errors: Vec<String>,
    pub hints: Vec<String>,
}

#[derive(Serialize, Debug)]
pub struct CheckReport {
    /// The git ref the API schema is compared with, and its commit.
    pub base: String,
    #[serde(rename = "baseCommit")]
    pub base_commit: String,
    pub drift: Vec<Drift>,
    pub composition: Composition,
    pub changes: Vec<ReviewedChange>,
    pub operations: Vec<OperationReport>,
    pub lint: Vec<Finding>,
    /// Entries of the accepted file that accept nothing (expired, no reason).
    #[serde(rename = "acceptedProblems")]
    pub accepted_problems: Vec<String>,
    /// Why the check fails; empty when it passes.
    pub failures: Vec<String>,
}

pub struct Options {
    pub base: Option<String>,
    /// Fail on breaking changes no known operation uses, too.
    pub fail_on_unused_breaking: bool,
    /// Each subgraph's name and the SDL its code exports now (the registry's,
    /// in `hub`), compared with the committed golden file.
    pub exported: Vec<(String, String)>,
}

impl Options {
    /// Options for this build's subgraphs.
    pub fn new(base: Option<String>, fail_on_unused_breaking: bool) -> Self {
        Options {
            base,
            fail_on_unused_breaking,
            exported: registry::SUBGRAPHS
                .iter()
                .map(|sg| (sg.name.to_string(), (sg.sdl)()))
                .collect(),
        }
    }
}

fn git(root: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(|e| anyhow::anyhow!("git: {e}"))?;
    anyhow::ensure!(
        out.status.success(),
        "git {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The default base: where this branch left `main` (`origin/main` in a clone
/// without a local `main`).
fn default_base(root: &Path) -> anyhow::Result<String> {
    for main in ["main", "origin/main"] {
        if let Ok(sha) = git(root, &["merge-base", "HEAD", main]) {
            return Ok(sha.trim().to_string());
        }
    }
    anyhow::bail!("no merge base with `main`: pass --base <git-ref>")
}

pub fn unified(committed: &str, generated: &str, file: &str) -> String {
    similar::TextDiff::from_lines(committed, generated)
        .unified_diff()
        .context_radius(3)
        .header(&format!("{file} (committed)"), &format!("{file} (generated)"))
        .to_string()
}

pub fn check(root: &Path, opts: &Options) -> anyhow::Result<CheckReport> {
    let mut failures = Vec::new();

    // 1. Golden files.
    let mut drift = Vec::new();
    for (name, generated) in &opts.exported {
        let file = format!("subgraphs/{name}/schema.graphql");
        let committed = std::fs::read_to_string(root.join(&file)).unwrap_or_default();
        if &committed != generated {
            drift.push(Drift {
                diff: unified(&committed, generated, &file),
                file,
                fix: "cargo run -p hub -- schema export".into(),
            });
        }
    }

    // 2. Composition of the committed golden files.
    let mut composition = Composition::default();
    // The new API schema, built once for the drift check, the diff and lint.
    let mut new_api = None;
    match compose::compose(&root.join("supergraph.yaml"))? {
        Ok(c) => {
            composition.ok = true;
            composition.hints = c.hints;
            let api = api_schema(&c.supergraph)?;
            for (file, generated) in [
                ("supergraph.graphql", c.supergraph.clone()),
                (compose::API_SCHEMA_FILE, api.to_string()),
            ] {
                let committed = std::fs::read_to_string(root.join(file)).unwrap_or_default();
                if committed != generated {
                    drift.push(Drift {
                        diff: unified(&committed, &generated, file),
                        file: file.into(),
                        fix: "cargo run -p hub -- compose".into(),
                    });
                }
            }
            new_api = Some(api);
        }
        Err(f) => {
            composition.errors = f.errors;
            composition.hints = f.hints;
            failures.push(format!("composition failed with {} error(s)", composition.errors.len()));
        }
    }
    if !drift.is_empty() {
        failures.push(format!(
            "{} generated file(s) differ from what is committed: {}",
            drift.len(),
            drift.iter().map(|d| d.file.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }

    // 3–4. The API schema against the base's, and the known operations.
    let base = match &opts.base {
        Some(b) => b.clone(),
        None => default_base(root)?,
    };
    let base_commit = git(root, &["rev-parse", "--verify", &format!("{base}^{{commit}}")])
        .map_err(|_| anyhow::anyhow!("--base {base}: not a commit in this repository"))?
        .trim()
        .to_string();
    let mut ops = operations::load(&root.join("frontend-codegen/operations"), root)?;
    let manifests = root.join("frontend-codegen/manifests");
    if manifests.is_dir() {
        let mut from_manifests = operations::load(&manifests, root)?;
        from_manifests.retain(|m| !ops.iter().any(|o| o.client == m.client && o.name == m.name));
        ops.extend(from_manifests);
    }
    let (mut changes, operations) = match &new_api {
        Some(new) => {
            let old = match git(root, &["show", &format!("{base_commit}:supergraph.graphql")]) {
                Ok(old_sdl) => api_schema(&old_sdl)?,
                // A base before the first supergraph: everything is new.
                Err(_) => new.clone(),
            };
            review(&old, new, &ops)
        }
        None => (vec![], vec![]),
    };
    let accepted = AcceptedFile::load(&root.join("schema-review/accepted.yaml"))?;
    let today = chrono::Utc::now().date_naive();
    for c in &mut changes {
        c.accepted = accepted
            .reason_for(&c.change.path, c.change.kind, today)
            .map(str::to_string);
    }
    let accepted_problems = accepted.problems(today);

    let breaking_used: Vec<_> = changes
        .iter()
        .filter(|c| c.change.level == Level::Breaking && !c.used_by.is_empty() && c.accepted.is_none())
        .collect();
    if !breaking_used.is_empty() {
        failures.push(format!(
            "{} breaking change(s) affect known operations: {}",
            breaking_used.len(),
            breaking_used
                .iter()
                .map(|c| format!("{} (used by {})", c.change.path, c.used_by.join(", ")))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if opts.fail_on_unused_breaking {
        let unused: Vec<_> = changes
            .iter()
            .filter(|c| c.change.level == Level::Breaking && c.used_by.is_empty() && c.accepted.is_none())
            .map(|c| c.change.path.as_str())
            .collect();
        if !unused.is_empty() {
            failures.push(format!(
                "{} breaking change(s) no known operation uses (--fail-on-unused-breaking): {}",
                unused.len(),
                unused.join(", ")
            ));
        }
    }
    // An operation that no longer validates fails unless every change it
    // touches was accepted.
    let broken: Vec<_> = operations
        .iter()
        .filter(|o| {
            let all_accepted = !o.affected_by.is_empty()
                && o.affected_by.iter().all(|p| {
                    changes
                        .iter()
                        .filter(|c| &c.change.path == p)
                        .all(|c| c.accepted.is_some())
                });
            !o.valid && !all_accepted
        })
        .collect();
    if !broken.is_empty() {
        failures.push(format!(
            "{} known operation(s) no longer validate: {}",
            broken.len(),
            broken
                .iter()
                .map(|o| format!("{}/{}", o.client, o.name))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }

    // 5. Lint.
    let mut lint = match &new_api {
        Some(api) => lint::lint(api.as_ref()),
        None => vec![],
    };
    lint.extend(lint::cross_subgraph_nullability(&opts.exported));
    let lint_errors = lint.iter().filter(|f| f.level == "error").count();
    if lint_errors > 0 {
        failures.push(format!("{lint_errors} lint error(s)"));
    }

    Ok(CheckReport {
        base,
        base_commit,
        drift,
        composition,
        changes,
        operations,
        lint,
        accepted_problems,
        failures,
    })
}
