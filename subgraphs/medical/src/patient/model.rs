//! The `Patient` entity and its parts.

use async_graphql::{ComplexObject, Context, Enum, InputObject, Result, SimpleObject, ID};
use chrono::{DateTime, NaiveDate, Utc};
use platform::{
    audit,
    crypto::{FieldCipher, Sealed},
    scalars::Date,
    AppError,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::loader::{AllergiesLoader, NotesByPatientLoader, ProceduresByPatientLoader};
use crate::{
    access::{
        medical, medical_or, ADMINISTRATIVE, CARE_TEAM, CLINICAL, EITHER, HISTORY_CLINICAL, INVOICES, NAMES, NOTES,
    },
    invoice::{loader::InvoicesByPatientLoader, model::Invoice},
    note::model::ClinicalNote,
    procedure::model::Procedure,
    state, Loaded,
};

/// A patient of the organization. Names are visible to billing; the rest of
/// the administrative record to the care team and admins; clinical fields to
/// practitioners and nurses only.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex, guard = "medical_or(NAMES, EITHER)")]
pub struct Patient {
    #[graphql(skip)]
    pub id: Uuid,
    #[graphql(skip)]
    pub organization_id: Uuid,
    /// Medical record number, unique in the organization.
    #[graphql(guard = "medical(ADMINISTRATIVE)")]
    pub mrn: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    #[graphql(skip)]
    pub birth_date: NaiveDate,
    #[graphql(skip)]
    pub sex: Sex,
    #[graphql(skip)]
    pub blood_type: Option<BloodType>,
    #[graphql(skip)]
    pub contact_enc: Option<Vec<u8>>,
    #[graphql(skip)]
    pub contact_key_id: Option<String>,
    #[graphql(skip)]
    pub insurance_enc: Option<Vec<u8>>,
    #[graphql(skip)]
    pub insurance_key_id: Option<String>,
    /// When the record was created.
    #[graphql(guard = "medical(ADMINISTRATIVE)")]
    pub created_at: DateTime<Utc>,
    #[graphql(skip)]
    pub updated_at: DateTime<Utc>,
    /// Set when the record was deleted (kept for history).
    #[graphql(guard = "medical(ADMINISTRATIVE)")]
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Administrative sex.
#[derive(Enum, sqlx::Type, Copy, Clone, Eq, PartialEq, Debug)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Sex {
    Female,
    Male,
    Other,
    Unknown,
}

impl Sex {
    pub fn as_db(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
            Sex::Other => "other",
            Sex::Unknown => "unknown",
        }
    }
}

/// ABO group and Rh factor.
#[derive(Enum, sqlx::Type, Copy, Clone, Eq, PartialEq, Debug)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum BloodType {
    APos,
    ANeg,
    BPos,
    BNeg,
    AbPos,
    AbNeg,
    OPos,
    ONeg,
}

impl BloodType {
    pub const ALL: [(BloodType, &'static str); 8] = [
        (BloodType::APos, "a_pos"),
        (BloodType::ANeg, "a_neg"),
        (BloodType::BPos, "b_pos"),
        (BloodType::BNeg, "b_neg"),
        (BloodType::AbPos, "ab_pos"),
        (BloodType::AbNeg, "ab_neg"),
        (BloodType::OPos, "o_pos"),
        (BloodType::ONeg, "o_neg"),
    ];
    pub fn as_db(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(b, _)| *b == self)
            .map(|(_, s)| *s)
            .unwrap_or("o_pos")
    }
}

/// How to reach a patient. Encrypted at rest.
#[derive(SimpleObject, InputObject, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[graphql(input_name = "ContactInput")]
pub struct Contact {
    /// Phone number, as given.
    pub phone: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Postal address, on one line.
    pub address: Option<String>,
}

/// A known allergy.
#[derive(SimpleObject, Clone, Debug, sqlx::FromRow)]
#[graphql(complex)]
pub struct Allergy {
    #[graphql(skip)]
    pub id: Uuid,
    #[graphql(skip)]
    pub patient_id: Uuid,
    /// What the patient reacts to.
    pub substance: String,
    /// What happens.
    pub reaction: Option<String>,
    #[graphql(skip)]
    pub severity: Severity,
}

#[ComplexObject]
impl Allergy {
    /// Identifier.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    /// How serious a reaction is.
    async fn severity(&self) -> Severity {
        self.severity
    }
}

/// Severity of an allergic reaction.
#[derive(Enum, sqlx::Type, Copy, Clone, Eq, PartialEq, Debug)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Severity {
    Mild,
    Moderate,
    Severe,
    LifeThreatening,
}

impl Severity {
    pub fn as_db(self) -> &'static str {
        match self {
            Severity::Mild => "mild",
            Severity::Moderate => "moderate",
            Severity::Severe => "severe",
            Severity::LifeThreatening => "life_threatening",
        }
    }
}

pub fn contact_aad(id: Uuid) -> String {
    format!("medical.patients.contact:{id}")
}

pub fn insurance_aad(id: Uuid) -> String {
    format!("medical.patients.insurance:{id}")
}

fn sealed(data: &Option<Vec<u8>>, key: &Option<String>) -> Option<Sealed> {
    Some(Sealed {
        data: data.clone()?,
        key_id: key.clone()?,
    })
}

impl Patient {
    /// The decrypted contact details (GraphQL and FHIR alike).
    pub fn open_contact(&self, cipher: &FieldCipher) -> Result<Option<Contact>, AppError> {
        let Some(s) = sealed(&self.contact_enc, &self.contact_key_id) else {
            return Ok(None);
        };
        let json = cipher.open(&s, &contact_aad(self.id))?;
        serde_json::from_slice(&json)
            .map(Some)
            .map_err(|e| AppError::Internal(e.into()))
    }

    /// The decrypted health-insurance number.
    pub fn open_insurance(&self, cipher: &FieldCipher) -> Result<Option<String>, AppError> {
        let Some(s) = sealed(&self.insurance_enc, &self.insurance_key_id) else {
            return Ok(None);
        };
        Ok(Some(cipher.open_str(&s, &insurance_aad(self.id))?))
    }
}

#[ComplexObject]
impl Patient {
    /// Stable identifier.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// Date of birth.
    #[graphql(guard = "medical(ADMINISTRATIVE)")]
    async fn birth_date(&self, ctx: &Context<'_>) -> Date {
        audit::read(ctx, "Patient", self.id);
        Date(self.birth_date)
    }

    /// Administrative sex.
    #[graphql(guard = "medical(ADMINISTRATIVE)")]
    async fn sex(&self, ctx: &Context<'_>) -> Sex {
        audit::read(ctx, "Patient", self.id);
        self.sex
    }

    /// Phone, email and address. Encrypted at rest.
    #[graphql(guard = "medical(ADMINISTRATIVE)")]
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<Contact>> {
        audit::read(ctx, "Patient", self.id);
        Ok(self.open_contact(&state(ctx)?.cipher)?)
    }

    /// Health-insurance number. Encrypted at rest.
    #[graphql(guard = "medical(ADMINISTRATIVE)")]
    async fn insurance_number(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        audit::read(ctx, "Patient", self.id);
        Ok(self.open_insurance(&state(ctx)?.cipher)?)
    }

    /// Blood type. Practitioners and nurses only.
    #[graphql(guard = "medical(CLINICAL)")]
    async fn blood_type(&self, ctx: &Context<'_>) -> Option<BloodType> {
        audit::read(ctx, "Patient", self.id);
        self.blood_type
    }

    /// Known allergies. Practitioners and nurses only.
    #[graphql(guard = "medical(CLINICAL)")]
    async fn allergies(&self, ctx: &Context<'_>) -> Result<Vec<Allergy>> {
        audit::read(ctx, "Patient", self.id);
        Ok(ctx
            .data::<Loaded<AllergiesLoader>>()?
            .load_one(self.id)
            .await?
            .unwrap_or_default())
    }

    /// Clinical notes, oldest first: practitioners and nurses; the
    /// organization's administrators and auditors see them without their text.
    #[graphql(guard = "medical(NOTES)")]
    async fn notes(&self, ctx: &Context<'_>) -> Result<Vec<ClinicalNote>> {
        audit::read(ctx, "Patient", self.id);
        Ok(ctx
            .data::<Loaded<NotesByPatientLoader>>()?
            .load_one(self.id)
            .await?
            .unwrap_or_default())
    }

    /// Procedures performed, oldest first (their notes for clinicians only).
    #[graphql(guard = "medical(CARE_TEAM)")]
    async fn procedures(&self, ctx: &Context<'_>) -> Result<Vec<Procedure>> {
        audit::read(ctx, "Patient", self.id);
        Ok(ctx
            .data::<Loaded<ProceduresByPatientLoader>>()?
            .load_one(self.id)
            .await?
            .unwrap_or_default())
    }

    /// The patient's invoices. Billing, admins and auditors.
    #[graphql(guard = "medical(INVOICES)")]
    async fn invoices(&self, ctx: &Context<'_>) -> Result<Vec<Invoice>> {
        Ok(ctx
            .data::<Loaded<InvoicesByPatientLoader>>()?
            .load_one(self.id)
            .await?
            .unwrap_or_default())
    }

    /// Who did what to it and when, newest first: the organization's administrators and auditors, and practitioners.
    #[graphql(guard = "medical(HISTORY_CLINICAL)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<platform::audit::history::History> {
        Ok(platform::audit::history::history(ctx, "Patient", self.id, first, after).await?)
    }
}
