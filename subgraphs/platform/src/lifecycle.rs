//! One step of a record's state machine (appointments, invoices, tenders,
//! bids…): move from one of the allowed states to the next atomically, tell
//! "no such record" (NOT_FOUND) from "not in a state that allows it"
//! (CONFLICT), and audit the state it actually left.

use async_graphql::Context;
use sqlx::{postgres::PgRow, FromRow, PgConnection, Row};
use uuid::Uuid;

use crate::{
    error::{AppError, AppResult},
    mutation::{mutate, Audit},
};

/// A record after a transition, with the state it left. Transition queries
/// return the previous state as a `previous` column, e.g.
/// `with prev as (select status as previous from t where id = $1 for update)
///  update t set status = $2 from prev where id = $1 and previous = any($3)
///  returning previous, <columns>`.
pub struct Moved<T> {
    pub record: T,
    pub previous: String,
}

impl<'r, T: FromRow<'r, PgRow>> FromRow<'r, PgRow> for Moved<T> {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Moved {
            record: T::from_row(row)?,
            previous: row.try_get("previous")?,
        })
    }
}

pub trait Lifecycle: Sized + Send {
    /// GraphQL type name, e.g. `Appointment`.
    const ENTITY: &'static str;
    /// Audit action prefix, e.g. `appointment`.
    const ACTION: &'static str;

    /// Sets `to` only if the current status is one of `from`.
    fn move_to(
        conn: &mut PgConnection,
        id: Uuid,
        from: &[&str],
        to: &str,
    ) -> impl std::future::Future<Output = AppResult<Option<Moved<Self>>>> + Send;

    /// The current status, if the record exists (and is visible).
    fn current(
        conn: &mut PgConnection,
        id: Uuid,
    ) -> impl std::future::Future<Output = AppResult<Option<String>>> + Send;

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

pub async fn step<T: Lifecycle>(ctx: &Context<'_>, id: Uuid, from: &[&str], to: &str) -> AppResult<T> {
    mutate(ctx, async |conn| {
        T::precondition(conn, id, to).await?;
        let Some(moved) = T::move_to(conn, id, from, to).await? else {
            // Only on failure: was it missing, or in the wrong state?
            let Some(current) = T::current(conn, id).await? else {
                return Err(AppError::NotFound(T::ENTITY));
            };
            let noun = T::ACTION.replace('_', " ");
            return Err(AppError::Conflict(format!(
                "the {noun} is {current} and cannot become {to}"
            )));
        };
        let audit = Audit::new(format!("{}.{to}", T::ACTION), T::ENTITY, id)
            .details(serde_json::json!({ "from": moved.previous, "to": to }));
        Ok((moved.record, audit))
    })
    .await
}
