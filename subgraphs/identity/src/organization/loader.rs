use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use platform::{db::LoaderCtx, AppError};
use uuid::Uuid;

use super::{db, model::Organization};

/// Per-request loader; runs in the caller's tenant transaction.
pub struct OrganizationLoader(pub LoaderCtx);

impl Loader<Uuid> for OrganizationLoader {
    type Value = Organization;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Organization>, Self::Error> {
        let rows = self.0.run(async |c| db::by_ids(c, keys).await).await?;
        Ok(rows.into_iter().map(|o| (o.id, o)).collect())
    }
}
