//! `TestApp`: the public subgraph on a free port against a fresh database,
//! with tokens signed by an identity key ring it trusts, and procurement
//! fixtures made through the API. Deadlines pass by moving the tender's
//! deadline into the past as the database admin: production code keeps
//! reading the database clock.

use std::ops::Deref;

use platform::{Role, Vertical};
use public::Public;
use serde_json::{json, Value};
use testkit::Caller;
use uuid::Uuid;

pub use testkit::code;

pub struct TestApp(testkit::App<Public>);

impl Deref for TestApp {
    type Target = testkit::App<Public>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// An organization of the public vertical and a user of it.
#[derive(Clone, Copy, Debug)]
pub struct Who {
    pub org: Uuid,
    pub user: Uuid,
}

impl Who {
    pub fn new() -> Self {
        Who {
            org: Uuid::new_v4(),
            user: Uuid::new_v4(),
        }
    }
    /// Another user of the same organization.
    pub fn colleague(self) -> Self {
        Who {
            org: self.org,
            user: Uuid::new_v4(),
        }
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self(testkit::App::spawn().await)
    }

    pub fn token_with(&self, who: Who, roles: &[Role], verticals: &[Vertical]) -> String {
        self.0.kit.token(&Caller::user(who.org, who.user, roles, verticals))
    }

    pub fn token(&self, who: Who, role: Role) -> String {
        self.token_with(who, &[role], &[Vertical::Public])
    }

    pub async fn gql(&self, query: &str, vars: Value, token: &str) -> Value {
        self.0.kit.gql(query, vars, Some(token)).await
    }

    pub async fn ok(&self, query: &str, vars: Value, token: &str) -> Value {
        let r = self.gql(query, vars, token).await;
        assert!(r["errors"].is_null(), "unexpected errors: {r}");
        r["data"].clone()
    }

    /// The buyer's OCDS identity, needed to publish.
    pub async fn buyer(&self, buyer: Who) {
        let t = self.token(buyer, Role::ProcurementOfficer);
        self.ok(
            "mutation($i: RegisterBuyerInput!) { registerBuyer(input: $i) { legalName } }",
            json!({ "i": { "legalName": format!("Buyer {}", &buyer.org.to_string()[..8]), "identifierScheme": "FR-SIRET",
                           "identifierId": "21690123100011" } }),
            &t,
        )
        .await;
    }

    /// A published tender of `buyer` in EUR, closing in a day, with `lots` lots.
    pub async fn tender(&self, buyer: Who, reference: &str, lots: usize) -> Uuid {
        self.buyer(buyer).await;
        let t = self.token(buyer, Role::ProcurementOfficer);
        let lots: Vec<Value> = (1..=lots)
            .map(|i| json!({ "title": format!("Lot {i}"), "estimatedValue": 100_000 * i }))
            .collect();
        let d = self
            .ok(
                "mutation($i: CreateTenderInput!) { createTender(input: $i) { id } }",
                json!({ "i": {
                    "reference": reference, "title": format!("Tender {reference}"), "procurementMethod": "OPEN",
                    "mainCategory": "SERVICES", "cpvCodes": ["90910000"],
                    "estimatedValue": { "amount": 500_000, "currency": "EUR" },
                    "submissionDeadline": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339(),
                    "lots": lots
                } }),
                &t,
            )
            .await;
        let id = d["createTender"]["id"].as_str().expect("id").to_string();
        self.ok(
            "mutation($id: ID!) { publishTender(id: $id) { id } }",
            json!({ "id": id }),
            &t,
        )
        .await;
        Uuid::parse_str(&id).expect("uuid")
    }

    pub async fn lots(&self, tender: Uuid) -> Vec<Uuid> {
        sqlx::query_scalar("select id from procurement.lots where tender_id = $1 order by number")
            .bind(tender)
            .fetch_all(&self.admin)
            .await
            .expect("lots")
    }

    /// A supplier profile for `who`'s organization, with a document expiring in `days`.
    pub async fn supplier(&self, who: Who, name: &str, days: i64) {
        let t = self.token(who, Role::SupplierAdmin);
        self.ok(
            "mutation($i: RegisterSupplierInput!) { registerSupplier(input: $i) { id } }",
            json!({ "i": { "legalName": name, "registrationNumber": format!("RCS-{name}"), "taxId": format!("TAX-{name}"),
                           "certificationLevel": "QUALIFIED" } }),
            &t,
        )
        .await;
        let expires = (chrono::Utc::now() + chrono::Duration::days(days)).date_naive();
        self.ok(
            "mutation($i: AddComplianceDocumentInput!) { addComplianceDocument(input: $i) { id } }",
            json!({ "i": { "kind": "TAX_CLEARANCE", "title": "Attestation", "expiresOn": expires.to_string() } }),
            &t,
        )
        .await;
    }

    /// Creates a bid (and submits it) as a supplier user of `who`'s organization.
    pub async fn try_bid(&self, who: Who, tender: Uuid, lot: Option<Uuid>, amount: i64, currency: &str) -> Value {
        let t = self.token(who, Role::SupplierUser);
        let r = self
            .gql(
                "mutation($i: CreateBidInput!) { createBid(input: $i) { id status } }",
                json!({ "i": { "tenderId": tender, "lotId": lot, "amount": { "amount": amount, "currency": currency },
                               "technicalSummary": "Our offer" } }),
                &t,
            )
            .await;
        if !r["errors"].is_null() {
            return r;
        }
        let id = r["data"]["createBid"]["id"].clone();
        self.gql(
            "mutation($id: ID!) { submitBid(id: $id) { id status } }",
            json!({ "id": id }),
            &t,
        )
        .await
    }

    pub async fn bid(&self, who: Who, tender: Uuid, lot: Option<Uuid>, amount: i64) -> Uuid {
        let r = self.try_bid(who, tender, lot, amount, "EUR").await;
        assert!(r["errors"].is_null(), "bid refused: {r}");
        Uuid::parse_str(r["data"]["submitBid"]["id"].as_str().expect("id")).expect("uuid")
    }

    /// `GET <path>`: status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.expect("json"))
    }

    /// The tender's deadline, a minute ago (by the database clock).
    pub async fn pass_deadline(&self, tender: Uuid) {
        sqlx::query(
            "update procurement.tenders set submission_deadline = now() - interval '1 minute', enquiry_deadline = null
              where id = $1",
        )
        .bind(tender)
        .execute(&self.admin)
        .await
        .expect("move the deadline");
    }

    /// `select count(*)` of `sql` as the service's login role, scoped like
    /// `who` with `roles`: RLS alone, the guards out of the way.
    pub async fn count_as(&self, who: Who, roles: &str, sql: &str) -> i64 {
        testkit::tenancy::count_scoped(&self.admin, "hub_public", who.org, who.user, roles, "public", sql).await
    }
}
