use super::{db, model::ClinicalNote};

platform::loaders! {
    pub struct NoteLoader: ClinicalNote = one(|n| n.id) from db::by_ids;
}
