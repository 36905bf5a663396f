use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use platform::{db::LoaderCtx, AppError, Role};
use uuid::Uuid;

use super::{db, model::User};
use crate::member;

/// Users visible to the caller's organization (RLS decides), per request.
pub struct UserLoader(pub LoaderCtx);

impl Loader<Uuid> for UserLoader {
    type Value = User;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, User>, Self::Error> {
        let rows = self.0.run(async |c| db::by_ids(c, keys).await).await?;
        Ok(rows.into_iter().map(|u| (u.id, u)).collect())
    }
}

/// Each user's roles in the caller's current organization.
pub struct RolesLoader(pub LoaderCtx);

impl Loader<Uuid> for RolesLoader {
    type Value = Vec<Role>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Role>>, Self::Error> {
        let rows = self.0.run(async |c| member::db::roles_of(c, keys).await).await?;
        Ok(rows
            .into_iter()
            .map(|(id, roles)| (id, member::roles_from_db(&roles)))
            .collect())
    }
}
