//! Identity's mails through a real SMTP server (aiosmtpd, started here):
//! an invitation arrives in the invitee's language with a link that works,
//! a reset waits out an SMTP outage, and no delivery record keeps a secret.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::json;
use uuid::Uuid;

use crate::helpers::TestApp;

/// `python -m aiosmtpd` from `HUB_AIOSMTPD_PYTHON`, or the venv `hub test`
/// installs (subgraphs/identity/tests/smtp-requirements.txt), storing what
/// it receives in a Maildir and refusing `bounce…@` recipients for good
/// (tests/smtp_handlers.py).
struct Smtp {
    port: u16,
    maildir: PathBuf,
    child: Option<Child>,
}

impl Smtp {
    fn free() -> Smtp {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let maildir = std::env::temp_dir().join(format!("hub-smtp-{}", Uuid::new_v4().simple()));
        Smtp {
            port,
            maildir,
            child: None,
        }
    }

    fn start(&mut self) {
        let python = std::env::var("HUB_AIOSMTPD_PYTHON").unwrap_or_else(|_| {
            format!(
                "{}/.cache/hub-mail-venv/bin/python",
                std::env::var("HOME").unwrap_or_default()
            )
        });
        let handlers = concat!(env!("CARGO_MANIFEST_DIR"), "/tests");
        let child = Command::new(&python)
            .env("PYTHONPATH", handlers)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{}", self.port)])
            .args(["-c", "smtp_handlers.Picky"])
            .arg(&self.maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start aiosmtpd with {python} (pip install aiosmtpd; `hub test` does): {e}")
            });
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < until, "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages received so far, raw.
    fn messages(&self) -> Vec<Vec<u8>> {
        let Ok(dir) = std::fs::read_dir(self.maildir.join("new")) else {
            return vec![];
        };
        dir.filter_map(|e| e.ok())
            .filter_map(|e| std::fs::read(e.path()).ok())
            .collect()
    }

    async fn wait_for(&self, n: usize) -> Vec<Vec<u8>> {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < until, "{} of {n} mails after 20 s", got.len());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

/// Identity with its relay and mail consumer running, sending to `smtp`.
async fn app_sending_to(smtp: &Smtp) -> TestApp {
    let url = smtp.url();
    TestApp::spawn_with(|f| {
        f.merge(("mail.transport", "smtp"))
            .merge(("mail.smtp_url", url))
            .merge(("mail.app_url", "http://app.test/"))
            .merge(("mail.from", "Hub <no-reply@hub.test>"))
            .merge(("redis.events_relay", true))
            .merge(("redis.events_consumers", true))
            .merge((
                "redis.events_prefix",
                format!("hub-test-mail-{}:events", Uuid::new_v4().simple()),
            ))
            .merge(("redis.events_max_attempts", 100))
            .merge(("redis.events_retry_after_ms", 200))
    })
    .await
}

#[tokio::test]
async fn the_invitation_mail_arrives_in_the_invitees_language_with_a_working_link() {
    let mut smtp = Smtp::free();
    smtp.start();
    let app = app_sending_to(&smtp).await;
    let org = app.org("clinic", &["medical"]).await;
    app.member(org, "admin@clinic.example", &["org_admin"]).await;
    let admin = app.token("clinic", "admin@clinic.example").await;
    // The inviter reads German; the invitee reads French.
    let (_, r) = app
        .gql_response(
            "mutation { inviteUser(input: { email: \"invitee@example.org\", roles: [NURSE], locale: \"fr\" }) { id } }",
            json!({}),
            Some(&admin),
            &[("accept-language", "de")],
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");

    let raw = smtp.wait_for(1).await;
    let mail = testkit::mail::parse(&raw[0]);
    assert_eq!(mail.subject, "Invitation à rejoindre Org clinic sur Hub");
    assert_eq!(mail.to, "invitee@example.org");
    let body = mail.text;
    assert!(body.contains("Bonjour") && body.contains("nurse"), "{body}");
    let link = body
        .split_whitespace()
        .find(|w| w.starts_with("http://app.test/accept-invite?token="))
        .unwrap_or_else(|| panic!("no link in {body}"));
    let token = link.trim_start_matches("http://app.test/accept-invite?token=");

    // The link's token is what acceptInvite takes.
    let r = app
        .gql(
            "mutation($i: AcceptInviteInput!) { acceptInvite(input: $i) { organization { id } } }",
            json!({ "i": { "token": token, "displayName": "Invitée", "password": "invitee-passphrase-1" } }),
            None,
        )
        .await;
    assert_eq!(r["data"]["acceptInvite"]["organization"]["id"], org.to_string(), "{r}");

    let record: serde_json::Value = sqlx::query_scalar(
        "select to_jsonb(d) from identity.mail_deliveries d where recipient = 'invitee@example.org'",
    )
    .fetch_one(&app.admin)
    .await
    .unwrap();
    assert_eq!(record["status"], "sent");
    assert_eq!(record["template"], "invitation");
    assert_eq!(record["locale"], "fr");
    assert_eq!(record["attempts"], 1);
    assert!(record["message_id"].as_str().is_some_and(|m| m.ends_with("@hub.test>")));
    assert!(
        !record.to_string().contains(token),
        "the record keeps no secret: {record}"
    );
}

#[tokio::test]
async fn a_reset_mail_waits_out_an_smtp_outage_and_is_sent_once() {
    let mut smtp = Smtp::free();
    let app = app_sending_to(&smtp).await;
    let org = app.org("clinic", &[]).await;
    let user = app.member(org, "someone@clinic.example", &["auditor"]).await;
    sqlx::query("update identity.users set locale = 'de' where id = $1")
        .bind(user)
        .execute(&app.admin)
        .await
        .unwrap();
    app.gql(
        "mutation { requestPasswordReset(organization: \"clinic\", email: \"someone@clinic.example\") }",
        json!({}),
        None,
    )
    .await;
    // Nothing listens yet: the failure is recorded, the event retried.
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let failed: i64 = sqlx::query_scalar(
            "select count(*) from identity.mail_deliveries where status = 'failed' and last_error is not null",
        )
        .fetch_one(&app.admin)
        .await
        .unwrap();
        if failed == 1 {
            break;
        }
        assert!(Instant::now() < until, "no failed delivery recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    smtp.start();
    let raw = smtp.wait_for(1).await;
    assert_eq!(
        testkit::mail::parse(&raw[0]).subject,
        "Hub-Passwort für Org clinic zurücksetzen"
    );
    let (status, attempts): (String, i32) = sqlx::query_as(
        "select status, attempts from identity.mail_deliveries where recipient = 'someone@clinic.example'",
    )
    .fetch_one(&app.admin)
    .await
    .unwrap();
    assert_eq!(status, "sent");
    assert!(attempts >= 2, "{attempts}");
    // Once sent, never again (the event is acknowledged).
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(smtp.messages().len(), 1);
}

#[tokio::test]
async fn a_mailbox_the_server_refuses_is_recorded_bounced_and_not_retried() {
    let mut smtp = Smtp::free();
    smtp.start();
    let app = app_sending_to(&smtp).await;
    let org = app.org("clinic", &["medical"]).await;
    app.member(org, "admin@clinic.example", &["org_admin"]).await;
    let admin = app.token("clinic", "admin@clinic.example").await;
    app.gql(
        "mutation { inviteUser(input: { email: \"bounce.me@example.org\", roles: [NURSE] }) { id } }",
        json!({}),
        Some(&admin),
    )
    .await;
    let until = Instant::now() + Duration::from_secs(20);
    let (status, attempts, error) = loop {
        let row: Option<(String, i32, Option<String>)> = sqlx::query_as(
            "select status, attempts, last_error from identity.mail_deliveries where recipient = 'bounce.me@example.org'",
        )
        .fetch_optional(&app.admin)
        .await
        .unwrap();
        if let Some(r) = row {
            break r;
        }
        assert!(Instant::now() < until, "no delivery record");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, "bounced");
    assert!(error.as_deref().is_some_and(|e| e.contains("550")), "{error:?}");
    // Not retried: the event was acknowledged with its bounce.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again: i32 =
        sqlx::query_scalar("select attempts from identity.mail_deliveries where recipient = 'bounce.me@example.org'")
            .fetch_one(&app.admin)
            .await
            .unwrap();
    assert_eq!((attempts, again), (1, 1));
    assert!(smtp.messages().is_empty());
}
