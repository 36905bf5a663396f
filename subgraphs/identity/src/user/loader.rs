use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use platform::{reads::LoaderCtx, AppError, Role};
use uuid::Uuid;

use super::{db, model::User};
use crate::member;

platform::loaders! {
    /// Users visible to the caller's organization (RLS decides), per request.
    pub struct UserLoader: User = one(|u| u.id) from db::by_ids;
}

/// Each user's roles in the caller's current organization.
pub struct RolesLoader(pub LoaderCtx);

impl Loader<Uuid> for RolesLoader {
    type Value = Vec<Role>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Role>>, Self::Error> {
        let rows = self
            .0
            .run("RolesLoader", async |c| member::db::roles_of(c, keys).await)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, roles)| (id, member::roles_from_db(&roles)))
            .collect())
    }
}
