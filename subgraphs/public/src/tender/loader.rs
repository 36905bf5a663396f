use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use platform::{
    db::{group_by, LoaderCtx},
    AppError,
};
use uuid::Uuid;

use super::{
    db,
    model::{Amendment, Lot, Tender},
};

pub struct TenderLoader(pub LoaderCtx);

impl Loader<Uuid> for TenderLoader {
    type Value = Tender;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Tender>, Self::Error> {
        let rows = self.0.run(async |c| db::by_ids(c, keys).await).await?;
        Ok(rows.into_iter().map(|t| (t.id, t)).collect())
    }
}

/// A tender's lots, by tender id.
pub struct LotsLoader(pub LoaderCtx);

impl Loader<Uuid> for LotsLoader {
    type Value = Vec<Lot>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Lot>>, Self::Error> {
        let rows = self.0.run(async |c| db::lots_of(c, keys).await).await?;
        Ok(group_by(keys, rows, |l| l.tender_id))
    }
}

/// A tender's amendments, by tender id.
pub struct AmendmentsLoader(pub LoaderCtx);

impl Loader<Uuid> for AmendmentsLoader {
    type Value = Vec<Amendment>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Amendment>>, Self::Error> {
        let rows = self.0.run(async |c| db::amendments_of(c, keys).await).await?;
        Ok(group_by(keys, rows, |a| a.tender_id))
    }
}

/// How many bids each tender has (0 included, so a count is never fetched twice).
pub struct BidCountLoader(pub LoaderCtx);

impl Loader<Uuid> for BidCountLoader {
    type Value = i32;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, i32>, Self::Error> {
        let rows = self.0.run(async |c| db::bid_counts(c, keys).await).await?;
        let mut out: HashMap<Uuid, i32> = keys.iter().map(|k| (*k, 0)).collect();
        for (tender, n) in rows {
            out.insert(tender, i32::try_from(n).unwrap_or(i32::MAX));
        }
        Ok(out)
    }
}
