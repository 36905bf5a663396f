use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use platform::{db::LoaderCtx, AppError};
use uuid::Uuid;

use super::Practitioner;

/// What the projection knows of members, by user id.
pub struct PractitionerLoader(pub LoaderCtx);

impl Loader<Uuid> for PractitionerLoader {
    type Value = Practitioner;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Practitioner>, Self::Error> {
        let rows = self.0.run(async |c| super::by_ids(c, keys).await).await?;
        Ok(rows.into_iter().map(|p| (p.user_id, p)).collect())
    }
}
