use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use platform::{
    db::{group_by, LoaderCtx},
    AppError,
};
use uuid::Uuid;

use super::{
    db,
    model::{Award, Contract},
};

pub struct ContractLoader(pub LoaderCtx);

impl Loader<Uuid> for ContractLoader {
    type Value = Contract;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Contract>, Self::Error> {
        let rows = self.0.run(async |c| db::by_ids(c, keys).await).await?;
        Ok(rows.into_iter().map(|c| (c.id, c)).collect())
    }
}

/// The contract of an award, by award id.
pub struct ContractOfAwardLoader(pub LoaderCtx);

impl Loader<Uuid> for ContractOfAwardLoader {
    type Value = Contract;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Contract>, Self::Error> {
        let rows = self.0.run(async |c| db::of_awards(c, keys).await).await?;
        Ok(rows.into_iter().map(|c| (c.award_id, c)).collect())
    }
}

/// A tender's awards, by tender id.
pub struct AwardsOfTenderLoader(pub LoaderCtx);

impl Loader<Uuid> for AwardsOfTenderLoader {
    type Value = Vec<Award>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Award>>, Self::Error> {
        let rows = self.0.run(async |c| db::awards_of(c, keys).await).await?;
        Ok(group_by(keys, rows, |a| a.tender_id))
    }
}
