//! One step of a record's state machine (appointments, invoices): move from
//! one of the allowed states to the next atomically, tell "no such record"
//! (NOT_FOUND) from "not in a state that allows it" (CONFLICT), and audit.

use async_graphql::{Context, Result, ID};
use platform::{
    audit::{self, actor},
    db::TenantTx,
    guards::auth,
    ids::parse_id,
    AppError, AppResult,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::state::state;

pub trait Lifecycle: Sized + Send {
    /// GraphQL type name, e.g. `Appointment`.
    const ENTITY: &'static str;
    /// Audit action prefix, e.g. `appointment`.
    const ACTION: &'static str;

    fn status(&self) -> &str;

    /// Sets `to` only if the current status is one of `from`.
    fn move_to(
        conn: &mut PgConnection,
        id: Uuid,
        from: &[&str],
        to: &str,
    ) -> impl std::future::Future<Output = sqlx::Result<Option<Self>>> + Send;

    fn find(conn: &mut PgConnection, id: Uuid) -> impl std::future::Future<Output = sqlx::Result<Option<Self>>> + Send;

    /// Extra conditions on a step (an invoice needs lines to be issued). A
    /// precondition that fails must itself tell a missing record (NOT_FOUND).
    fn precondition(
        _conn: &mut PgConnection,
        _id: Uuid,
        _to: &str,
    ) -> impl std::future::Future<Output = AppResult<()>> + Send {
        async { Ok(()) }
    }
}

pub async fn step<T: Lifecycle>(ctx: &Context<'_>, id: &ID, from: &[&str], to: &str) -> Result<T> {
    let st = state(ctx)?;
    let id = parse_id("id", id)?;
    let mut tx = TenantTx::begin(&st.pool, auth(ctx)?).await?;
    T::precondition(&mut tx, id, to).await?;
    let Some(record) = T::move_to(&mut tx, id, from, to).await.map_err(AppError::from)? else {
        // Only on failure: was it missing, or in the wrong state?
        let Some(current) = T::find(&mut tx, id).await.map_err(AppError::from)? else {
            return Err(AppError::NotFound(T::ENTITY).into());
        };
        let noun = T::ACTION.replace('_', " ");
        let status = current.status();
        return Err(AppError::Conflict(format!("the {noun} is {status} and cannot become {to}")).into());
    };
    let action = format!("{}.{to}", T::ACTION);
    audit::record(
        &mut tx,
        &actor(ctx)?,
        &action,
        T::ENTITY,
        id,
        serde_json::json!({ "from": from }),
    )
    .await?;
    tx.commit().await?;
    Ok(record)
}
