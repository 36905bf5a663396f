//! Per-request loaders around patients: one statement per batch, whatever
//! the number of parents.

use super::{
    db,
    model::{Allergy, Patient},
};
use crate::{
    note::{db as note_db, model::ClinicalNote},
    procedure::{db as procedure_db, model::Procedure},
};

platform::loaders! {
    pub struct PatientLoader: Patient = one(|p| p.id) from db::by_ids;

    pub struct AllergiesLoader: Vec<Allergy> = grouped(|a| a.patient_id) from db::allergies_of;

    pub struct NotesByPatientLoader: Vec<ClinicalNote> = grouped(|n| n.patient_id) from note_db::of_patients;

    pub struct ProceduresByPatientLoader: Vec<Procedure> = grouped(|p| p.patient_id) from procedure_db::of_patients;
}
