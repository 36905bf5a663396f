//! `Patient/$everything`: one patient's compartment (allergies, blood
//! group, appointments, procedures, practitioners), paged across types.

use super::*;

/// Where a `$everything` page starts: the compartment is read section by
/// section (the patient and their blood group first, then allergies,
/// appointments and procedures), each by its own keyset.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub(super) enum Compartment {
    Allergies(Option<Uuid>),
    Appointments(Option<db::TimeCursor>),
    Procedures(Option<db::TimeCursor>),
}

/// `Patient/{id}/$everything`: the patient's whole compartment, paged like
/// a search (`_count` resources a page, at most 100; `next` links with a
/// sealed cursor), the practitioners each page names included. Clinicians
/// only. `total` counts the whole compartment.
pub(super) async fn everything(st: &State, url: &str, call: &Call, id: &str, query: Option<&str>) -> Outcome<Value> {
    let auth = call.auth()?;
    check(auth, Vertical::Medical, &CLINICAL, &[])?;
    let base = base_for(url, auth);
    let mut params = Params::parse(query)?;
    let cursors = Cursors::new(&st.cipher, auth.organization_id, &format!("Patient/{id}/$everything"));
    let paging = Paging::<Compartment>::take(&mut params, &cursors)?;
    params.finish()?;
    let mut tx = st.reads.begin_for(auth).await?;
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
