//! `hub practitioners rebuild`: medical's practitioner projection, from scratch.

use registry::SUBGRAPHS;
use sqlx::ConnectOptions;

fn subgraph(name: &str) -> anyhow::Result<&'static registry::Subgraph> {
    SUBGRAPHS
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| anyhow::anyhow!("no {name} subgraph registered"))
}

/// Empties medical's projection, then has identity publish a membership
/// snapshot per organization: the running medical service's consumer
/// (`medical.practitioners`) fills the projection from it. Until it has,
/// bookings are refused, so run it when the projection is lost, not routinely.
pub async fn rebuild_practitioners() -> anyhow::Result<()> {
    let medical = subgraph("medical")?.settings()?;
    let mut conn = medical.database.admin_options()?.connect().await?;
    let cleared = sqlx::query(&format!("delete from {}.practitioners", medical.database.schema))
        .execute(&mut conn)
        .await?
        .rows_affected();
    println!("Cleared medical's practitioner projection ({cleared} rows).");

    let identity = subgraph("identity")?.settings()?;
    let mut conn = identity.database.admin_options()?.connect().await?;
    sqlx::raw_sql(&format!("set search_path to {}", identity.database.schema))
        .execute(&mut conn)
        .await?;
    let (orgs, members) = identity::events::membership_snapshots(&mut conn).await?;
    println!(
        "Identity queued {orgs} identity.membership.snapshot events ({members} memberships). \
         Medical applies them as soon as identity's relay has published them; \
         watch hub_event_consumer_lag{{group=\"medical.practitioners\"}} on medical's /metrics."
    );
    Ok(())
}
