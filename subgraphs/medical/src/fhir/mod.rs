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

pub const CONTENT_TYPE: &str = "application/fhir+json; charset=utf-8";

pub fn routes(state: Arc<State>) -> Router {
    Router::new()
        .route("/fhir/metadata", get(metadata))
        .route("/fhir/{kind}", get(search_type))
        .route("/fhir/{kind}/{id}", get(read))
        .route("/fhir/{kind}/{id}/{operation}", get(operation))
        .with_state(state)
}

/// What a FHIR request can fail with: the platform's errors, plus a
/// deleted record (410) and a type or operation this server does not serve.
#[derive(Debug)]
pub enum Failure {
    App(AppError),
    Gone(&'static str),
    Unsupported(String),
}

impl From<AppError> for Failure {
    fn from(e: AppError) -> Self {
        Failure::App(e)
    }
}

type Outcome<T> = Result<T, Failure>;

fn fhir_json(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    resp
}

/// An OperationOutcome with the HTTP status FHIR expects, the issue code,
/// our stable error code and the message in the caller's language.
pub fn operation_outcome(failure: &Failure, locale: Locale) -> Response {
    let (status, issue, code, message, field) = match failure {
        Failure::Gone(what) => (
            StatusCode::GONE,
            "deleted",
            "GONE",
            Message::Gone(what).render(locale),
            None,
        ),
        Failure::Unsupported(what) => (
            StatusCode::NOT_FOUND,
            "not-supported",
            "NOT_FOUND",
            Message::NotSupported(what.clone()).render(locale),
            None,
        ),
        Failure::App(e) => {
            let (message, _) = present(e, locale);
            let field = match e {
                AppError::BadUserInput { field, .. } => Some(field.clone()),
                _ => None,
            };
            let code = e.code();
            let (status, issue) = match code {
                platform::ErrorCode::Unauthenticated => (StatusCode::UNAUTHORIZED, "login"),
                platform::ErrorCode::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
                platform::ErrorCode::NotFound => (StatusCode::NOT_FOUND, "not-found"),
                platform::ErrorCode::BadUserInput => (StatusCode::BAD_REQUEST, "invalid"),
                platform::ErrorCode::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "throttled"),
                platform::ErrorCode::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "transient"),
                _ => (StatusCode::INTERNAL_SERVER_ERROR, "exception"),
            };
            (status, issue, code.as_str(), message, field)
        }
    };
    let mut issue = json!({
        "severity": "error",
        "code": issue,
        "details": { "coding": [{ "system": codes::HUB_ERROR, "code": code }], "text": message },
        "diagnostics": message,
    });
    if let Some(f) = field {
        issue["expression"] = json!([f]);
    }
    let body = json!({ "resourceType": "OperationOutcome", "issue": [issue] });
    let mut resp = fhir_json(status, &body);
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    resp
}

fn respond(locale: Locale, result: Outcome<Value>) -> Response {
    match result {
        Ok(body) => fhir_json(StatusCode::OK, &body),
        Err(f) => operation_outcome(&f, locale),
    }
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

/// A malformed id names nothing: the same 404 as a missing row.
fn id_of(kind: Kind, id: &str) -> Outcome<Uuid> {
    Uuid::try_parse(id).map_err(|_| Failure::App(AppError::NotFound(kind.name())))
}

async fn patient_of(tx: &mut TenantTx, kind: Kind, id: Uuid) -> Outcome<Patient> {
    patient_db::by_ids(tx, &[id])
        .await?
        .into_iter()
        .next()
        .ok_or(Failure::App(AppError::NotFound(kind.name())))
}

async fn practitioners(tx: &mut TenantTx, ids: impl IntoIterator<Item = Uuid>) -> Outcome<Vec<Practitioner>> {
    let ids: Vec<Uuid> = ids.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(practitioner::by_ids(tx, &ids).await?)
}

fn find(known: &[Practitioner], id: Uuid) -> Option<&Practitioner> {
    known.iter().find(|p| p.user_id == id)
}

async fn read_one(st: &State, url: &str, call: &Call, kind: &str, id: &str) -> Outcome<Value> {
    let auth = call.auth()?;
    let kind = Kind::parse(kind)?;
    kind.allow(auth)?;
    let base = base_for(url, auth);
    let mut tx = TenantTx::begin(&st.pool, auth).await?;
    let mut reads = Reads::default();
    let not_found = || Failure::App(AppError::NotFound(kind.name()));
    let resource = match kind {
        Kind::Patient => {
            let p = patient_of(&mut tx, kind, id_of(kind, id)?).await?;
            if p.deleted_at.is_some() {
                return Err(Failure::Gone("Patient"));
            }
            reads.patients.insert(p.id);
            resources::patient(&base, &p, patient_view(auth), &st.cipher)?
        }
        Kind::Observation => {
            let patient = resources::blood_group_patient(id).ok_or_else(not_found)?;
            let p = patient_of(&mut tx, kind, patient).await?;
            reads.patients.insert(p.id);
            resources::blood_group(&p).ok_or_else(not_found)?
        }
        Kind::AllergyIntolerance => {
            let a = db::allergy(&mut tx, id_of(kind, id)?).await?.ok_or_else(not_found)?;
            let p = patient_of(&mut tx, kind, a.patient_id).await?;
            reads.patients.insert(p.id);
            resources::allergy(&a, &p)
        }
        Kind::Appointment => {
            let a = appointment_db::by_ids(&mut tx, &[id_of(kind, id)?])
                .await?
                .into_iter()
                .next()
                .ok_or_else(not_found)?;
            let p = patient_of(&mut tx, kind, a.patient_id).await?;
            let known = practitioners(&mut tx, [a.practitioner_id]).await?;
            reads.patients.insert(p.id);
            resources::appointment(&a, &p, find(&known, a.practitioner_id))
        }
        Kind::Procedure => {
            let x = db::procedure(&mut tx, id_of(kind, id)?).await?.ok_or_else(not_found)?;
            let p = patient_of(&mut tx, kind, x.patient_id).await?;
            let known = practitioners(&mut tx, [x.performer_id]).await?;
            reads.patients.insert(p.id);
            resources::procedure(&x, &p, find(&known, x.performer_id), clinician(auth))
        }
        Kind::Practitioner => {
            let known = practitioners(&mut tx, [id_of(kind, id)?]).await?;
            let p = known.first().ok_or_else(not_found)?;
            reads.practitioners.insert(p.user_id);
            resources::practitioner(p)
        }
    };
    let details = json!({ "resource": kind.name(), "id": id, "via": "fhir" });
    reads.commit(tx, call, "fhir.read", details).await?;
    Ok(resource)
}

async fn search(st: &State, url: &str, call: &Call, kind: &str, query: Option<&str>) -> Outcome<Value> {
    let auth = call.auth()?;
    let kind = Kind::parse(kind)?;
    kind.allow(auth)?;
    let base = base_for(url, auth);
    let mut params = Params::parse(query)?;
    let cursors = Cursors::new(&st.cipher, auth.organization_id, kind.name());
    let mut tx = TenantTx::begin(&st.pool, auth).await?;
    let mut reads = Reads::default();
    let (total, entries, next) = match kind {
        Kind::Patient => search_patients(st, auth, &base, &mut params, &cursors, &mut tx, &mut reads).await?,
        Kind::AllergyIntolerance => {
            let patient = search::reference(&mut params, "patient", "Patient", &base)?;
            let paging = Paging::<Uuid>::take(&mut params, &cursors)?;
            params.finish()?;
            let total = db::count_allergies(&mut tx, patient).await?;
            let mut rows = db::allergies(&mut tx, patient, paging.after, paging.fetch()).await?;
            let next = paging.cut(&mut rows, |a| a.id)?;
            let owners = owners(&mut tx, rows.iter().map(|a| a.patient_id)).await?;
            let entries = rows
                .iter()
                .filter_map(|a| owners.iter().find(|p| p.id == a.patient_id).map(|p| (a, p)))
                .map(|(a, p)| {
                    reads.patients.insert(p.id);
                    Entry::matched(resources::allergy(a, p))
                })
                .collect();
            (total, entries, next)
        }
        Kind::Observation => {
            let patient = search::reference(&mut params, "patient", "Patient", &base)?;
            let paging = Paging::<Uuid>::take(&mut params, &cursors)?;
            params.finish()?;
            let total = db::count_blood_grouped(&mut tx, patient).await?;
            let mut rows = db::blood_grouped(&mut tx, patient, paging.after, paging.fetch()).await?;
            let next = paging.cut(&mut rows, |p| p.id)?;
            let entries = rows
                .iter()
                .filter_map(|p| {
                    reads.patients.insert(p.id);
                    resources::blood_group(p).map(Entry::matched)
                })
                .collect();
            (total, entries, next)
        }
        Kind::Appointment => search_appointments(&base, &mut params, &cursors, &mut tx, &mut reads).await?,
        Kind::Procedure => {
            let patient = search::reference(&mut params, "patient", "Patient", &base)?;
            let paging = Paging::<db::TimeCursor>::take(&mut params, &cursors)?;
            params.finish()?;
            let total = db::count_procedures(&mut tx, patient).await?;
            let mut rows = db::procedures(&mut tx, patient, paging.after.as_ref(), paging.fetch()).await?;
            let next = paging.cut(&mut rows, |x| db::TimeCursor {
                at: x.performed_at,
                id: x.id,
            })?;
            let owners = owners(&mut tx, rows.iter().map(|x| x.patient_id)).await?;
            let known = practitioners(&mut tx, rows.iter().map(|x| x.performer_id)).await?;
            let notes = clinician(auth);
            let entries = rows
                .iter()
                .filter_map(|x| owners.iter().find(|p| p.id == x.patient_id).map(|p| (x, p)))
                .map(|(x, p)| {
                    reads.patients.insert(p.id);
                    Entry::matched(resources::procedure(x, p, find(&known, x.performer_id), notes))
                })
                .collect();
            (total, entries, next)
        }
        Kind::Practitioner => {
            return Err(Failure::Unsupported("search on Practitioner".into()));
        }
    };
    let bundle = search::searchset(&base, kind.name(), &params, total, entries, next);
    // Which parameters were searched on, never their values: a search by
    // name or birth date would otherwise keep them in the trail for good.
    // The patients the search returned are the read records themselves.
    let details = json!({ "resource": kind.name(), "parameters": params.names(), "via": "fhir" });
    reads.commit(tx, call, "fhir.search", details).await?;
    Ok(bundle)
}

async fn owners(tx: &mut TenantTx, ids: impl Iterator<Item = Uuid>) -> Outcome<Vec<Patient>> {
    let ids: Vec<Uuid> = ids.collect::<BTreeSet<_>>().into_iter().collect();
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(patient_db::by_ids(tx, &ids).await?)
}

type Page = (i64, Vec<Entry>, Option<String>);

async fn search_patients(
    st: &State,
    auth: &AuthContext,
    base: &Base,
    params: &mut Params,
    cursors: &Cursors<'_>,
    tx: &mut TenantTx,
    reads: &mut Reads,
) -> Outcome<Page> {
    let view = patient_view(auth);
    let mut filter = db::PatientFilter::default();
    if let Some(token) = params.one("identifier")? {
        filter.mrn = Some(match token.split_once('|') {
            // Another system's identifier (an insurer's, another
            // practice's) is no MRN of ours: nothing matches.
            Some((system, _)) if !system.is_empty() && system != base.mrn_system() => String::new(),
            Some((_, value)) => value.to_string(),
            None => token,
        });
    }
    filter.name = params
        .one("name")?
        .map(|n| platform::validate::like_pattern(n.trim(), false));
    let born = search::day_range(params, "birthdate")?;
    (filter.born_from, filter.born_before) = (born.from, born.before);
    if let Some(g) = params.one("gender")? {
        let sex =
            codes::sex_of(&g).ok_or_else(|| AppError::bad_input("gender", "use male, female, other or unknown"))?;
        filter.sex = Some(sex.as_db());
    }
    // Billing and partners see names only: they may not find patients by
    // what they could not read.
    let identifying =
        filter.mrn.is_some() || filter.born_from.is_some() || filter.born_before.is_some() || filter.sex.is_some();
    if view == PatientView::Names && identifying {
        return Err(AppError::Forbidden.into());
    }
    let paging = Paging::<patient_db::PatientCursor>::take(params, cursors)?;
    params.finish()?;
    let total = db::count_patients(tx, &filter).await?;
    let mut rows = db::patients(tx, &filter, paging.after.as_ref(), paging.fetch()).await?;
    let next = paging.cut(&mut rows, |p| patient_db::PatientCursor {
        family: p.family_name.to_lowercase(),
        given: p.given_name.to_lowercase(),
        id: p.id,
    })?;
    let mut entries = vec![];
    for p in &rows {
        reads.patients.insert(p.id);
        entries.push(Entry::matched(resources::patient(base, p, view, &st.cipher)?));
    }
    Ok((total, entries, next))
}

async fn search_appointments(
    base: &Base,
    params: &mut Params,
    cursors: &Cursors<'_>,
    tx: &mut TenantTx,
    reads: &mut Reads,
) -> Outcome<Page> {
    let mut filter = db::AppointmentFilter {
        patient: search::reference(params, "patient", "Patient", base)?,
        practitioner: search::reference(params, "practitioner", "Practitioner", base)?,
        ..Default::default()
    };
    let date = search::date_range(params, "date")?;
    (filter.from, filter.before) = (date.from, date.before);
    if let Some(list) = params.one("status")? {
        let mut statuses = vec![];
        for code in list.split(',') {
            match codes::appointment_status_of(code.trim()) {
                Ok(Some(s)) => statuses.push(s.as_db().to_string()),
                Ok(None) => {}
                Err(codes::NotInR4) => {
                    return Err(
                        AppError::bad_input("status", format!("`{code}` is not an R4 appointment status")).into(),
                    )
                }
            }
        }
        filter.statuses = Some(statuses);
    }
    let paging = Paging::<db::TimeCursor>::take(params, cursors)?;
    params.finish()?;
    let total = db::count_appointments(tx, &filter).await?;
    let mut rows = db::appointments(tx, &filter, paging.after.as_ref(), paging.fetch()).await?;
    let next = paging.cut(&mut rows, |a| db::TimeCursor {
        at: a.starts_at,
        id: a.id,
    })?;
    let owners = owners(tx, rows.iter().map(|a| a.patient_id)).await?;
    let known = practitioners(tx, rows.iter().map(|a| a.practitioner_id)).await?;
    let entries = rows
        .iter()
        .filter_map(|a| owners.iter().find(|p| p.id == a.patient_id).map(|p| (a, p)))
        .map(|(a, p)| {
            reads.patients.insert(p.id);
            Entry::matched(resources::appointment(a, p, find(&known, a.practitioner_id)))
        })
        .collect();
    Ok((total, entries, next))
}

/// Where a `$everything` page starts: the compartment is read section by
/// section (the patient and their blood group first, then allergies,
/// appointments and procedures), each by its own keyset.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
enum Compartment {
    Allergies(Option<Uuid>),
    Appointments(Option<db::TimeCursor>),
    Procedures(Option<db::TimeCursor>),
}

/// `Patient/{id}/$everything`: the patient's whole compartment, paged like
/// a search (`_count` resources a page, at most 100; `next` links with a
/// sealed cursor), the practitioners each page names included. Clinicians
/// only. `total` counts the whole compartment.
async fn everything(st: &State, url: &str, call: &Call, id: &str, query: Option<&str>) -> Outcome<Value> {
    let auth = call.auth()?;
    check(auth, Vertical::Medical, &CLINICAL, &[])?;
    let base = base_for(url, auth);
    let mut params = Params::parse(query)?;
    let cursors = Cursors::new(&st.cipher, auth.organization_id, &format!("Patient/{id}/$everything"));
    let paging = Paging::<Compartment>::take(&mut params, &cursors)?;
    params.finish()?;
    let mut tx = TenantTx::begin(&st.pool, auth).await?;
    let p = patient_of(&mut tx, Kind::Patient, id_of(Kind::Patient, id)?).await?;
    if p.deleted_at.is_some() {
        return Err(Failure::Gone("Patient"));
    }
    let filter = db::AppointmentFilter {
        patient: Some(p.id),
        ..Default::default()
    };
    let total = 1
        + db::count_blood_grouped(&mut tx, Some(p.id)).await?
        + db::count_allergies(&mut tx, Some(p.id)).await?
        + db::count_appointments(&mut tx, &filter).await?
        + db::count_procedures(&mut tx, Some(p.id)).await?;

    let count = paging.count;
    let mut entries = vec![];
    let mut at = match paging.after.clone() {
        Some(c) => c,
        None => {
            entries.push(Entry::matched(resources::patient(
                &base,
                &p,
                PatientView::Full,
                &st.cipher,
            )?));
            entries.extend(resources::blood_group(&p).map(Entry::matched));
            Compartment::Allergies(None)
        }
    };
    let mut named = vec![];
    // Each section fills what is left of the page; one more row than fits
    // says whether the page ends inside it.
    // `_count=0` asks for the total only: no page follows.
    let next = if count == 0 {
        None
    } else {
        loop {
            let room = count.saturating_sub(entries.len());
            let fetch = room as i64 + 1;
            match at {
                Compartment::Allergies(after) => {
                    let mut rows = db::allergies(&mut tx, Some(p.id), after, fetch).await?;
                    let more = rows.len() > room;
                    rows.truncate(room);
                    let last = rows.last().map(|a| a.id);
                    entries.extend(rows.iter().map(|a| Entry::matched(resources::allergy(a, &p))));
                    if more {
                        break Some(Compartment::Allergies(last));
                    }
                    at = Compartment::Appointments(None);
                }
                Compartment::Appointments(after) => {
                    let mut rows = db::appointments(&mut tx, &filter, after.as_ref(), fetch).await?;
                    let more = rows.len() > room;
                    rows.truncate(room);
                    let last = rows.last().map(|a| db::TimeCursor {
                        at: a.starts_at,
                        id: a.id,
                    });
                    let known = practitioners(&mut tx, rows.iter().map(|a| a.practitioner_id)).await?;
                    entries.extend(
                        rows.iter()
                            .map(|a| Entry::matched(resources::appointment(a, &p, find(&known, a.practitioner_id)))),
                    );
                    named.extend(known);
                    if more {
                        break Some(Compartment::Appointments(last));
                    }
                    at = Compartment::Procedures(None);
                }
                Compartment::Procedures(after) => {
                    let mut rows = db::procedures(&mut tx, Some(p.id), after.as_ref(), fetch).await?;
                    let more = rows.len() > room;
                    rows.truncate(room);
                    let last = rows.last().map(|x| db::TimeCursor {
                        at: x.performed_at,
                        id: x.id,
                    });
                    let known = practitioners(&mut tx, rows.iter().map(|x| x.performer_id)).await?;
                    entries.extend(
                        rows.iter()
                            .map(|x| Entry::matched(resources::procedure(x, &p, find(&known, x.performer_id), true))),
                    );
                    named.extend(known);
                    break more.then_some(Compartment::Procedures(last));
                }
            }
        }
    };
    let next = next.map(|c| paging.seal(&c)).transpose()?;
    named.sort_by_key(|k| k.user_id);
    named.dedup_by_key(|k| k.user_id);
    entries.extend(named.iter().map(|k| Entry::included(resources::practitioner(k))));

    let mut reads = Reads::default();
    reads.patients.insert(p.id);
    let bundle = search::searchset(
        &base,
        &format!("Patient/{}/$everything", p.id),
        &params,
        total,
        entries,
        next,
    );
    let details = json!({ "resource": "Patient", "id": p.id, "operation": "$everything", "via": "fhir" });
    reads.commit(tx, call, "fhir.everything", details).await?;
    Ok(bundle)
}
