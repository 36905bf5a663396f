//! Who hears of a tender: following it, and the deadline reminder a day
//! before (an event identity turns into mails and notifications).

use std::time::Duration;

use async_graphql::{Context, Object, Result, ID};
use platform::{
    audit::Actor,
    db::{set_scope, Scope},
    events::{emit, Event},
    ids::parse_id,
    mutation::{mutate, Audit},
    AppError,
    Role::*,
    Vertical,
};
use sqlx::PgPool;
use uuid::Uuid;

use super::{audience, event, load_visible, model::Tender};
use crate::access::public_write;

#[derive(Default)]
pub struct FollowMutation;

#[Object]
impl FollowMutation {
    /// Follows a published tender: its amendments and its deadline reminder
    /// reach the caller by mail and notification. Following twice is fine.
    #[graphql(guard = "public_write([SupplierAdmin, SupplierUser])")]
    async fn follow_tender(&self, ctx: &Context<'_>, id: ID) -> Result<Tender> {
        follow(ctx, &id, true).await
    }

    /// Stops following a tender (bidding on it still keeps the caller's
    /// organization informed).
    #[graphql(guard = "public_write([SupplierAdmin, SupplierUser])")]
    async fn unfollow_tender(&self, ctx: &Context<'_>, id: ID) -> Result<Tender> {
        follow(ctx, &id, false).await
    }
}

async fn follow(ctx: &Context<'_>, id: &ID, on: bool) -> Result<Tender> {
    let tender_id = parse_id("id", id)?;
    let caller = platform::guards::auth(ctx)?;
    let user = caller.user_id().ok_or(AppError::Forbidden)?;
    let org = caller.organization_id;
    let tender = load_visible(ctx, tender_id)
        .await?
        .ok_or(AppError::NotFound("Tender"))?;
    Ok(mutate(ctx, async |tx| {
        let sql = if on {
            "insert into tender_followers (organization_id, tender_id, user_id) values ($1, $2, $3) on conflict do nothing"
        } else {
            "delete from tender_followers where organization_id = $1 and tender_id = $2 and user_id = $3"
        };
        sqlx::query(sql).bind(org).bind(tender_id).bind(user).execute(&mut *tx).await?;
        let action = if on { "tender.follow" } else { "tender.unfollow" };
        Ok((tender, Audit::new(action, "Tender", tender_id)))
    })
    .await?)
}

/// Claims the tenders whose deadline is within `ahead` and announces
/// `procurement.tender.deadline_approaching` for each, with its audience,
/// in one transaction (a claim never leaves without its event).
pub async fn remind_once(pool: &PgPool, ahead: Duration) -> anyhow::Result<usize> {
    let mut tx = pool.begin().await?;
    let due: Vec<(Uuid, Uuid)> = sqlx::query_as("select id, organization_id from claim_deadline_reminders($1)")
        .bind(sqlx::postgres::types::PgInterval::try_from(ahead).map_err(|e| anyhow::anyhow!("{e}"))?)
        .fetch_all(&mut *tx)
        .await?;
    for (tender, org) in &due {
        set_scope(
            &mut tx,
            &Scope {
                organization_id: *org,
                verticals: vec![Vertical::Public],
                ..Default::default()
            },
        )
        .await?;
        let Some(t) = super::db::by_ids(&mut tx, &[*tender]).await?.into_iter().next() else {
            continue;
        };
        let audience = audience(&mut tx, *tender).await?;
        let actor = Actor {
            organization_id: *org,
            user_id: None,
            client_id: None,
            request_id: None,
        };
        let e: Event = event(
            "procurement.tender.deadline_approaching",
            &t,
            serde_json::json!({ "audience": audience }),
        );
        emit(&mut tx, &actor, e).await?;
    }
    tx.commit().await?;
    Ok(due.len())
}

/// The reminder job: a pass a minute.
pub async fn reminders(pool: PgPool) {
    loop {
        match remind_once(&pool, Duration::from_secs(24 * 3600)).await {
            Ok(n) if n > 0 => tracing::info!(tenders = n, "deadline reminders announced"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "deadline reminders: retrying in a minute"),
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}
