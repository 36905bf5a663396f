//! `hub audit verify|export`: the audit trail's hash chains, for auditors.

use std::io::Write;

use chrono::{DateTime, Utc};
use platform::audit::chain::{self, Entry};
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
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let mut entries = vec![];
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let e: Entry = serde_json::from_str(line)
                .map_err(|e| anyhow::anyhow!("{}:{}: not an export line: {e}", path.display(), n + 1))?;
            entries.push(e);
        }
        let found = chain::verify_entries(&entries, &[], false);
        println!("{}: {} rows checked offline", path.display(), entries.len());
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
                "{}: {} rows in {} organization chains, {status}{}",
                sg.name,
                report.rows,
                report.organizations,
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
        let (entries, _) = chain::entries(&mut conn, &settings.database.schema, Some(org), from, to).await?;
        total += entries.len();
        for e in entries {
            let line = Entry {
                subgraph: Some(sg.name.to_string()),
                ..e
            };
            writeln!(sink, "{}", serde_json::to_string(&line)?)?;
        }
    }
    sink.flush()?;
    eprintln!("exported {total} audit rows of organization {org}");
    Ok(())
}
