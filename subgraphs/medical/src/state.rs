//! What medical's resolvers share, placed once in the schema data.

use std::sync::Arc;

use async_graphql::Context;
use platform::{config::Settings, crypto::FieldCipher, AppError};
use sqlx::PgPool;

pub struct State {
    pub pool: PgPool,
    pub cipher: FieldCipher,
    pub settings: Arc<Settings>,
}

pub fn state<'a>(ctx: &Context<'a>) -> Result<&'a State, AppError> {
    ctx.data::<Arc<State>>()
        .map(|s| s.as_ref())
        .map_err(|_| AppError::Internal(anyhow::anyhow!("medical state missing from schema data")))
}
