//! Our rows as FHIR R4 resources (JSON), following the mapping tables in
//! `codes`. What a caller may see decides what is written: the builders
//! take the caller's view, never the other way round.

use chrono::{DateTime, SecondsFormat, Utc};
use platform::{crypto::FieldCipher, AppError};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::codes;
use crate::{
    appointment::model::Appointment,
    patient::model::{Allergy, Patient},
    practitioner::Practitioner,
    procedure::model::Procedure,
};

/// Where resources live for one organization: absolute URLs and the
/// organization's own identifier systems (two practices' MRNs never collide).
pub struct Base {
    /// The public FHIR base, e.g. `https://api.example/fhir`, without a trailing slash.
    pub url: String,
    pub organization_id: Uuid,
}

impl Base {
    pub fn mrn_system(&self) -> String {
        format!("{}/sid/{}/mrn", self.url, self.organization_id)
    }

    pub fn insurance_system(&self) -> String {
        format!("{}/sid/{}/insurance", self.url, self.organization_id)
    }

    pub fn full_url(&self, kind: &str, id: &str) -> String {
        format!("{}/{kind}/{id}", self.url)
    }
}

/// FHIR `instant`: seconds and an offset, always.
pub fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn reference(kind: &str, id: Uuid, display: Option<String>) -> Value {
    let mut r = json!({ "reference": format!("{kind}/{id}") });
    if let Some(d) = display.filter(|d| !d.trim().is_empty()) {
        r["display"] = d.into();
    }
    r
}

pub fn patient_name(p: &Patient) -> String {
    format!("{} {}", p.given_name, p.family_name)
}

pub fn patient_ref(p: &Patient) -> Value {
    reference("Patient", p.id, Some(patient_name(p)))
}

pub fn practitioner_ref(id: Uuid, known: Option<&Practitioner>) -> Value {
    reference("Practitioner", id, known.and_then(|p| p.display_name.clone()))
}

/// How much of a patient a caller sees: the whole administrative record
/// (care team, admins) or the names alone (billing, partners), as in GraphQL.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PatientView {
    Full,
    Names,
}

pub fn patient(base: &Base, p: &Patient, view: PatientView, cipher: &FieldCipher) -> Result<Value, AppError> {
    let mut r = json!({
        "resourceType": "Patient",
        "id": p.id.to_string(),
        "meta": { "lastUpdated": instant(p.updated_at) },
        "active": p.deleted_at.is_none(),
        "name": [{ "use": "official", "family": p.family_name, "given": [p.given_name] }],
    });
    if view == PatientView::Names {
        return Ok(r);
    }
    let mut identifiers = vec![json!({
        "use": "usual",
        "type": { "coding": [{ "system": codes::V2_0203, "code": "MR", "display": "Medical record number" }] },
        "system": base.mrn_system(),
        "value": p.mrn,
    })];
    if let Some(number) = p.open_insurance(cipher)? {
        identifiers.push(json!({
            "use": "secondary",
            "type": { "coding": [{ "system": codes::V2_0203, "code": "SB", "display": "Social Beneficiary Identifier" }] },
            "system": base.insurance_system(),
            "value": number,
        }));
    }
    r["identifier"] = identifiers.into();
    r["gender"] = codes::gender(p.sex).into();
    r["birthDate"] = p.birth_date.format("%Y-%m-%d").to_string().into();
    if let Some(c) = p.open_contact(cipher)? {
        let mut telecom = vec![];
        if let Some(phone) = c.phone.filter(|s| !s.trim().is_empty()) {
            telecom.push(json!({ "system": "phone", "value": phone }));
        }
        if let Some(email) = c.email.filter(|s| !s.trim().is_empty()) {
            telecom.push(json!({ "system": "email", "value": email }));
        }
        if !telecom.is_empty() {
            r["telecom"] = telecom.into();
        }
        // Our address is one free line: FHIR's `text` holds it as given.
        if let Some(address) = c.address.filter(|s| !s.trim().is_empty()) {
            r["address"] = json!([{ "use": "home", "text": address }]);
        }
    }
    Ok(r)
}

/// Ids of the one blood-group Observation a patient can have.
pub fn blood_group_id(patient: Uuid) -> String {
    format!("blood-group-{patient}")
}

pub fn blood_group_patient(id: &str) -> Option<Uuid> {
    id.strip_prefix("blood-group-").and_then(|u| Uuid::try_parse(u).ok())
}

/// The patient's blood group as a laboratory Observation (LOINC 882-1),
/// or `None` when none is recorded.
pub fn blood_group(p: &Patient) -> Option<Value> {
    let b = p.blood_type?;
    let (code, display) = codes::blood_group(b);
    let (loinc, loinc_display) = codes::BLOOD_GROUP_LOINC;
    Some(json!({
        "resourceType": "Observation",
        "id": blood_group_id(p.id),
        "meta": { "lastUpdated": instant(p.updated_at) },
        "status": "final",
        "category": [{ "coding": [{ "system": codes::OBSERVATION_CATEGORY, "code": "laboratory", "display": "Laboratory" }] }],
        "code": { "coding": [{ "system": codes::LOINC, "code": loinc, "display": loinc_display }], "text": "Blood group" },
        "subject": patient_ref(p),
        "valueCodeableConcept": { "coding": [{ "system": codes::SNOMED, "code": code, "display": display }], "text": display },
    }))
}

pub fn allergy(a: &Allergy, p: &Patient) -> Value {
    let (criticality, severity) = codes::allergy_severity(a.severity);
    let mut code = json!({ "text": a.substance });
    if let Some((snomed, display)) = codes::substance(&a.substance) {
        code["coding"] = json!([{ "system": codes::SNOMED, "code": snomed, "display": display }]);
    }
    let mut r = json!({
        "resourceType": "AllergyIntolerance",
        "id": a.id.to_string(),
        "clinicalStatus": { "coding": [{ "system": codes::ALLERGY_CLINICAL, "code": "active", "display": "Active" }] },
        "criticality": criticality,
        "code": code,
        "patient": patient_ref(p),
    });
    // A reaction needs a manifestation: without one recorded, the severity
    // travels as the criticality only.
    if let Some(what) = a.reaction.as_deref().filter(|s| !s.trim().is_empty()) {
        r["reaction"] = json!([{ "manifestation": [{ "text": what }], "severity": severity }]);
    }
    r
}

pub fn appointment(a: &Appointment, p: &Patient, practitioner: Option<&Practitioner>) -> Value {
    let mut r = json!({
        "resourceType": "Appointment",
        "id": a.id.to_string(),
        "status": codes::appointment_status(a.status),
        "start": instant(a.starts_at),
        "end": instant(a.ends_at),
        "minutesDuration": (a.ends_at - a.starts_at).num_minutes().max(1),
        "created": instant(a.created_at),
        "participant": [
            { "actor": patient_ref(p), "required": "required", "status": "accepted" },
            { "actor": practitioner_ref(a.practitioner_id, practitioner), "required": "required", "status": "accepted" },
        ],
    });
    if let Some(reason) = a.reason.as_deref().filter(|s| !s.trim().is_empty()) {
        r["reasonCode"] = json!([{ "text": reason }]);
    }
    r
}

/// `notes` only for callers who may read clinical notes.
pub fn procedure(x: &Procedure, p: &Patient, performer: Option<&Practitioner>, notes: bool) -> Value {
    let mut code = json!({ "text": x.code });
    if let Some(system) = codes::procedure_system(&x.code) {
        code["coding"] = json!([{ "system": system, "code": x.code }]);
    }
    let mut r = json!({
        "resourceType": "Procedure",
        "id": x.id.to_string(),
        "status": codes::PROCEDURE_STATUS,
        "code": code,
        "subject": patient_ref(p),
        "performedDateTime": instant(x.performed_at),
        "performer": [{ "actor": practitioner_ref(x.performer_id, performer) }],
    });
    if notes {
        if let Some(n) = x.notes.as_deref().filter(|s| !s.trim().is_empty()) {
            r["note"] = json!([{ "text": n }]);
        }
    }
    r
}

/// A member as medical knows them: the name, nothing else.
pub fn practitioner(p: &Practitioner) -> Value {
    let mut r = Map::new();
    r.insert("resourceType".into(), "Practitioner".into());
    r.insert("id".into(), p.user_id.to_string().into());
    r.insert("active".into(), p.active.into());
    if let Some(name) = p.display_name.as_deref().filter(|s| !s.trim().is_empty()) {
        r.insert("name".into(), json!([{ "text": name }]));
    }
    Value::Object(r)
}
