use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use platform::{db::LoaderCtx, AppError};
use uuid::Uuid;

use super::{db, model::ClinicalNote};

pub struct NoteLoader(pub LoaderCtx);

impl Loader<Uuid> for NoteLoader {
    type Value = ClinicalNote;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, ClinicalNote>, Self::Error> {
        let rows = self.0.run(async |c| db::by_ids(c, keys).await).await?;
        Ok(rows.into_iter().map(|n| (n.id, n)).collect())
    }
}
