//! Markdown a reviewer reads in a pull request.

use std::fmt::Write;

use super::{check::CheckReport, diff::Level, operations::OperationReport, ReviewedChange};

fn esc(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn changes_table(out: &mut String, title: &str, changes: &[&ReviewedChange]) {
    if changes.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n### {title} ({})\n", changes.len());
    let _ = writeln!(out, "| path | change | used by | |\n|---|---|---|---|");
    for c in changes {
        let used = if c.change.level == Level::NonBreaking {
            String::new()
        } else if c.used_by.is_empty() {
            "no known operation".into()
        } else {
            c.used_by
                .iter()
                .map(|u| format!("`{u}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let note = match &c.accepted {
            Some(r) => format!("accepted: {}", esc(r)),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} <sub>{}</sub> | {} | {} |",
            c.change.path,
            esc(&c.change.message),
            c.change.kind,
            used,
            note
        );
    }
}

/// The change lists, worst first.
pub fn changes(out: &mut String, changes: &[ReviewedChange]) {
    let of = |l: Level| changes.iter().filter(|c| c.change.level == l).collect::<Vec<_>>();
    if changes.is_empty() {
        let _ = writeln!(out, "\nNo change to the API schema.");
        return;
    }
    changes_table(out, "Breaking", &of(Level::Breaking));
    changes_table(out, "Dangerous", &of(Level::Dangerous));
    let safe = of(Level::NonBreaking);
    if !safe.is_empty() {
        let _ = writeln!(out, "\n<details><summary>Non-breaking ({})</summary>\n", safe.len());
        for c in safe {
            let _ = writeln!(
                out,
                "- `{}` {} <sub>{}</sub>",
                c.change.path, c.change.message, c.change.kind
            );
        }
        let _ = writeln!(out, "\n</details>");
    }
}

pub fn operations(out: &mut String, ops: &[OperationReport]) {
    if ops.is_empty() {
        return;
    }
    let broken: Vec<_> = ops.iter().filter(|o| !o.valid).collect();
    let touched: Vec<_> = ops.iter().filter(|o| o.valid && !o.affected_by.is_empty()).collect();
    let _ = writeln!(
        out,
        "\n### Known operations ({} checked, {} broken, {} still valid but touched by a risky change)\n",
        ops.len(),
        broken.len(),
        touched.len()
    );
    for o in &broken {
        let _ = writeln!(out, "- ❌ **{}** `{}` ({}):", o.client, o.name, o.file);
        for e in &o.errors {
            let _ = writeln!(out, "  - {e}");
        }
        if !o.affected_by.is_empty() {
            let _ = writeln!(out, "  - broken by: {}", paths(&o.affected_by));
        }
    }
    for o in &touched {
        let _ = writeln!(
            out,
            "- ⚠️ **{}** `{}` ({}) still validates but uses {}",
            o.client,
            o.name,
            o.file,
            paths(&o.affected_by)
        );
    }
    if broken.is_empty() && touched.is_empty() {
        let _ = writeln!(out, "Every known operation validates and none uses a changed part.");
    }
}

fn paths(p: &[String]) -> String {
    p.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
}

pub fn check(r: &CheckReport) -> String {
    let mut out = String::new();
    let verdict = if r.failures.is_empty() {
        "✅ passes"
    } else {
        "❌ fails"
    };
    let _ = writeln!(out, "## Schema review {verdict}\n");
    let short = r.base_commit.get(..10).unwrap_or(&r.base_commit);
    let _ = writeln!(out, "Base: `{}` ({short}) → working tree.\n", r.base);
    let count = |l: Level| r.changes.iter().filter(|c| c.change.level == l).count();
    let _ = writeln!(out, "| check | result |\n|---|---|");
    let _ = writeln!(
        out,
        "| golden files | {} |",
        if r.drift.is_empty() {
            "✅ current".to_string()
        } else {
            format!("❌ {} differ", r.drift.len())
        }
    );
    let _ = writeln!(
        out,
        "| composition | {} |",
        if r.composition.ok {
            format!("✅ composes ({} hint(s))", r.composition.hints.len())
        } else {
            format!("❌ {} error(s)", r.composition.errors.len())
        }
    );
    let _ = writeln!(
        out,
        "| API changes | {} breaking, {} dangerous, {} non-breaking |",
        count(Level::Breaking),
        count(Level::Dangerous),
        count(Level::NonBreaking)
    );
    let _ = writeln!(
        out,
        "| known operations | {} checked, {} broken |",
        r.operations.len(),
        r.operations.iter().filter(|o| !o.valid).count()
    );
    let errors = r.lint.iter().filter(|f| f.level == "error").count();
    let _ = writeln!(
        out,
        "| lint | {} error(s), {} warning(s) |",
        errors,
        r.lint.len() - errors
    );
    if !r.failures.is_empty() {
        let _ = writeln!(out, "\n**Why it fails**\n");
        for f in &r.failures {
            let _ = writeln!(out, "- {f}");
        }
    }
    for d in &r.drift {
        let _ = writeln!(
            out,
            "\n### `{}` is not what the code generates\n\nFix: `{}`\n\n```diff\n{}```",
            d.file, d.fix, d.diff
        );
    }
    if !r.composition.errors.is_empty() {
        let _ = writeln!(out, "\n### Composition errors\n");
        // A syntax error cascades into hundreds of parser errors: the first
        // lines locate it, the JSON report keeps everything.
        const SHOWN: usize = 40;
        for e in &r.composition.errors {
            let lines: Vec<&str> = e.lines().collect();
            let _ = writeln!(out, "```text\n{}", lines[..lines.len().min(SHOWN)].join("\n"));
            if lines.len() > SHOWN {
                let _ = writeln!(
                    out,
                    "… {} more lines (all of them: `cargo run -p hub -- compose`, or report.json)",
                    lines.len() - SHOWN
                );
            }
            let _ = writeln!(out, "```");
        }
    }
    changes(&mut out, &r.changes);
    operations(&mut out, &r.operations);
    if !r.lint.is_empty() {
        let _ = writeln!(out, "\n### Lint\n");
        for f in &r.lint {
            let _ = writeln!(out, "- {} `{}` ({}): {}", f.level, f.path, f.rule, f.message);
        }
    }
    if !r.accepted_problems.is_empty() {
        let _ = writeln!(out, "\n### schema-review/accepted.yaml\n");
        for p in &r.accepted_problems {
            let _ = writeln!(out, "- {p}");
        }
    }
    if !r.composition.hints.is_empty() {
        let _ = writeln!(
            out,
            "\n<details><summary>Composition hints ({})</summary>\n",
            r.composition.hints.len()
        );
        for h in &r.composition.hints {
            let _ = writeln!(out, "- {h}");
        }
        let _ = writeln!(out, "\n</details>");
    }
    out
}
