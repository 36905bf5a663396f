//! E-mail, as event consumers send it: localized templates, one transport
//! (SMTP with `lettre`, or `.eml` files in development), and a delivery
//! record per message (sent, failed, bounced; attempts and the last error)
//! that never holds the message's body, so no link secret is kept.
//!
//! Delivery is at least once: the record is written right after the
//! transport answered, in its own transaction, and a redelivered event whose
//! message is already recorded as sent (or bounced) sends nothing.

use std::collections::HashMap;

use lettre::{
    message::{header::ContentType, Mailbox},
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    data::db::{Scope, TenantTx},
    foundation::config::{MailSettings, MailTransport},
    messaging::events::Delivery,
};

/// A service's mail: the transport, its templates and the pool its delivery
/// records go to — all an event consumer needs to mail what an event asks.
pub struct Mail {
    pub mailer: Mailer,
    templates: Templates,
    pool: PgPool,
}

impl Mail {
    pub fn new(settings: &MailSettings, templates: Templates, pool: PgPool) -> anyhow::Result<Self> {
        Ok(Mail {
            mailer: Mailer::new(settings)?,
            templates,
            pool,
        })
    }

    /// Where links in mails lead (the web application).
    pub fn app_url(&self) -> &str {
        &self.mailer.app_url
    }

    /// The mail `template` event `d` causes, to `to` in `locale`: sent once
    /// per event, template and recipient ([`deliver`]).
    pub async fn send(
        &self,
        d: &Delivery,
        template: &str,
        locale: &str,
        to: &str,
        vars: serde_json::Value,
    ) -> anyhow::Result<Delivered> {
        let m = Outgoing {
            organization_id: d.tenant,
            event_id: d.id,
            template,
            locale,
            to,
            vars,
        };
        deliver(&self.pool, &self.mailer, &self.templates, m).await
    }
}

enum Transport {
    File(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Off,
}

/// The configured transport and sender.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    /// Where links lead (the web application).
    pub app_url: String,
}

/// Why a message did not go out.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server refused it for good (5xx: unknown mailbox, policy): a bounce.
    #[error("refused: {0}")]
    Permanent(String),
    /// Worth retrying (connection, 4xx, a full disk).
    #[error("{0}")]
    Transient(String),
}

impl Mailer {
    pub fn new(settings: &MailSettings) -> anyhow::Result<Self> {
        let transport = match settings.transport {
            MailTransport::File => {
                std::fs::create_dir_all(&settings.dir)
                    .map_err(|e| anyhow::anyhow!("mail directory {}: {e}", settings.dir.display()))?;
                Transport::File(AsyncFileTransport::new(&settings.dir))
            }
            MailTransport::Smtp => {
                let url = settings
                    .smtp_url
                    .as_ref()
                    .map(|u| u.expose_secret().to_string())
                    .unwrap_or_default();
                Transport::Smtp(AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)?.build())
            }
            MailTransport::Off => Transport::Off,
        };
        Ok(Mailer {
            transport,
            from: settings
                .from
                .parse()
                .map_err(|e| anyhow::anyhow!("HUB_MAIL__FROM `{}`: {e}", settings.from))?,
            app_url: settings.app_url.trim_end_matches('/').to_string(),
        })
    }

    pub fn is_off(&self) -> bool {
        matches!(self.transport, Transport::Off)
    }

    /// Sends a plain-text message; returns its Message-ID.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<String, SendError> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| SendError::Permanent(format!("recipient `{to}`: {e}")))?;
        let domain = self.from.email.domain().to_string();
        let message_id = format!("<{}@{domain}>", Uuid::new_v4());
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(message_id.clone()))
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| SendError::Permanent(e.to_string()))?;
        match &self.transport {
            Transport::File(t) => t
                .send(message)
                .await
                .map(|_| message_id)
                .map_err(|e| SendError::Transient(e.to_string())),
            Transport::Smtp(t) => t.send(message).await.map(|_| message_id).map_err(|e| {
                if e.is_permanent() {
                    SendError::Permanent(e.to_string())
                } else {
                    SendError::Transient(e.to_string())
                }
            }),
            Transport::Off => Ok(message_id),
        }
    }
}

/// A service's mail templates, `<name>.<locale>` (`en`, `fr`, `de`), each
/// `Subject: …`, a blank line, then the body (minijinja syntax, no HTML).
pub struct Templates {
    env: minijinja::Environment<'static>,
    names: HashMap<String, ()>,
}

impl Templates {
    /// From `(name.locale, source)` pairs (usually `include_str!`). A
    /// template that does not parse fails here, at start-up.
    pub fn new(sources: &[(&'static str, &'static str)]) -> anyhow::Result<Self> {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        let mut names = HashMap::new();
        for (name, source) in sources {
            env.add_template(name, source)
                .map_err(|e| anyhow::anyhow!("mail template {name}: {e}"))?;
            names.insert(name.to_string(), ());
        }
        Ok(Templates { env, names })
    }

    /// Subject and body of `name` in `locale` (English if it has none).
    pub fn render(&self, name: &str, locale: &str, vars: &serde_json::Value) -> anyhow::Result<(String, String)> {
        let localized = format!("{name}.{locale}");
        let key = if self.names.contains_key(&localized) {
            localized
        } else {
            format!("{name}.en")
        };
        let text = self.env.get_template(&key)?.render(minijinja::value::Serde(vars))?;
        let (head, body) = text
            .split_once("\n\n")
            .ok_or_else(|| anyhow::anyhow!("mail template {key}: no blank line after the subject"))?;
        let subject = head
            .strip_prefix("Subject:")
            .ok_or_else(|| anyhow::anyhow!("mail template {key}: the first line is `Subject: …`"))?;
        Ok((subject.trim().to_string(), format!("{}\n", body.trim_end())))
    }
}

/// One message an event causes.
pub struct Outgoing<'a> {
    pub organization_id: Uuid,
    pub event_id: Uuid,
    pub template: &'a str,
    pub locale: &'a str,
    pub to: &'a str,
    pub vars: serde_json::Value,
}

/// What [`deliver`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivered {
    Sent,
    /// Refused for good: recorded as bounced, not retried.
    Bounced,
    /// Already sent (or bounced) for this event: nothing sent again.
    Already,
    /// Mail is off.
    Off,
}

/// Forgets `addresses` in the mail records (erasure): the rows stay, as
/// the proof a mail went out, under a placeholder unique per row (the
/// delivery key includes the recipient), and errors that may quote the
/// address go too. Addresses compare case-insensitively. Returns the rows
/// changed.
pub async fn forget_recipients(conn: &mut sqlx::PgConnection, addresses: &[String]) -> sqlx::Result<i64> {
    if addresses.is_empty() {
        return Ok(0);
    }
    let lower: Vec<String> = addresses.iter().map(|a| a.trim().to_lowercase()).collect();
    let done = sqlx::query(
        "update mail_deliveries set recipient = 'erased:' || id::text, last_error = null, updated_at = now()
          where lower(recipient) = any($1)",
    )
    .bind(&lower)
    .execute(conn)
    .await?;
    Ok(i64::try_from(done.rows_affected()).unwrap_or(i64::MAX))
}

/// Renders, sends and records one message. A transient failure is
/// recorded (`failed`, attempts counted) and returned as an error, so the
/// event is retried and, after its last attempt, dead-lettered.
pub async fn deliver(
    pool: &PgPool,
    mailer: &Mailer,
    templates: &Templates,
    m: Outgoing<'_>,
) -> anyhow::Result<Delivered> {
    if mailer.is_off() {
        return Ok(Delivered::Off);
    }
    let scope = Scope {
        organization_id: m.organization_id,
        ..Default::default()
    };
    let mut tx = TenantTx::begin_scoped(pool, &scope).await?;
    let done: Option<String> = sqlx::query_scalar(
        "select status from mail_deliveries where event_id = $1 and template = $2 and recipient = $3 and status <> 'failed'",
    )
    .bind(m.event_id)
    .bind(m.template)
    .bind(m.to)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    if done.is_some() {
        return Ok(Delivered::Already);
    }
    let (subject, body) = templates.render(m.template, m.locale, &m.vars)?;
    let sent = mailer.send(m.to, &subject, body).await;
    let (status, message_id, error) = match &sent {
        Ok(id) => ("sent", Some(id.as_str()), None),
        Err(SendError::Permanent(e)) => ("bounced", None, Some(e.as_str())),
        Err(SendError::Transient(e)) => ("failed", None, Some(e.as_str())),
    };
    let mut tx = TenantTx::begin_scoped(pool, &scope).await?;
    sqlx::query(
        "insert into mail_deliveries (organization_id, event_id, template, locale, recipient, status, message_id, last_error)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (event_id, template, recipient) do update
           set status = excluded.status, message_id = excluded.message_id, last_error = excluded.last_error,
               attempts = mail_deliveries.attempts + 1, updated_at = now()",
    )
    .bind(m.organization_id)
    .bind(m.event_id)
    .bind(m.template)
    .bind(m.locale)
    .bind(m.to)
    .bind(status)
    .bind(message_id)
    .bind(error)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    match sent {
        Ok(_) => Ok(Delivered::Sent),
        Err(SendError::Permanent(e)) => {
            tracing::warn!(template = m.template, error = %e, "mail bounced");
            Ok(Delivered::Bounced)
        }
        Err(SendError::Transient(e)) => Err(anyhow::anyhow!("mail not sent: {e}")),
    }
}
