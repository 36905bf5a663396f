//! A FHIR R4 (4.0.1) read API over the medical vertical: `read`, `search`
//! and `Patient/$everything` for patients, allergies, blood groups,
//! appointments, procedures and practitioners. The same callers, roles,
//! tenant transactions (row-level security), field encryption and audit as
//! the GraphQL API: the organization always comes from the token, and a row
//! of another organization answers exactly as a missing one (404).
//!
//! Clients reach it through the router host (`hub.fhir` forwards `/fhir/…`
//! with the edge's token check, rate limit and request id), so the base URL
//! resources carry is the router's (`HUB_MEDICAL__FHIR_BASE_URL`).

pub mod capability;
pub mod codes;
pub mod db;
mod everything;
mod interactions;
mod outcome;
pub mod resources;
pub mod search;

use std::{collections::BTreeSet, sync::Arc};

use axum::{
    extract::{Path, RawQuery, State as AxumState},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use platform::{
    access::check,
    audit::{self, Actor},
    db::TenantTx,
    error::present,
    i18n::{Locale, Message},
    rest::Call,
    AppError, AuthContext, Vertical,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    access::{ADMINISTRATIVE, CARE_TEAM, CLINICAL, NAMES, READ},
    appointment::db as appointment_db,
    patient::{db as patient_db, model::Patient},
    practitioner::{self, Practitioner},
    State,
};
use resources::{Base, PatientView};
use search::{Cursors, Entry, Paging, Params};

use everything::everything;
use interactions::{find, id_of, patient_of, practitioners, read_one, search};
use outcome::{fhir_json, respond, Outcome};
pub use outcome::{operation_outcome, Failure};

pub const CONTENT_TYPE: &str = "application/fhir+json; charset=utf-8";

pub fn routes(state: Arc<State>) -> Router {
    Router::new()
        .route("/fhir/metadata", get(metadata))
        .route("/fhir/{kind}", get(search_type))
        .route("/fhir/{kind}/{id}", get(read))
        .route("/fhir/{kind}/{id}/{operation}", get(operation))
        .with_state(state)
}

/// The resource types served, as the URL names them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Patient,
    AllergyIntolerance,
    Observation,
    Appointment,
    Procedure,
    Practitioner,
}

impl Kind {
    fn parse(s: &str) -> Outcome<Kind> {
        Ok(match s {
            "Patient" => Kind::Patient,
            "AllergyIntolerance" => Kind::AllergyIntolerance,
            "Observation" => Kind::Observation,
            "Appointment" => Kind::Appointment,
            "Procedure" => Kind::Procedure,
            "Practitioner" => Kind::Practitioner,
            other => return Err(Failure::Unsupported(format!("resource type {other}"))),
        })
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Patient => "Patient",
            Kind::AllergyIntolerance => "AllergyIntolerance",
            Kind::Observation => "Observation",
            Kind::Appointment => "Appointment",
            Kind::Procedure => "Procedure",
            Kind::Practitioner => "Practitioner",
        }
    }

    /// The GraphQL API's rules for the same data: names for billing and
    /// partners (`medical:read`), the administrative record and appointments
    /// for the care team and admins, procedures for the care team (their
    /// notes for clinicians), allergies and blood groups for clinicians only.
    fn allow(self, a: &AuthContext) -> Result<(), AppError> {
        let v = Vertical::Medical;
        match self {
            Kind::Patient => check(a, v, &NAMES, READ),
            Kind::Appointment | Kind::Practitioner => check(a, v, &ADMINISTRATIVE, READ),
            Kind::Procedure => check(a, v, &CARE_TEAM, &[]),
            Kind::AllergyIntolerance | Kind::Observation => check(a, v, &CLINICAL, &[]),
        }
    }
}

fn clinician(a: &AuthContext) -> bool {
    check(a, Vertical::Medical, &CLINICAL, &[]).is_ok()
}

fn patient_view(a: &AuthContext) -> PatientView {
    if check(a, Vertical::Medical, &ADMINISTRATIVE, &[]).is_ok() {
        PatientView::Full
    } else {
        PatientView::Names
    }
}

/// The router tells where the client reached the API (`hub.fhir` sets it
/// after dropping whatever a client sent under that name); the configured
/// base otherwise.
pub const BASE_HEADER: &str = "x-hub-fhir-base";

fn base_url(st: &State, headers: &HeaderMap) -> String {
    headers
        .get(BASE_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|b| (b.starts_with("http://") || b.starts_with("https://")) && !b.contains(char::is_whitespace))
        .map(|b| b.trim_end_matches('/').to_string())
        .unwrap_or_else(|| st.fhir_base.clone())
}

fn base_for(url: &str, a: &AuthContext) -> Base {
    Base {
        url: url.to_string(),
        organization_id: a.organization_id,
    }
}

/// What one request read, to audit: whose record, and which practitioners.
#[derive(Default)]
struct Reads {
    patients: BTreeSet<Uuid>,
    practitioners: BTreeSet<Uuid>,
}

impl Reads {
    /// Writes one read row per patient (and practitioner) read, in the
    /// request's transaction, then commits: a read that cannot be audited
    /// is not answered.
    async fn commit(self, mut tx: TenantTx, call: &Call, action: &str, details: Value) -> Outcome<()> {
        let auth = call.auth()?;
        let actor = Actor::from_auth(auth, call.meta.as_ref());
        let patients: Vec<Uuid> = self.patients.into_iter().collect();
        audit::record_read(&mut tx, &actor, action, "Patient", &patients, details.clone()).await?;
        let practitioners: Vec<Uuid> = self.practitioners.into_iter().collect();
        audit::record_read(&mut tx, &actor, action, "Practitioner", &practitioners, details).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn metadata(AxumState(st): AxumState<Arc<State>>, headers: HeaderMap) -> Response {
    fhir_json(StatusCode::OK, &capability::statement(&base_url(&st, &headers)))
}

async fn read(
    AxumState(st): AxumState<Arc<State>>,
    headers: HeaderMap,
    call: Call,
    Path((kind, id)): Path<(String, String)>,
) -> Response {
    let url = base_url(&st, &headers);
    respond(call.locale, read_one(&st, &url, &call, &kind, &id).await)
}

async fn search_type(
    AxumState(st): AxumState<Arc<State>>,
    headers: HeaderMap,
    call: Call,
    Path(kind): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let url = base_url(&st, &headers);
    respond(call.locale, search(&st, &url, &call, &kind, query.as_deref()).await)
}

async fn operation(
    AxumState(st): AxumState<Arc<State>>,
    headers: HeaderMap,
    call: Call,
    Path((kind, id, op)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let url = base_url(&st, &headers);
    let result = match (kind.as_str(), op.as_str()) {
        ("Patient", "$everything") => everything(&st, &url, &call, &id, query.as_deref()).await,
        _ => Err(Failure::Unsupported(format!("operation {kind}/{{id}}/{op}"))),
    };
    respond(call.locale, result)
}
