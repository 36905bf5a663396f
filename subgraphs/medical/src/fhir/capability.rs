//! `GET [base]/metadata`: what this server actually supports, generated
//! from the same table the handlers dispatch on.

use serde_json::{json, Value};

use super::resources::instant;

/// A resource type: its search parameters (name, FHIR type, documentation).
pub struct Supported {
    pub kind: &'static str,
    pub search: &'static [(&'static str, &'static str, &'static str)],
}

const PAGING: [(&str, &str, &str); 2] = [
    ("_count", "number", "Page size, 0 to 100 (default 20)"),
    ("_cursor", "string", "Opaque position of a next page (from link[next])"),
];

pub const RESOURCES: &[Supported] = &[
    Supported {
        kind: "Patient",
        search: &[
            ("identifier", "token", "Medical record number: [system|]value"),
            (
                "name",
                "string",
                "Start of the given, family or full name (case-insensitive)",
            ),
            ("birthdate", "date", "Date of birth, with eq/ge/gt/le/lt"),
            ("gender", "token", "male | female | other | unknown"),
        ],
    },
    Supported {
        kind: "AllergyIntolerance",
        search: &[("patient", "reference", "The patient")],
    },
    Supported {
        kind: "Appointment",
        search: &[
            ("patient", "reference", "The patient"),
            ("practitioner", "reference", "The practitioner"),
            ("date", "date", "Start, with eq/ge/gt/le/lt; repeat for a range"),
            ("status", "token", "Appointment status codes, comma-separated"),
        ],
    },
    Supported {
        kind: "Procedure",
        search: &[("patient", "reference", "The patient")],
    },
    Supported {
        kind: "Observation",
        search: &[("patient", "reference", "The patient (blood group observations)")],
    },
    Supported {
        kind: "Practitioner",
        search: &[],
    },
];

pub fn statement(base: &str) -> Value {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .map(|r| {
            let mut interactions = vec![json!({ "code": "read" })];
            let mut params: Vec<Value> = vec![];
            if !r.search.is_empty() {
                interactions.push(json!({ "code": "search-type" }));
                params = r
                    .search
                    .iter()
                    .chain(PAGING.iter())
                    .map(|(name, kind, doc)| json!({ "name": name, "type": kind, "documentation": doc }))
                    .collect();
            }
            let mut v = json!({
                "type": r.kind,
                "profile": format!("http://hl7.org/fhir/StructureDefinition/{}", r.kind),
                "interaction": interactions,
            });
            if !params.is_empty() {
                v["searchParam"] = params.into();
            }
            if r.kind == "Patient" {
                v["operation"] = json!([{
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                    "documentation": "The patient's compartment as one searchset Bundle: practitioners and nurses only",
                }]);
            }
            v
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": instant(chrono::Utc::now()),
        "publisher": "Hub",
        "kind": "instance",
        "software": { "name": "Hub medical", "version": env!("CARGO_PKG_VERSION") },
        "implementation": { "description": "Hub's FHIR R4 read API over the medical vertical", "url": base },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "security": {
                "cors": false,
                "service": [{ "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                    "code": "OAuth",
                }] }],
                "description": "Bearer access tokens of Hub's identity service (users, or partner clients with the medical:read scope); the organization comes from the token",
            },
            "resource": resources,
        }],
    })
}
