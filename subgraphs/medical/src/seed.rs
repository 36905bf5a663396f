//! Demo medical data (`hub seed`): patients (most with a blood group), a
//! week of appointments, a procedure each, notes and invoices for the demo
//! clinics, written through the subgraph's own database functions (so fields are encrypted exactly as the service does
//! it). Development only: it runs as the database admin and reads identity's
//! demo organizations and practitioners, which no service ever does.
//! The lookups of identity's rows stay dynamic for the same reason.

use crate::{
    appointment::db as appointments,
    invoice::db as invoices,
    note::{db as notes, model::body_aad},
    patient::{
        db as patients,
        model::{contact_aad, insurance_aad, BloodType, Contact},
    },
    procedure::db as procedures,
};
use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use platform::{crypto::FieldCipher, kit::Runtime};
use sqlx::PgConnection;
use uuid::Uuid;

/// MRN, given name, family name, birth date, sex.
type DemoPatient = (&'static str, &'static str, &'static str, (i32, u32, u32), &'static str);

const PATIENTS: &[DemoPatient] = &[
    ("MRN-1001", "Camille", "Bernard", (1985, 3, 14), "female"),
    ("MRN-1002", "Lucas", "Petit", (1972, 11, 2), "male"),
    ("MRN-1003", "Emma", "Robert", (1994, 6, 21), "female"),
    ("MRN-1004", "Hugo", "Richard", (1958, 1, 30), "male"),
    ("MRN-1005", "Léa", "Durand", (2001, 9, 9), "female"),
    ("MRN-1006", "Noah", "Moreau", (2015, 4, 17), "male"),
];

/// Demo clinics (identity's demo slugs) and their practitioner.
const CLINICS: &[(&str, &str)] = &[
    ("clinique-saint-paul", "dr.martin@clinique-saint-paul.example"),
    ("hopital-nord", "dr.bernard@hopital-nord.example"),
];

pub async fn seed(conn: &mut PgConnection, rt: &Runtime) -> anyhow::Result<()> {
    let cipher = rt.field_cipher()?;
    for (slug, practitioner) in CLINICS {
        seed_clinic(conn, &cipher, slug, practitioner).await?;
    }
    Ok(())
}

async fn seed_clinic(
    conn: &mut PgConnection,
    cipher: &FieldCipher,
    slug: &str,
    practitioner_email: &str,
) -> anyhow::Result<()> {
    sqlx::raw_sql("set search_path to medical").execute(&mut *conn).await?;
    let org: Uuid = sqlx::query_scalar("select id from identity.organizations where slug = $1")
        .bind(slug)
        .fetch_one(&mut *conn)
        .await?;
    let practitioner: Uuid = sqlx::query_scalar("select id from identity.users where email = $1")
        .bind(practitioner_email)
        .fetch_one(&mut *conn)
        .await?;
    // The demo clinic's members as the practitioner consumer would have
    // projected them (seeding, like the rows above, reads identity directly;
    // the running service only ever learns them from events).
    sqlx::query(
        "insert into practitioners (organization_id, user_id, display_name, roles, active, last_seq)
         select m.organization_id, m.user_id, u.display_name, m.roles, true, 0
           from identity.memberships m join identity.users u on u.id = m.user_id where m.organization_id = $1
         on conflict do nothing",
    )
    .bind(org)
    .execute(&mut *conn)
    .await?;
    let existing: i64 = sqlx::query_scalar("select count(*) from patients where organization_id = $1")
        .bind(org)
        .fetch_one(&mut *conn)
        .await?;
    if existing > 0 {
        return Ok(());
    }
    let monday = {
        let today = Utc::now().date_naive();
        today - Duration::days(today.weekday().num_days_from_monday() as i64)
    };
    for (i, (mrn, given, family, (y, m, d), sex)) in PATIENTS.iter().enumerate() {
        let id = Uuid::new_v4();
        let contact = Contact {
            phone: Some(format!("+33 6 12 34 56 {:02}", 10 + i)),
            email: Some(format!(
                "{}.{}@patient.example",
                given.to_lowercase(),
                family.to_lowercase()
            )),
            address: Some(format!("{} rue de la République, Lyon", 10 + i)),
        };
        let contact = cipher
            .seal(&serde_json::to_vec(&contact)?, &contact_aad(id))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let insurance = cipher
            .seal_str(&format!("1 {y:02} {m:02} 69 123 {:03}", 100 + i), &insurance_aad(id))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        patients::insert(
            conn,
            patients::NewPatient {
                id,
                organization_id: org,
                mrn,
                given_name: given,
                family_name: family,
                birth_date: NaiveDate::from_ymd_opt(*y, *m, *d).unwrap_or_default(),
                sex,
                contact: Some(contact),
                insurance: Some(insurance),
            },
        )
        .await?;
        if i % 2 == 0 {
            patients::insert_allergy(conn, org, id, "Penicillin", Some("Hives"), "moderate").await?;
        }
        // Blood groups for most, so the FHIR API has Observations to show.
        if let Some((_, blood)) = BloodType::ALL.get(i).filter(|_| i % 3 != 2) {
            sqlx::query("update patients set blood_type = $2 where id = $1")
                .bind(id)
                .bind(blood)
                .execute(&mut *conn)
                .await?;
        }
        // A week of appointments: each patient once a day at their own slot.
        for day in 0..5 {
            let date = monday + Duration::days(day);
            let start = Utc.from_utc_datetime(&date.and_hms_opt(8 + i as u32, 0, 0).unwrap_or_default());
            appointments::insert(
                conn,
                &appointments::NewAppointment {
                    organization_id: org,
                    patient_id: id,
                    practitioner_id: practitioner,
                    starts_at: start,
                    ends_at: start + Duration::minutes(30),
                    reason: Some(if day == 0 { "Consultation" } else { "Follow-up" }),
                    idempotency_key: None,
                },
            )
            .await?;
        }
        // Monday's consultation came with an ECG (CCAM) or a CPT-coded one.
        let monday_slot = Utc.from_utc_datetime(&monday.and_hms_opt(8 + i as u32, 10, 0).unwrap_or_default());
        procedures::insert(
            conn,
            &procedures::NewProcedure {
                organization_id: org,
                patient_id: id,
                appointment_id: None,
                code: if i % 2 == 0 { "DEQP003" } else { "93000" },
                performed_at: monday_slot,
                performer_id: practitioner,
                notes: Some("Sinus rhythm, no abnormality."),
            },
        )
        .await?;
        let note_id = Uuid::new_v4();
        let body = cipher
            .seal_str(
                &format!("{given} {family}: routine check, no concerns."),
                &body_aad(note_id),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        notes::insert(conn, note_id, org, id, practitioner, &body, None).await?;
        if i % 2 == 1 {
            notes::sign(conn, note_id, practitioner).await?;
        }
        let invoice = invoices::insert(conn, org, id).await?;
        invoices::replace_lines(
            conn,
            org,
            invoice.id,
            &[invoices::Line {
                code: "GS".into(),
                description: "Consultation".into(),
                quantity: 1,
                unit_price_cents: 3000,
            }],
        )
        .await?;
        if i % 3 != 0 {
            <crate::invoice::model::Invoice as platform::lifecycle::Lifecycle>::move_to(
                conn,
                invoice.id,
                &["draft"],
                "issued",
            )
            .await?;
        }
    }
    sqlx::raw_sql("reset search_path").execute(&mut *conn).await?;
    Ok(())
}
