//! A patient erased by their practice (`medical.patient.erased`): data
//! export archives made of their record go (bytes and rows, at the next
//! purge); their documents' titles (which often name them) become generic; administrative
//! documents (identity papers, letters) are deleted, their files at the
//! next purge unless a retention date keeps them; clinical documents are
//! part of the medical record the law keeps, readable only by the
//! clinicians who could read them before, under a title that names no one.

use futures::FutureExt;
use platform::{
    db::{set_scope, Scope},
    events::{Delivery, Subscription},
    Role, Vertical,
};
use sqlx::PgConnection;

pub const GROUP: &str = "content.erasure";

pub fn subscriptions() -> Vec<Subscription> {
    vec![Subscription::new("medical.patient", GROUP, |c, d| apply(c, d).boxed())]
}

async fn apply(conn: &mut PgConnection, d: &Delivery) -> anyhow::Result<()> {
    if d.kind != "medical.patient.erased" {
        return Ok(());
    }
    d.require_version(1)?;
    let patient = d.entity_id()?;
    // The documents' own rule (by classification) hides clinical records
    // from a scope without clinical roles: act as the practice's care team.
    set_scope(
        conn,
        &Scope {
            organization_id: d.tenant,
            user_id: None,
            roles: vec![Role::Practitioner, Role::Nurse, Role::Secretary],
            verticals: vec![Vertical::Medical],
        },
    )
    .await?;
    // Derived copies (data export archives: the whole record and copies of
    // documents) are not what the law keeps: they expire now, so the next
    // purge deletes their bytes and rows; meanwhile nobody reads them.
    sqlx::query(
        "update documents set deleted_at = coalesce(deleted_at, now()), expires_at = now(), updated_at = now()
          where owner_type = 'Patient' and owner_id = $1 and expires_at is not null",
    )
    .bind(patient)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "update documents
            set title = case classification when 'clinical' then 'Clinical document' else 'Administrative document' end,
                deleted_at = case classification when 'administrative' then coalesce(deleted_at, now()) else deleted_at end,
                updated_at = now()
          where owner_type = 'Patient' and owner_id = $1",
    )
    .bind(patient)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
