//! The review engine on fixtures (each rule, levels as graphql-inspector
//! grades them) and on a copy of this repository in a scratch git repo.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use super::{check, diff, lint, parse_sdl};
use crate::compose;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn lines(changes: &[diff::Change]) -> Vec<String> {
    let mut v: Vec<_> = changes
        .iter()
        .map(|c| {
            let level = serde_json::to_value(c.level).unwrap();
            (c.path.clone(), c.kind, level.as_str().unwrap().to_string())
        })
        .collect();
    v.sort();
    v.into_iter()
        .map(|(path, kind, level)| format!("{level} {kind} {path}"))
        .collect()
}

/// `expected.txt` holds graphql-inspector 8's verdict on each fixture (the
/// frontend-codegen tests run the inspector on the same files and compare).
#[test]
fn every_fixture_gets_the_inspector_levels() {
    let dir = repo().join("schema-review/fixtures");
    let mut cases: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    cases.sort();
    assert!(cases.len() >= 13, "fixtures missing in {}", dir.display());
    let mut failures = vec![];
    for case in &cases {
        let read = |f: &str| std::fs::read_to_string(case.join(f)).unwrap();
        let old = parse_sdl(&read("old.graphql"), "old.graphql").unwrap();
        let new = parse_sdl(&read("new.graphql"), "new.graphql").unwrap();
        let got = lines(&diff::diff(&old, &new));
        let want: Vec<String> = read("expected.txt").lines().map(str::to_string).collect();
        assert!(!want.is_empty(), "{}: no expected change", case.display());
        if got != want {
            failures.push(format!(
                "{}:\n  want {want:#?}\n  got  {got:#?}",
                case.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn messages_name_what_changed() {
    let old = parse_sdl("type Query { a(x: Int): String }", "old").unwrap();
    let new = parse_sdl("type Query { a(x: Int!): Int }", "new").unwrap();
    let changes = diff::diff(&old, &new);
    let arg = changes.iter().find(|c| c.path == "Query.a(x:)").unwrap();
    assert_eq!(arg.kind, "FIELD_ARGUMENT_TYPE_CHANGED");
    assert!(
        arg.message.contains("Int") && arg.message.contains("Int!"),
        "{}",
        arg.message
    );
    let field = changes.iter().find(|c| c.path == "Query.a").unwrap();
    assert!(
        field.message.contains("String") && field.message.contains("Int"),
        "{}",
        field.message
    );
}

#[test]
fn lint_names_each_convention_broken() {
    let schema = parse_sdl(
        r#"
        type Query {
          "ok" bad_field: String
          "ok" items(first: Int): [Item!]!
          "ok" old: String @deprecated
        }
        "ok" type Item { "ok" id: ID! undescribed: String }
        "ok" enum color { "ok" red }
        type Undescribed { "ok" x: Int }
        "ok" input In { snake_case: Int }
        "#,
        "lint.graphql",
    )
    .unwrap();
    let found: Vec<(String, String)> = lint::lint(&schema)
        .into_iter()
        .map(|f| (f.rule.to_string(), f.path))
        .collect();
    for want in [
        ("naming", "Query.bad_field"),
        ("naming", "color"),
        ("naming", "color.red"),
        ("naming", "In.snake_case"),
        ("description", "Item.undescribed"),
        ("description", "Undescribed"),
        ("deprecation-reason", "Query.old"),
        ("relay-connection", "Query.items"),
    ] {
        assert!(
            found.contains(&(want.0.to_string(), want.1.to_string())),
            "missing {want:?} in {found:#?}"
        );
    }
    assert!(!found.iter().any(|(_, p)| p == "Item.id" || p == "Query"), "{found:#?}");
}

#[test]
fn the_real_api_schema_passes_lint() {
    let sdl = std::fs::read_to_string(repo().join("supergraph.graphql")).unwrap();
    let findings = lint::lint(super::api_schema(&sdl).unwrap().as_ref());
    assert!(findings.is_empty(), "{findings:#?}");
}

/// A scratch git repository holding this repository's schema files and
/// operations, committed as the base.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("hub-schema-check-{}", uuid::Uuid::new_v4()));
        let src = repo();
        for rel in ["supergraph.yaml", "supergraph.graphql", compose::API_SCHEMA_FILE] {
            copy(&src.join(rel), &dir.join(rel));
        }
        for sg in registry::SUBGRAPHS {
            let rel = format!("subgraphs/{}/schema.graphql", sg.name);
            copy(&src.join(&rel), &dir.join(&rel));
        }
        for rel in ["frontend-codegen/operations", "frontend-codegen/manifests"] {
            copy_dir(&src.join(rel), &dir.join(rel));
        }
        let s = Scratch { dir };
        s.git(&["init", "-q", "-b", "main"]);
        s.git(&["add", "-A"]);
        s.git(&["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"]);
        s
    }

    fn git(&self, args: &[&str]) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(&self.dir)
            .args(args)
            .status()
            .unwrap();
        assert!(ok.success(), "git {args:?}");
    }

    /// Edits a subgraph's SDL as its code would export it, and composes.
    fn edit_subgraph(&self, name: &str, edit: impl Fn(String) -> String) {
        let file = self.dir.join(format!("subgraphs/{name}/schema.graphql"));
        let before = std::fs::read_to_string(&file).unwrap();
        let after = edit(before.clone());
        assert_ne!(before, after, "the edit changed nothing");
        std::fs::write(&file, after).unwrap();
        let composed = compose::compose(&self.dir.join("supergraph.yaml")).unwrap().unwrap();
        std::fs::write(self.dir.join("supergraph.graphql"), &composed.supergraph).unwrap();
        std::fs::write(
            self.dir.join(compose::API_SCHEMA_FILE),
            compose::api_schema_sdl(&composed.supergraph).unwrap(),
        )
        .unwrap();
    }

    fn options(&self, fail_on_unused_breaking: bool) -> check::Options {
        check::Options {
            base: None,
            fail_on_unused_breaking,
            exported: registry::SUBGRAPHS
                .iter()
                .map(|sg| {
                    let file = self.dir.join(format!("subgraphs/{}/schema.graphql", sg.name));
                    (sg.name.to_string(), std::fs::read_to_string(file).unwrap())
                })
                .collect(),
        }
    }

    fn check(&self, fail_on_unused_breaking: bool) -> check::CheckReport {
        check::check(&self.dir, &self.options(fail_on_unused_breaking)).unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
}

fn copy_dir(from: &Path, to: &Path) {
    if !from.is_dir() {
        return;
    }
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            copy(&p, &target);
        }
    }
}

/// Removes the field whose definition line is `line`, with its description.
fn remove_line(sdl: String, line: &str) -> String {
    let mut out: Vec<&str> = vec![];
    for l in sdl.lines() {
        if l.trim() == line {
            // Drop the `"""…"""` block right above it.
            if out.last().is_some_and(|p| p.trim() == "\"\"\"") {
                out.pop();
                while out.last().is_some_and(|p| p.trim() != "\"\"\"") {
                    out.pop();
                }
                out.pop();
            }
            continue;
        }
        out.push(l);
    }
    out.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn an_unchanged_tree_passes() {
    let s = Scratch::new();
    let r = s.check(true);
    assert!(r.failures.is_empty(), "{:#?}", r.failures);
    assert!(r.changes.is_empty());
    assert!(r.operations.len() >= 9 && r.operations.iter().all(|o| o.valid));
    for client in ["medical-web", "procurement-web", "partner-insurer"] {
        assert!(
            r.operations.iter().any(|o| o.client == client),
            "no operation of {client}"
        );
    }
}

/// The real case: `Invoice.paidAt` is read by the insurer partner only.
/// Removing it fails the check, and the report names the partner's operation.
#[test]
fn removing_a_field_a_partner_reads_fails_naming_the_operation() {
    let s = Scratch::new();
    s.edit_subgraph("medical", |sdl| remove_line(sdl, "paidAt: DateTime"));
    let r = s.check(false);
    let removed = r
        .changes
        .iter()
        .find(|c| c.change.path == "Invoice.paidAt")
        .expect("Invoice.paidAt reported");
    assert_eq!(removed.change.kind, "FIELD_REMOVED");
    assert_eq!(removed.change.level, diff::Level::Breaking);
    assert_eq!(removed.used_by, vec!["partner-insurer/PartnerInvoices".to_string()]);
    let op = r.operations.iter().find(|o| o.name == "PartnerInvoices").unwrap();
    assert!(!op.valid && op.errors.iter().any(|e| e.contains("paidAt")), "{op:#?}");
    assert_eq!(op.affected_by, vec!["Invoice.paidAt".to_string()]);
    let text = r.failures.join("\n");
    assert!(
        text.contains("Invoice.paidAt (used by partner-insurer/PartnerInvoices)"),
        "{text}"
    );
    assert!(r.drift.is_empty(), "{:#?}", r.drift);
    let md = super::report::check(&r);
    assert!(
        md.contains("partner-insurer/PartnerInvoices") && md.contains("❌"),
        "{md}"
    );
}

#[test]
fn a_break_no_operation_uses_is_reported_and_fails_only_when_asked() {
    let s = Scratch::new();
    s.edit_subgraph("medical", |sdl| remove_line(sdl, "voidedAt: DateTime"));
    let r = s.check(false);
    let c = r.changes.iter().find(|c| c.change.path == "Invoice.voidedAt").unwrap();
    assert_eq!(c.change.level, diff::Level::Breaking);
    assert!(c.used_by.is_empty());
    assert!(r.failures.is_empty(), "{:#?}", r.failures);
    assert!(super::report::check(&r).contains("no known operation"));
    let strict = s.check(true);
    assert!(
        strict.failures.iter().any(|f| f.contains("Invoice.voidedAt")),
        "{:#?}",
        strict.failures
    );
}

#[test]
fn an_accepted_break_passes_until_its_acceptance_expires() {
    let s = Scratch::new();
    s.edit_subgraph("medical", |sdl| remove_line(sdl, "paidAt: DateTime"));
    let accepted = s.dir.join("schema-review/accepted.yaml");
    std::fs::create_dir_all(accepted.parent().unwrap()).unwrap();
    let write = |expires: &str, reason: &str| {
        std::fs::write(
            &accepted,
            format!(
                "accepted:\n  - path: Invoice.paidAt\n    type: FIELD_REMOVED\n    reason: \"{reason}\"\n    expires: {expires}\n    by: reviewer\n"
            ),
        )
        .unwrap();
    };
    let tomorrow = chrono::Utc::now().date_naive() + chrono::Duration::days(1);
    write(&tomorrow.to_string(), "The insurer moved to paymentStatus (ticket 42).");
    let r = s.check(false);
    assert!(r.failures.is_empty(), "{:#?}", r.failures);
    let c = r.changes.iter().find(|c| c.change.path == "Invoice.paidAt").unwrap();
    assert_eq!(
        c.accepted.as_deref(),
        Some("The insurer moved to paymentStatus (ticket 42).")
    );

    let yesterday = chrono::Utc::now().date_naive() - chrono::Duration::days(1);
    write(&yesterday.to_string(), "Old reason.");
    let r = s.check(false);
    assert!(
        r.failures.iter().any(|f| f.contains("Invoice.paidAt")),
        "{:#?}",
        r.failures
    );
    assert!(
        r.accepted_problems.iter().any(|p| p.contains("expired")),
        "{:#?}",
        r.accepted_problems
    );

    write(&tomorrow.to_string(), " ");
    let r = s.check(false);
    assert!(!r.failures.is_empty());
    assert!(r.accepted_problems.iter().any(|p| p.contains("reason")));
}

#[test]
fn drift_and_composition_errors_fail_with_the_fix() {
    let s = Scratch::new();
    // The code exports a field the committed golden file lacks.
    let mut opts = s.options(false);
    for (name, sdl) in &mut opts.exported {
        if name == "medical" {
            sdl.push('\n');
        }
    }
    let r = check::check(&s.dir, &opts).unwrap();
    let d = r
        .drift
        .iter()
        .find(|d| d.file == "subgraphs/medical/schema.graphql")
        .unwrap();
    assert_eq!(d.fix, "cargo run -p hub -- schema export");
    assert!(d.diff.contains("(generated)"), "{}", d.diff);
    assert!(r.failures.iter().any(|f| f.contains("differ from what is committed")));

    // Two subgraphs type a shared field differently.
    let file = s.dir.join("subgraphs/public/schema.graphql");
    let sdl = std::fs::read_to_string(&file).unwrap();
    let broken = sdl.replacen("\thasNextPage: Boolean!", "\thasNextPage: String!", 1);
    assert_ne!(sdl, broken);
    std::fs::write(&file, broken).unwrap();
    let r = s.check(false);
    assert!(!r.composition.ok && !r.composition.errors.is_empty());
    assert!(
        r.failures.iter().any(|f| f.contains("composition failed")),
        "{:#?}",
        r.failures
    );
}

#[test]
fn the_base_is_a_git_ref() {
    let s = Scratch::new();
    let mut opts = s.options(false);
    opts.base = Some("no-such-ref".into());
    let e = check::check(&s.dir, &opts).err().unwrap().to_string();
    assert!(e.contains("no-such-ref"), "{e}");
}
