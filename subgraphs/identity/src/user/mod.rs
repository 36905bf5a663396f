//! Users: `me`, the `User` entity.

pub mod db;
pub mod loader;
pub mod model;

use async_graphql::{Context, Object, Result, ID};
use platform::{
    db::Loaded,
    guards::{auth, UserOnly},
    ids::parse_key,
    AppError, AppResult,
};

use loader::UserLoader;
use model::User;

/// Sign-in data of a user visible in the current scope (usually the caller).
pub async fn credentials_of(conn: &mut sqlx::PgConnection, id: uuid::Uuid) -> AppResult<db::Credentials> {
    db::credentials(conn, id).await?.ok_or(AppError::NotFound("user"))
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The signed-in user.
    #[graphql(guard = "UserOnly")]
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        let id = auth(ctx)?.user_id().ok_or(AppError::Forbidden)?;
        ctx.data::<Loaded<UserLoader>>()?
            .load_one(id)
            .await?
            .ok_or_else(|| AppError::NotFound("user").into())
    }

    // async-graphql ignores guards on entity resolvers: check here.
    #[graphql(entity)]
    async fn find_user_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<User>> {
        auth(ctx)?;
        let Some(id) = parse_key(&id) else {
            return Ok(None);
        };
        Ok(ctx.data::<Loaded<UserLoader>>()?.load_one(id).await?)
    }
}
