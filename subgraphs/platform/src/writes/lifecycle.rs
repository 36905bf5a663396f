//! One step of a record's state machine (appointments, invoices, tenders,
//! bids…): move from one of the allowed states to the next atomically, tell
//! "no such record" (NOT_FOUND) from "not in a state that allows it"
//! (CONFLICT), and audit the state it actually left.

use async_graphql::{Context, ID};
use sqlx::{postgres::PgRow, FromRow, PgConnection, Row};
use uuid::Uuid;

use crate::{
    foundation::error::{AppError, AppResult},
    foundation::ids::parse_id,
    writes::mutation::{mutate, Audit},
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

/// A record with a state machine. The defaults run the standard transition
/// SQL on `TABLE`; a type overrides `move_to` only for unusual tables.
pub trait Lifecycle: Sized + Send + Unpin + for<'r> FromRow<'r, PgRow> {
    /// GraphQL type name, e.g. `Appointment`.
    const ENTITY: &'static str;
    /// Audit action prefix, e.g. `appointment`.
    const ACTION: &'static str;
    /// Its table, with a `status` text column, `id` and `updated_at`.
    const TABLE: &'static str;
    /// The columns `Self` is read from.
    const COLUMNS: &'static str;
    /// Extra assignments of a step, given the new status as `$2`
    /// (e.g. `issued_at = case when $2 = 'issued' then now() else issued_at end`).
    const ON_MOVE: &'static str = "";

    /// The states, as a Rust enum: hooks match on it, never on strings.
    type Status: Copy + PartialEq + Send + Sync;
    /// A state's name in the database.
    fn db_name(status: Self::Status) -> &'static str;

    /// Sets `to` only if the current status is one of `from`; returns the
    /// record and the state it left, or `None` if nothing moved.
    fn move_to(
        conn: &mut PgConnection,
        id: Uuid,
        from: &[&str],
        to: &str,
    ) -> impl std::future::Future<Output = AppResult<Option<Moved<Self>>>> + Send {
        async move {
            let extra = if Self::ON_MOVE.is_empty() {
                String::new()
            } else {
                format!(", {}", Self::ON_MOVE)
            };
            // Dynamic on purpose: one statement shape for every lifecycle table
            // (names are compile-time constants, values are bound).
            let sql = format!(
                "with prev as (select status as previous from {t} where id = $1 for update)
                 update {t} set status = $2, updated_at = now(){extra} from prev
                  where id = $1 and previous = any($3) returning previous, {c}",
                t = Self::TABLE,
                c = Self::COLUMNS,
            );
            Ok(sqlx::query_as(&sql)
                .bind(id)
                .bind(to)
                .bind(from)
                .fetch_optional(conn)
                .await?)
        }
    }

    /// The current status, if the record exists (and is visible).
    fn current(
        conn: &mut PgConnection,
        id: Uuid,
    ) -> impl std::future::Future<Output = AppResult<Option<String>>> + Send {
        async move {
            let sql = format!("select status from {} where id = $1", Self::TABLE);
            Ok(sqlx::query_scalar(&sql).bind(id).fetch_optional(conn).await?)
        }
    }

    /// Extra conditions on a step (an invoice needs lines to be issued). A
    /// precondition that fails must itself tell a missing record (NOT_FOUND).
    fn precondition(
        _conn: &mut PgConnection,
        _id: Uuid,
        _to: Self::Status,
    ) -> impl std::future::Future<Output = AppResult<()>> + Send {
        async { Ok(()) }
    }

    /// What else a step writes, in its transaction, once the record moved
    /// (a publication, an event); its failure undoes the step.
    fn after_move(
        _conn: &mut PgConnection,
        _record: &Self,
        _to: Self::Status,
    ) -> impl std::future::Future<Output = AppResult<()>> + Send {
        async { Ok(()) }
    }

    /// The domain event of a step, if it has one (written with the audit
    /// record); it may read what else the event needs.
    fn event(
        _conn: &mut PgConnection,
        _record: &Self,
        _to: Self::Status,
    ) -> impl std::future::Future<Output = AppResult<Option<crate::messaging::events::Event>>> + Send {
        async { Ok(None) }
    }
}

/// Moves the record `id` from one of `from` to `to`, in the caller's tenant
/// transaction, with its audit record.
pub async fn step<T: Lifecycle>(ctx: &Context<'_>, id: &ID, from: &[T::Status], to: T::Status) -> AppResult<T> {
    let id = parse_id("id", id)?;
    let from: Vec<&str> = from.iter().map(|s| T::db_name(*s)).collect();
    let status = to;
    let to = T::db_name(status);
    mutate(ctx, async |conn| {
        T::precondition(conn, id, status).await?;
        let Some(moved) = T::move_to(conn, id, &from, to).await? else {
            // Only on failure: was it missing, or in the wrong state?
            let Some(current) = T::current(conn, id).await? else {
                return Err(AppError::NotFound(T::ENTITY));
            };
            let noun = T::ACTION.replace('_', " ");
            return Err(AppError::Conflict(format!(
                "the {noun} is {current} and cannot become {to}"
            )));
        };
        T::after_move(conn, &moved.record, status).await?;
        let mut audit = Audit::new(format!("{}.{to}", T::ACTION), T::ENTITY, id)
            .details(serde_json::json!({ "from": moved.previous, "to": to }));
        if let Some(event) = T::event(conn, &moved.record, status).await? {
            audit = audit.event(event);
        }
        Ok((moved.record, audit))
    })
    .await
}
