//! `hub audit verify|export`: the audit trail's hash chains, for auditors;
//! `hub retention run`: what legal retention lets go.

use std::io::Write;

use chrono::{DateTime, Utc};
use platform::audit::chain::{self, Entry, Read};
use registry::SUBGRAPHS;
use sqlx::ConnectOptions;
use uuid::Uuid;

fn subgraphs(only: Option<&str>) -> anyhow::Result<Vec<&'static registry::Subgraph>> {
    let list: Vec<_> = SUBGRAPHS.iter().filter(|s| only.is_none_or(|o| o == s.name)).collect();
    anyhow::ensure!(
        !list.is_empty(),
        "no subgraph named `{}`: one of {}",
        only.unwrap_or_default(),
        SUBGRAPHS.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
    );
    Ok(list)
}

/// Walks every chain (of one organization, of one subgraph) in the database,
/// or an export file offline; fails naming the first broken link of each.
pub async fn verify(org: Option<Uuid>, only: Option<&str>, file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let mut broken = vec![];
    if let Some(path) = file {
        // Line by line: an export of any size is checked in bounded memory
        // (one seal's reads at a time: an export puts them right after it).
        let reader = std::io::BufReader::new(
            std::fs::File::open(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
        );
        let mut walk = chain::Walk::new(&[], false);
        let mut seal: Option<(Entry, Vec<Read>)> = None;
        let mut seal_breaks: Vec<chain::Broken> = vec![];
        let (mut rows, mut read_count) = (0usize, 0usize);
        let check_seal = |seal: Option<(Entry, Vec<Read>)>, breaks: &mut Vec<chain::Broken>| {
            if let Some((entry, reads)) = seal {
                breaks.extend(chain::verify_seals(std::slice::from_ref(&entry), &reads));
            }
        };
        for (n, line) in std::io::BufRead::lines(reader).enumerate() {
            let line = line.map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            let bad = |e: serde_json::Error| anyhow::anyhow!("{}:{}: not an export line: {e}", path.display(), n + 1);
            let value: serde_json::Value = serde_json::from_str(&line).map_err(bad)?;
            if value.get("sealed_by").is_some() {
                let read = serde_json::from_value::<Read>(value).map_err(bad)?;
                read_count += 1;
                match seal.as_mut() {
                    Some((entry, reads)) if entry.id == read.sealed_by => reads.push(read),
                    _ => anyhow::bail!(
                        "{}:{}: a read whose seal does not come right before it",
                        path.display(),
                        n + 1
                    ),
                }
            } else {
                let entry = serde_json::from_value::<Entry>(value).map_err(bad)?;
                rows += 1;
                check_seal(seal.take(), &mut seal_breaks);
                if walk.push(&entry) && entry.action == chain::SEAL_ACTION {
                    seal = Some((entry, vec![]));
                }
            }
        }
        check_seal(seal.take(), &mut seal_breaks);
        let mut found = walk.finish();
        for b in seal_breaks {
            if !found
                .iter()
                .any(|k| k.organization_id == b.organization_id && k.subgraph == b.subgraph)
            {
                found.push(b);
            }
        }
        println!(
            "{}: {rows} rows and {read_count} sealed reads checked offline",
            path.display(),
        );
        broken.extend(
            found
                .into_iter()
                .map(|b| (b.subgraph.clone().unwrap_or_else(|| "export".into()), b)),
        );
    } else {
        for sg in subgraphs(only)? {
            let settings = sg.settings()?;
            let mut conn = settings.database.admin_options()?.connect().await?;
            let report = chain::verify(&mut conn, &settings.database.schema, org).await?;
            let status = if report.broken.is_empty() { "intact" } else { "BROKEN" };
            println!(
                "{}: {} rows in {} organization chains, {} sealed reads, {status}{}{}",
                sg.name,
                report.rows,
                report.organizations,
                report.reads,
                if report.unsealed > 0 {
                    format!(" ({} reads not sealed yet)", report.unsealed)
                } else {
                    String::new()
                },
                if report.unchained > 0 {
                    format!(
                        " ({} rows written before the chain existed are not covered)",
                        report.unchained
                    )
                } else {
                    String::new()
                }
            );
            broken.extend(report.broken.into_iter().map(|b| (sg.name.to_string(), b)));
        }
    }
    for (where_, b) in &broken {
        println!(
            "  {where_}: organization {} breaks at row {}{}: {}",
            b.organization_id,
            b.seq,
            b.id.map(|i| format!(" ({i})")).unwrap_or_default(),
            b.reason
        );
    }
    anyhow::ensure!(broken.is_empty(), "{} broken audit chain(s)", broken.len());
    Ok(())
}

/// Writes one organization's rows of `[from, to)` as JSON lines, with the
/// hashed record and both hashes of each, for offline verification.
pub async fn export(
    org: Uuid,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    only: Option<&str>,
    out: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let mut sink: Box<dyn Write> = match out {
        Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p)?)),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut total = 0;
    for sg in subgraphs(only)? {
        let settings = sg.settings()?;
        let mut conn = settings.database.admin_options()?.connect().await?;
        let schema = &settings.database.schema;
        let (entries, _) = chain::entries(&mut conn, schema, Some(org), from, to).await?;
        let mut reads: std::collections::HashMap<Uuid, Vec<Read>> = Default::default();
        for r in chain::reads(&mut conn, schema, Some(org)).await? {
            reads.entry(r.sealed_by).or_default().push(r);
        }
        total += entries.len();
        // A seal's reads follow it, so the file verifies on its own.
        for e in entries {
            let sealed = reads.remove(&e.id).unwrap_or_default();
            let line = Entry {
                subgraph: Some(sg.name.to_string()),
                ..e
            };
            writeln!(sink, "{}", serde_json::to_string(&line)?)?;
            for r in sealed {
                let r = Read {
                    subgraph: Some(sg.name.to_string()),
                    ..r
                };
                writeln!(sink, "{}", serde_json::to_string(&r)?)?;
            }
        }
    }
    sink.flush()?;
    eprintln!("exported {total} audit rows of organization {org}");
    Ok(())
}

/// Runs (or, dry, counts) every subgraph's retention rules and prints what
/// each did.
pub async fn retention(dry_run: bool, only: Option<&str>, json: bool) -> anyhow::Result<()> {
    let now = Utc::now();
    let mut report = vec![];
    for sg in subgraphs(only)? {
        let settings = sg.settings()?;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_with(settings.database.admin_options()?)
            .await?;
        let outcomes = platform::retention::run(
            &pool,
            &settings.database.schema,
            sg.retention,
            &settings.retention,
            now,
            dry_run,
        )
        .await?;
        report.extend(outcomes.into_iter().map(|o| (sg.name, o)));
    }
    if json {
        let rows: Vec<_> = report
            .iter()
            .map(|(sg, o)| serde_json::json!({ "subgraph": sg, "outcome": o }))
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "retention {} at {}",
        if dry_run { "dry run" } else { "run" },
        now.format("%Y-%m-%dT%H:%M:%SZ")
    );
    for (sg, o) in &report {
        println!(
            "  {sg:<8} {:<18} {:>6} {} {} (kept {} days, before {})",
            o.category,
            o.rows,
            o.what,
            o.action,
            o.retention_days,
            o.cutoff.format("%Y-%m-%d")
        );
    }
    Ok(())
}
