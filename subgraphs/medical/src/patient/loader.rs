//! Per-request loaders around patients: one statement per batch, whatever
//! the number of parents.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use platform::{
    db::{group_by, LoaderCtx},
    AppError,
};
use uuid::Uuid;

use super::{
    db,
    model::{Allergy, Patient},
};
use crate::{
    note::{db as note_db, model::ClinicalNote},
    procedure::{db as procedure_db, model::Procedure},
};

pub struct PatientLoader(pub LoaderCtx);

impl Loader<Uuid> for PatientLoader {
    type Value = Patient;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Patient>, Self::Error> {
        let rows = self.0.run(async |c| db::by_ids(c, keys).await).await?;
        Ok(rows.into_iter().map(|p| (p.id, p)).collect())
    }
}

pub struct AllergiesLoader(pub LoaderCtx);

impl Loader<Uuid> for AllergiesLoader {
    type Value = Vec<Allergy>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Allergy>>, Self::Error> {
        let rows = self.0.run(async |c| db::allergies_of(c, keys).await).await?;
        Ok(group_by(keys, rows, |a| a.patient_id))
    }
}

pub struct NotesByPatientLoader(pub LoaderCtx);

impl Loader<Uuid> for NotesByPatientLoader {
    type Value = Vec<ClinicalNote>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<ClinicalNote>>, Self::Error> {
        let rows = self.0.run(async |c| note_db::of_patients(c, keys).await).await?;
        Ok(group_by(keys, rows, |n| n.patient_id))
    }
}

pub struct ProceduresByPatientLoader(pub LoaderCtx);

impl Loader<Uuid> for ProceduresByPatientLoader {
    type Value = Vec<Procedure>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Procedure>>, Self::Error> {
        let rows = self.0.run(async |c| procedure_db::of_patients(c, keys).await).await?;
        Ok(group_by(keys, rows, |p| p.patient_id))
    }
}
