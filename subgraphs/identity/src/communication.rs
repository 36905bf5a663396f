//! Identity's Communication duties: the mails of its own events
//! (invitations, password resets), the tender mails to suppliers and the
//! in-app notifications (`crate::notification`). Identity sends them because it alone
//! holds the secret links (sealed in the events with its key) and the
//! users' addresses and languages; another service would need copies of both.

use std::sync::Arc;

use futures::FutureExt;
use platform::{
    events::{Delivery, Subscription},
    mail::Templates,
};
use serde_json::json;

use crate::State;

pub const MAIL_GROUP: &str = "identity.mail";

const TEMPLATES: &[(&str, &str)] = &[
    ("invitation.en", include_str!("../mail/invitation.en.txt")),
    ("invitation.fr", include_str!("../mail/invitation.fr.txt")),
    ("invitation.de", include_str!("../mail/invitation.de.txt")),
    ("password_reset.en", include_str!("../mail/password_reset.en.txt")),
    ("password_reset.fr", include_str!("../mail/password_reset.fr.txt")),
    ("password_reset.de", include_str!("../mail/password_reset.de.txt")),
    ("tender_amended.en", include_str!("../mail/tender_amended.en.txt")),
    ("tender_amended.fr", include_str!("../mail/tender_amended.fr.txt")),
    ("tender_amended.de", include_str!("../mail/tender_amended.de.txt")),
    ("tender_deadline.en", include_str!("../mail/tender_deadline.en.txt")),
    ("tender_deadline.fr", include_str!("../mail/tender_deadline.fr.txt")),
    ("tender_deadline.de", include_str!("../mail/tender_deadline.de.txt")),
];

pub fn templates() -> anyhow::Result<Templates> {
    Templates::new(TEMPLATES)
}

pub fn subscriptions(state: &Arc<State>) -> Vec<Subscription> {
    let (a, b) = (state.clone(), state.clone());
    let mut subs = crate::notification::feed::subscriptions(state);
    subs.extend([
        Subscription::new("identity.invitation", MAIL_GROUP, move |_, d| {
            let st = a.clone();
            async move { invitation(&st, d).await }.boxed()
        }),
        Subscription::new("identity.password_reset", MAIL_GROUP, move |_, d| {
            let st = b.clone();
            async move { password_reset(&st, d).await }.boxed()
        }),
    ]);
    subs
}

async fn invitation(st: &State, d: &Delivery) -> anyhow::Result<()> {
    if d.kind != "identity.invitation.created" {
        return Ok(());
    }
    d.require_version(1)?;
    let token = crate::events::open_secret(&st.cipher, d.entity_id()?, &d.payload)?;
    let expires = chrono::DateTime::parse_from_rfc3339(d.text("expiresAt")?)?
        .with_timezone(&chrono::Utc)
        .format("%Y-%m-%d %H:%M")
        .to_string();
    let roles: Vec<&str> = d.payload["roles"]
        .as_array()
        .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    st.mail
        .send(
            d,
            "invitation",
            d.text("locale").unwrap_or("en"),
            d.text("email")?,
            json!({
                "organization": d.text("organizationName")?,
                "roles": roles.join(", "),
                "link": format!("{}/accept-invite?token={token}", st.mail.app_url()),
                "expires": expires,
            }),
        )
        .await?;
    Ok(())
}

async fn password_reset(st: &State, d: &Delivery) -> anyhow::Result<()> {
    if d.kind != "identity.password_reset.requested" {
        return Ok(());
    }
    d.require_version(1)?;
    let token = crate::events::open_secret(&st.cipher, d.entity_id()?, &d.payload)?;
    let minutes = d.payload["ttlSeconds"].as_u64().unwrap_or(3600) / 60;
    st.mail
        .send(
            d,
            "password_reset",
            d.text("locale").unwrap_or("en"),
            d.text("email")?,
            json!({
                "organization": d.text("organizationName")?,
                "minutes": minutes,
                "link": format!("{}/reset-password?token={token}", st.mail.app_url()),
            }),
        )
        .await?;
    Ok(())
}
