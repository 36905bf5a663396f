use super::{db, model::Organization};

platform::loaders! {
    /// Per-request loader; runs in the caller's tenant transaction.
    pub struct OrganizationLoader: Organization = one(|o| o.id) from db::by_ids;
}
