use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use platform::{reads::LoaderCtx, AppError};
use uuid::Uuid;

use super::{
    db,
    model::{Amendment, Lot, Tender},
};

platform::loaders! {
    pub struct TenderLoader: Tender = one(|t| t.id) from db::by_ids;

    /// A tender's lots, by tender id.
    pub struct LotsLoader: Vec<Lot> = grouped(|l| l.tender_id) from db::lots_of;

    /// A tender's amendments, by tender id.
    pub struct AmendmentsLoader: Vec<Amendment> = grouped(|a| a.tender_id) from db::amendments_of;
}

/// How many bids each tender has (0 included, so a count is never fetched twice).
pub struct BidCountLoader(pub LoaderCtx);

impl Loader<Uuid> for BidCountLoader {
    type Value = i32;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, i32>, Self::Error> {
        let rows = self
            .0
            .run("BidCountLoader", async |c| db::bid_counts(c, keys).await)
            .await?;
        let mut out: HashMap<Uuid, i32> = keys.iter().map(|k| (*k, 0)).collect();
        for (tender, n) in rows {
            out.insert(tender, i32::try_from(n).unwrap_or(i32::MAX));
        }
        Ok(out)
    }
}
