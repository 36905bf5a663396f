//! `read` and `search` on each resource type: the caller's rights per type,
//! one tenant transaction, every patient and practitioner read audited
//! before the answer leaves.

use super::*;

/// A malformed id names nothing: the same 404 as a missing row.
pub(super) fn id_of(kind: Kind, id: &str) -> Outcome<Uuid> {
    Uuid::try_parse(id).map_err(|_| Failure::App(AppError::NotFound(kind.name())))
}

pub(super) async fn patient_of(tx: &mut TenantTx, kind: Kind, id: Uuid) -> Outcome<Patient> {
    patient_db::by_ids(tx, &[id])
        .await?
        .into_iter()
        .next()
        .ok_or(Failure::App(AppError::NotFound(kind.name())))
}

pub(super) async fn practitioners(
    tx: &mut TenantTx,
    ids: impl IntoIterator<Item = Uuid>,
) -> Outcome<Vec<Practitioner>> {
    let ids: Vec<Uuid> = ids.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(practitioner::by_ids(tx, &ids).await?)
}

pub(super) fn find(known: &[Practitioner], id: Uuid) -> Option<&Practitioner> {
    known.iter().find(|p| p.user_id == id)
}

pub(super) async fn read_one(st: &State, url: &str, call: &Call, kind: &str, id: &str) -> Outcome<Value> {
    let auth = call.auth()?;
    let kind = Kind::parse(kind)?;
    kind.allow(auth)?;
    let base = base_for(url, auth);
    let mut tx = st.reads.begin_for(auth).await?;
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

pub(super) async fn search(st: &State, url: &str, call: &Call, kind: &str, query: Option<&str>) -> Outcome<Value> {
    let auth = call.auth()?;
    let kind = Kind::parse(kind)?;
    kind.allow(auth)?;
    let base = base_for(url, auth);
    let mut params = Params::parse(query)?;
    let cursors = Cursors::new(&st.cipher, auth.organization_id, kind.name());
    let mut tx = st.reads.begin_for(auth).await?;
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

pub(super) async fn owners(tx: &mut TenantTx, ids: impl Iterator<Item = Uuid>) -> Outcome<Vec<Patient>> {
    let ids: Vec<Uuid> = ids.collect::<BTreeSet<_>>().into_iter().collect();
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(patient_db::by_ids(tx, &ids).await?)
}

pub(super) type Page = (i64, Vec<Entry>, Option<String>);

pub(super) async fn search_patients(
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

pub(super) async fn search_appointments(
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
