//! `TestApp`: the medical subgraph on a free port against a fresh database,
//! with tokens signed by an identity key ring it trusts.

use std::ops::Deref;

use medical::Medical;
use platform::{Role, Vertical};
use serde_json::{json, Value};
use testkit::Caller;
use uuid::Uuid;

pub use testkit::code;

pub struct TestApp(testkit::App<Medical>);

impl Deref for TestApp {
    type Target = testkit::App<Medical>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// A caller: organization, user and roles.
#[derive(Clone, Copy)]
pub struct Who {
    pub org: Uuid,
    pub user: Uuid,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self(testkit::App::spawn().await)
    }

    /// On a database the test made, with its own settings on top.
    pub async fn spawn_in(db: testkit::TestDb, configure: impl FnOnce(figment::Figment) -> figment::Figment) -> Self {
        Self(testkit::App::spawn_in(db, configure).await)
    }

    /// An access token as identity would issue it.
    pub fn token_with(&self, who: Who, roles: &[Role], verticals: &[Vertical]) -> String {
        self.0.kit.token(&Caller::user(who.org, who.user, roles, verticals))
    }

    pub fn token(&self, who: Who, role: Role) -> String {
        self.token_with(who, &[role], &[Vertical::Medical])
    }

    pub async fn gql(&self, query: &str, vars: Value, token: &str) -> Value {
        self.0.kit.gql(query, vars, Some(token)).await
    }

    /// Runs a query that must succeed and returns `data`.
    pub async fn ok(&self, query: &str, vars: Value, token: &str) -> Value {
        let r = self.gql(query, vars, token).await;
        assert!(r["errors"].is_null(), "unexpected errors: {r}");
        r["data"].clone()
    }

    /// A patient created through the API by a secretary of `org`.
    pub async fn patient(&self, org: Uuid, mrn: &str, family: &str) -> Uuid {
        let t = self.token(
            Who {
                org,
                user: Uuid::new_v4(),
            },
            Role::Secretary,
        );
        let d = self
            .ok(
                "mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }",
                json!({ "i": {
                    "mrn": mrn, "givenName": "Alex", "familyName": family, "birthDate": "1980-05-17", "sex": "OTHER",
                    "contact": { "phone": "+33 6 11 22 33 44", "email": "alex@patient.example", "address": "1 rue Secrète" },
                    "insuranceNumber": "1 80 05 69 123 456"
                } }),
                &t,
            )
            .await;
        Uuid::parse_str(d["createPatient"]["id"].as_str().expect("id")).expect("uuid")
    }

    /// Makes `who` a member of their organization with `roles`, as
    /// identity's `identity.membership.added` event does through medical's
    /// consumer (the handler itself, without the stream).
    pub async fn enroll(&self, who: Who, roles: &[Role]) {
        let roles: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        self.membership_event(
            who,
            "identity.membership.added",
            json!({ "userId": who.user, "roles": roles, "displayName": "Dr Test" }),
        )
        .await;
    }

    /// Applies one identity membership event to medical's projection.
    pub async fn membership_event(&self, who: Who, kind: &str, payload: Value) {
        static SEQ: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
        let d = delivery(
            who.org,
            SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
            kind,
            1,
            payload,
        );
        self.apply(&d).await.unwrap();
    }

    /// Runs medical's practitioner consumer on `d`, in the event's tenant transaction.
    pub async fn apply(&self, d: &platform::events::Delivery) -> anyhow::Result<()> {
        let scope = platform::db::Scope {
            organization_id: d.tenant,
            ..Default::default()
        };
        let mut tx = platform::db::TenantTx::begin_scoped(&self.runtime.pool, &scope).await?;
        medical::practitioner::apply(&mut tx, d).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A new practitioner of `org`, known to medical.
    pub async fn practitioner(&self, org: Uuid) -> Uuid {
        let user = Uuid::new_v4();
        self.enroll(Who { org, user }, &[Role::Practitioner]).await;
        user
    }

    /// Books `practitioner` (enrolled as a practitioner of `org` first).
    /// Runs medical's mail consumer on every `kind` event of the outbox.
    pub async fn mail_all(&self, kind: &str) {
        for d in self.outbox(kind).await {
            let scope = platform::db::Scope {
                organization_id: d.tenant,
                ..Default::default()
            };
            let mut tx = platform::db::TenantTx::begin_scoped(&self.runtime.pool, &scope)
                .await
                .expect("tx");
            medical::communication::appointment_mail(&self.state, &mut tx, &d)
                .await
                .expect("mailed");
            tx.commit().await.expect("commit");
        }
    }

    pub async fn appointment(&self, org: Uuid, patient: Uuid, practitioner: Uuid, start_hour: u32) -> Value {
        self.enroll(
            Who {
                org,
                user: practitioner,
            },
            &[Role::Practitioner],
        )
        .await;
        let t = self.token(
            Who {
                org,
                user: Uuid::new_v4(),
            },
            Role::Secretary,
        );
        self.gql(
            "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id status } }",
            json!({ "i": {
                "patientId": patient, "practitionerId": practitioner,
                "startsAt": format!("2030-01-07T{start_hour:02}:00:00Z"), "endsAt": format!("2030-01-07T{start_hour:02}:30:00Z")
            } }),
            &t,
        )
        .await
    }
}

/// An identity event as the stream delivers it.
pub fn delivery(org: Uuid, seq: i64, kind: &str, version: i32, payload: Value) -> platform::events::Delivery {
    platform::events::Delivery {
        entry: "0-1".into(),
        id: Uuid::new_v4(),
        seq,
        kind: kind.into(),
        version,
        tenant: org,
        entity: None,
        occurred_at: String::new(),
        request_id: String::new(),
        traceparent: String::new(),
        payload,
    }
}

pub fn who() -> Who {
    Who {
        org: Uuid::new_v4(),
        user: Uuid::new_v4(),
    }
}
