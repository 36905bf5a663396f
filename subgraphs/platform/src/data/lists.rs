//! The list resolvers' glue, once: arguments checked, one read, a connection.

use async_graphql::{
    connection::{Connection, OpaqueCursor},
    OutputType,
};
use serde::{de::DeserializeOwned, Serialize};
use sqlx::PgConnection;

use crate::{
    data::{reads::LoaderCtx, runtime::runtime},
    foundation::{error::AppResult, pagination::Page},
};

/// One page of a list, read the way every list resolver reads: `first` and
/// `after` checked (the page capped by `limits.page_size`), `fetch` run in
/// the request's read transaction with the position after which to start
/// and how many rows to read (one more than the page: whether another page
/// follows), then the rows as a connection, `cursor` naming each edge's
/// position and `node` its value.
pub async fn list_page<C, R, N>(
    ctx: &async_graphql::Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    fetch: impl AsyncFnOnce(&mut PgConnection, Option<&C>, i64) -> AppResult<Vec<R>>,
    cursor: impl Fn(&R) -> C,
    node: impl Fn(R) -> N,
) -> async_graphql::Result<Connection<OpaqueCursor<C>, N>>
where
    C: Serialize + DeserializeOwned + Send + Sync,
    N: OutputType,
{
    let max = runtime(ctx)?.settings.limits.page_size;
    let page = Page::<C>::new(first, after.as_deref(), max)?;
    let rows = LoaderCtx::of(ctx)?
        .run(ctx.field().name(), async |c| {
            fetch(c, page.after.as_ref(), page.fetch()).await
        })
        .await?;
    Ok(page.connection(rows, cursor, node))
}
