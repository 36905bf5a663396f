use super::{db, model::Bid};

platform::loaders! {
    /// The bids of a tender that RLS shows the caller, by tender id.
    pub struct BidsOfTenderLoader: Vec<Bid> = grouped(|b| b.tender_id) from db::of_tenders;
}
