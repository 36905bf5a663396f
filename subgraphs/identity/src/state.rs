//! What identity's resolvers share, placed once in the schema data.

use std::sync::Arc;

use async_graphql::Context;
use platform::{config::Settings, crypto::FieldCipher, kv::Kv, AppError};
use sqlx::PgPool;

use crate::{settings::IdentitySettings, tokens::Issuer};

pub struct State {
    pub pool: PgPool,
    pub kv: Kv,
    pub issuer: Issuer,
    pub settings: Arc<Settings>,
    pub identity: IdentitySettings,
    /// Seals TOTP seeds.
    pub cipher: FieldCipher,
}

pub fn state<'a>(ctx: &Context<'a>) -> Result<&'a State, AppError> {
    ctx.data::<Arc<State>>()
        .map(|s| s.as_ref())
        .map_err(|_| AppError::Internal(anyhow::anyhow!("identity state missing from schema data")))
}
