use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use platform::{
    db::{group_by, LoaderCtx},
    AppError,
};
use uuid::Uuid;

use super::{db, model::Bid};

/// The bids of a tender that RLS shows the caller, by tender id.
pub struct BidsOfTenderLoader(pub LoaderCtx);

impl Loader<Uuid> for BidsOfTenderLoader {
    type Value = Vec<Bid>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Bid>>, Self::Error> {
        let rows = self.0.run(async |c| db::of_tenders(c, keys).await).await?;
        Ok(group_by(keys, rows, |b| b.tender_id))
    }
}
