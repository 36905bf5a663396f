use super::Practitioner;

platform::loaders! {
    /// What the projection knows of members, by user id.
    pub struct PractitionerLoader: Practitioner = one(|p| p.user_id) from super::by_ids;
}
