//! Medical's mails: the confirmation and cancellation of an appointment, to
//! the address given at booking. Medical sends them itself: the address is
//! sealed with its key and the practitioner's name is in its projection.

use std::sync::Arc;

use futures::FutureExt;
use platform::{
    crypto::Sealed,
    events::{Delivery, Subscription},
    mail::Templates,
};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::State;

pub const MAIL_GROUP: &str = "medical.mail";

const TEMPLATES: &[(&str, &str)] = &[
    (
        "appointment_scheduled.en",
        include_str!("../mail/appointment_scheduled.en.txt"),
    ),
    (
        "appointment_scheduled.fr",
        include_str!("../mail/appointment_scheduled.fr.txt"),
    ),
    (
        "appointment_scheduled.de",
        include_str!("../mail/appointment_scheduled.de.txt"),
    ),
    (
        "appointment_cancelled.en",
        include_str!("../mail/appointment_cancelled.en.txt"),
    ),
    (
        "appointment_cancelled.fr",
        include_str!("../mail/appointment_cancelled.fr.txt"),
    ),
    (
        "appointment_cancelled.de",
        include_str!("../mail/appointment_cancelled.de.txt"),
    ),
];

pub fn templates() -> anyhow::Result<Templates> {
    Templates::new(TEMPLATES)
}

pub fn subscriptions(state: &Arc<State>) -> Vec<Subscription> {
    let st = state.clone();
    vec![Subscription::new("medical.appointment", MAIL_GROUP, move |c, d| {
        let st = st.clone();
        async move { appointment_mail(&st, c, d).await }.boxed()
    })]
}

type Notify = (
    Option<Vec<u8>>,
    Option<String>,
    Option<String>,
    chrono::DateTime<chrono::Utc>,
    chrono::DateTime<chrono::Utc>,
    Option<String>,
);

/// Mails a booking's confirmation or cancellation, if an address was given.
pub async fn appointment_mail(st: &State, conn: &mut PgConnection, d: &Delivery) -> anyhow::Result<()> {
    let template = match d.kind.as_str() {
        "medical.appointment.scheduled" => "appointment_scheduled",
        "medical.appointment.cancelled" => "appointment_cancelled",
        _ => return Ok(()),
    };
    d.require_version(1)?;
    let id: Uuid = serde_json::from_value(d.payload["appointmentId"].clone())?;
    let row: Option<Notify> = sqlx::query_as(
        "select a.notify_email_enc, a.notify_email_key_id, a.notify_locale, a.starts_at, a.ends_at, p.display_name
           from appointments a
           left join practitioners p on p.organization_id = a.organization_id and p.user_id = a.practitioner_id
          where a.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((Some(data), Some(key_id), locale, starts, ends, practitioner)) = row else {
        return Ok(());
    };
    let to = st
        .cipher
        .open_str(&Sealed { data, key_id }, &crate::appointment::notify_aad(id))?;
    st.mail
        .send(
            d,
            template,
            locale.as_deref().unwrap_or("en"),
            &to,
            json!({
                "date": starts.format("%Y-%m-%d").to_string(),
                "start": starts.format("%H:%M").to_string(),
                "end": ends.format("%H:%M").to_string(),
                "practitioner": practitioner.unwrap_or_else(|| "your practitioner".into()),
            }),
        )
        .await?;
    Ok(())
}
