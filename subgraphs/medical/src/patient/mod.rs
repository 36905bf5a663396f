//! Patients: search, records, clinical basics (blood type, allergies).

pub mod db;
pub mod erasure;
pub mod loader;
pub mod model;

use async_graphql::{
    connection::{Connection, OpaqueCursor},
    Context, InputObject, Object, Result, ID,
};
use chrono::{NaiveDate, Utc};
use platform::lists::list_page;
use platform::{
    guards::auth,
    ids::{parse_id, parse_key},
    mutation::{mutate, Audit},
    scalars::Date,
    validate::{optional_text, text},
    AppError, AppResult, OnConstraint,
};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    access::{medical, medical_write, require, ADMINISTRATIVE, CLINICAL, NAMES},
    state, Loaded, State,
};
use db::PatientCursor;
use loader::PatientLoader;
use model::{contact_aad, insurance_aad, Allergy, BloodType, Contact, Patient, Severity, Sex};

/// A new patient record: identity, birth date and the encrypted contact and insurance details.
#[derive(InputObject)]
pub struct CreatePatientInput {
    /// Medical record number: letters, digits, dashes; unique in the organization.
    pub mrn: String,
    pub given_name: String,
    pub family_name: String,
    pub birth_date: Date,
    pub sex: Sex,
    pub contact: Option<Contact>,
    pub insurance_number: Option<String>,
}

/// Fields left out are unchanged.
#[derive(InputObject)]
pub struct UpdatePatientInput {
    pub mrn: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub birth_date: Option<Date>,
    pub sex: Option<Sex>,
    pub contact: Option<Contact>,
    pub insurance_number: Option<String>,
}

/// An allergy to record for a patient.
#[derive(InputObject)]
pub struct AllergyInput {
    pub substance: String,
    pub reaction: Option<String>,
    pub severity: Severity,
}

fn valid_mrn(mrn: &str) -> AppResult<String> {
    let m = mrn.trim();
    if m.is_empty() || m.len() > 32 || !m.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(AppError::bad_input("mrn", "use 1 to 32 letters, digits or dashes"));
    }
    Ok(m.to_string())
}

fn valid_birth_date(d: NaiveDate) -> AppResult<NaiveDate> {
    let floor = NaiveDate::from_ymd_opt(1880, 1, 2).unwrap_or(NaiveDate::MIN);
    if d > Utc::now().date_naive() || d < floor {
        return Err(AppError::bad_input("birthDate", "must be a past date after 1880"));
    }
    Ok(d)
}

fn valid_contact(c: Contact) -> AppResult<Option<Contact>> {
    let c = Contact {
        phone: optional_text("contact.phone", c.phone.as_deref(), 40)?,
        email: optional_text("contact.email", c.email.as_deref(), 254)?,
        address: optional_text("contact.address", c.address.as_deref(), 500)?,
    };
    if let Some(p) = &c.phone {
        if !p.chars().all(|ch| ch.is_ascii_digit() || " +-().".contains(ch)) {
            return Err(AppError::bad_input("contact.phone", "use digits, spaces and + - ( ) ."));
        }
    }
    if let Some(e) = &c.email {
        if !e.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.')) {
            return Err(AppError::bad_input("contact.email", "is not an email address"));
        }
    }
    Ok((c != Contact::default()).then_some(c))
}

fn valid_insurance(n: Option<&str>) -> AppResult<Option<String>> {
    let v = optional_text("insuranceNumber", n, 64)?;
    if let Some(v) = &v {
        if !v.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ') {
            return Err(AppError::bad_input("insuranceNumber", "use letters, digits and spaces"));
        }
    }
    Ok(v)
}

fn duplicate_mrn() -> AppError {
    AppError::Conflict("a patient with this medical record number exists".into())
}

/// The live (not deleted) patient, locked for the write that follows.
pub async fn live_patient(conn: &mut PgConnection, id: Uuid) -> AppResult<Patient> {
    db::live(conn, id).await?.ok_or(AppError::NotFound("Patient"))
}

fn seal_into(
    st: &State,
    p: &mut Patient,
    contact: Option<Option<Contact>>,
    insurance: Option<Option<String>>,
) -> AppResult<()> {
    if let Some(c) = contact {
        let sealed = c
            .map(|c| serde_json::to_vec(&c).map_err(|e| AppError::Internal(e.into())))
            .transpose()?
            .map(|json| st.cipher.seal(&json, &contact_aad(p.id)))
            .transpose()?;
        p.contact_key_id = sealed.as_ref().map(|s| s.key_id.clone());
        p.contact_enc = sealed.map(|s| s.data);
    }
    if let Some(i) = insurance {
        let sealed = i.map(|n| st.cipher.seal_str(&n, &insurance_aad(p.id))).transpose()?;
        p.insurance_key_id = sealed.as_ref().map(|s| s.key_id.clone());
        p.insurance_enc = sealed.map(|s| s.data);
    }
    Ok(())
}

#[derive(Default)]
pub struct PatientQuery;

#[Object]
impl PatientQuery {
    /// Patients by medical record number or name prefix, alphabetically.
    #[graphql(guard = "medical(NAMES)")]
    async fn patients(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<PatientCursor>, Patient>> {
        let search = optional_text("search", search.as_deref(), 100)?;
        list_page(
            ctx,
            first,
            after,
            async |c, after, n| db::page(c, search.as_deref(), after, n).await,
            |p| PatientCursor {
                family: p.family_name.to_lowercase(),
                given: p.given_name.to_lowercase(),
                id: p.id,
            },
            |p| p,
        )
        .await
    }

    /// One patient; deleted records are not found.
    #[graphql(guard = "medical(NAMES)")]
    async fn patient(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Patient>> {
        let id = parse_id("id", &id)?;
        let p = ctx.data::<Loaded<PatientLoader>>()?.load_one(id).await?;
        Ok(p.filter(|p| p.deleted_at.is_none()))
    }

    // async-graphql ignores guards on entity resolvers: check here.
    #[graphql(entity)]
    async fn find_patient_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Patient>> {
        require(ctx, &NAMES)?;
        let Some(id) = parse_key(&id) else { return Ok(None) };
        Ok(ctx.data::<Loaded<PatientLoader>>()?.load_one(id).await?)
    }
}

#[derive(Default)]
pub struct PatientMutation;

#[Object]
impl PatientMutation {
    /// Registers a patient.
    #[graphql(guard = "medical_write(ADMINISTRATIVE)")]
    async fn create_patient(&self, ctx: &Context<'_>, input: CreatePatientInput) -> Result<Patient> {
        let st = state(ctx)?;
        let caller = auth(ctx)?;
        let mrn = valid_mrn(&input.mrn)?;
        let given = text("givenName", &input.given_name, 1, 100)?;
        let family = text("familyName", &input.family_name, 1, 100)?;
        let birth = valid_birth_date(input.birth_date.0)?;
        let contact = input.contact.map(valid_contact).transpose()?.flatten();
        let insurance = valid_insurance(input.insurance_number.as_deref())?;
        let id = Uuid::new_v4();
        let contact = contact
            .map(|c| serde_json::to_vec(&c).map_err(|e| AppError::Internal(e.into())))
            .transpose()?
            .map(|json| st.cipher.seal(&json, &contact_aad(id)))
            .transpose()?;
        let insurance = insurance
            .map(|n| st.cipher.seal_str(&n, &insurance_aad(id)))
            .transpose()?;

        Ok(mutate(ctx, async |tx| {
            let patient = db::insert(
                tx,
                db::NewPatient {
                    id,
                    organization_id: caller.organization_id,
                    mrn: &mrn,
                    given_name: &given,
                    family_name: &family,
                    birth_date: birth,
                    sex: input.sex.as_db(),
                    contact,
                    insurance,
                },
            )
            .await
            .on_constraint(&[("patients_org_mrn_key", duplicate_mrn)])?;
            // Ids only: the trail outlives erasure, so no identifier of the
            // patient (the MRN included) ever goes into it.
            let audit = Audit::new("patient.create", "Patient", id);
            Ok((patient, audit))
        })
        .await?)
    }

    /// Changes a patient's administrative record.
    #[graphql(guard = "medical_write(ADMINISTRATIVE)")]
    async fn update_patient(&self, ctx: &Context<'_>, id: ID, input: UpdatePatientInput) -> Result<Patient> {
        let st = state(ctx)?;
        let id = parse_id("id", &id)?;
        let mut changed = vec![];
        let mrn = input.mrn.as_deref().map(valid_mrn).transpose()?;
        let given = input
            .given_name
            .as_deref()
            .map(|v| text("givenName", v, 1, 100))
            .transpose()?;
        let family = input
            .family_name
            .as_deref()
            .map(|v| text("familyName", v, 1, 100))
            .transpose()?;
        let birth = input.birth_date.map(|d| valid_birth_date(d.0)).transpose()?;
        let contact = input.contact.map(valid_contact).transpose()?;
        let insurance = input
            .insurance_number
            .as_deref()
            .map(|n| valid_insurance(Some(n)))
            .transpose()?;

        Ok(mutate(ctx, async |tx| {
            let mut p = live_patient(tx, id).await?;
            if let Some(v) = mrn {
                p.mrn = v;
                changed.push("mrn");
            }
            if let Some(v) = given {
                p.given_name = v;
                changed.push("givenName");
            }
            if let Some(v) = family {
                p.family_name = v;
                changed.push("familyName");
            }
            if let Some(v) = birth {
                p.birth_date = v;
                changed.push("birthDate");
            }
            if let Some(v) = input.sex {
                p.sex = v;
                changed.push("sex");
            }
            if contact.is_some() {
                changed.push("contact");
            }
            if insurance.is_some() {
                changed.push("insuranceNumber");
            }
            seal_into(st, &mut p, contact, insurance)?;
            let p = db::update(tx, &p)
                .await
                .on_constraint(&[("patients_org_mrn_key", duplicate_mrn)])?;
            // Field names only: the audit trail never holds the data itself.
            let audit = Audit::new("patient.update", "Patient", id).details(json!({ "fields": changed }));
            Ok((p, audit))
        })
        .await?)
    }

    /// Deletes a patient record (kept for history, hidden from lists).
    #[graphql(guard = "medical_write([platform::Role::OrgAdmin, platform::Role::Secretary])")]
    async fn delete_patient(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let id = parse_id("id", &id)?;
        Ok(mutate(ctx, async |tx| {
            live_patient(tx, id).await?;
            db::soft_delete(tx, id).await?;
            Ok((true, Audit::new("patient.delete", "Patient", id)))
        })
        .await?)
    }

    /// Erases a patient on their request (RGPD art. 17), in one call: what
    /// identifies them goes now, what the law keeps (the medical record,
    /// invoices) is sealed until its retention ends. The report says which
    /// is which, and until when. Administrators only. `confirmMrn` repeats
    /// the patient's medical record number, so that a call with a wrong id
    /// cannot erase someone else.
    #[graphql(guard = "medical_write([platform::Role::OrgAdmin])")]
    async fn erase_patient(
        &self,
        ctx: &Context<'_>,
        patient_id: ID,
        reason: String,
        #[graphql(
            desc = "The patient's medical record number, as a confirmation that the id names the right patient."
        )]
        confirm_mrn: String,
    ) -> Result<platform::rgpd::ErasureReport> {
        let id = parse_id("patientId", &patient_id)?;
        Ok(erasure::erase(ctx, id, &reason, &confirm_mrn).await?)
    }

    /// Records (or clears) a patient's blood type. Clinicians only.
    #[graphql(guard = "medical_write(CLINICAL)")]
    async fn set_blood_type(
        &self,
        ctx: &Context<'_>,
        patient_id: ID,
        blood_type: Option<BloodType>,
    ) -> Result<Patient> {
        let id = parse_id("patientId", &patient_id)?;
        Ok(mutate(ctx, async |tx| {
            let mut p = live_patient(tx, id).await?;
            p.blood_type = blood_type;
            let p = db::update(tx, &p).await?;
            Ok((p, Audit::new("patient.set_blood_type", "Patient", id)))
        })
        .await?)
    }

    /// Adds an allergy to a patient's record. Clinicians only.
    #[graphql(guard = "medical_write(CLINICAL)")]
    async fn add_allergy(&self, ctx: &Context<'_>, patient_id: ID, input: AllergyInput) -> Result<Allergy> {
        let caller = auth(ctx)?;
        let id = parse_id("patientId", &patient_id)?;
        let substance = text("substance", &input.substance, 1, 200)?;
        let reaction = optional_text("reaction", input.reaction.as_deref(), 500)?;
        Ok(mutate(ctx, async |tx| {
            live_patient(tx, id).await?;
            let a = db::insert_allergy(
                tx,
                caller.organization_id,
                id,
                &substance,
                reaction.as_deref(),
                input.severity.as_db(),
            )
            .await?;
            let audit = Audit::new("allergy.add", "Patient", id).details(json!({ "allergy": a.id }));
            Ok((a, audit))
        })
        .await?)
    }

    /// Removes an allergy recorded in error. Clinicians only.
    #[graphql(guard = "medical_write(CLINICAL)")]
    async fn remove_allergy(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let id = parse_id("id", &id)?;
        Ok(mutate(ctx, async |tx| {
            let patient = db::delete_allergy(tx, id).await?.ok_or(AppError::NotFound("Allergy"))?;
            let audit = Audit::new("allergy.remove", "Patient", patient).details(json!({ "allergy": id }));
            Ok((true, audit))
        })
        .await?)
    }
}
