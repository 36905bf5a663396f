use super::{
    db,
    model::{Award, Contract},
};

platform::loaders! {
    pub struct ContractLoader: Contract = one(|c| c.id) from db::by_ids;

    /// The contract of an award, by award id.
    pub struct ContractOfAwardLoader: Contract = one(|c| c.award_id) from db::of_awards;

    /// A tender's awards, by tender id.
    pub struct AwardsOfTenderLoader: Vec<Award> = grouped(|a| a.tender_id) from db::awards_of;
}
