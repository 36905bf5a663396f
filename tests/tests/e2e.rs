//! End to end through the real router: every request below goes through the
//! hub-router binary to the real subgraph binaries.

use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};

use hub_e2e::{Platform, RouterOptions, ROUTER_SECRET};
use serde_json::{json, Value};

fn code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

/// A patient and an appointment with Dr Alice, booked by the desk of clinic A.
async fn book(p: &Platform, r: &hub_e2e::Router) {
    let desk = p.login(r, "clinic-a", "desk@a.example").await;
    let (_, d) = p
        .post(
            r,
            json!({ "query": "mutation { createPatient(input: { mrn: \"E2E-1\", givenName: \"Eve\", familyName: \"Moreau\", birthDate: \"1990-01-01\", sex: FEMALE }) { id } }" }),
            Some(&desk),
        )
        .await;
    let patient = d["data"]["createPatient"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{d}"))
        .to_string();
    let (_, d) = p
        .post(
            r,
            json!({ "query": "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id } }",
                    "variables": { "i": { "patientId": patient, "practitionerId": p.tenants.doctor_a,
                                          "startsAt": "2030-05-06T09:00:00Z", "endsAt": "2030-05-06T09:30:00Z" } } }),
            Some(&desk),
        )
        .await;
    assert!(d["errors"].is_null(), "{d}");
}

const SCHEDULE: &str = "{ me { displayName schedule(from: \"2030-05-01T00:00:00Z\", to: \"2030-06-01T00:00:00Z\") { startsAt patient { familyName } practitioner { displayName } } } }";

#[tokio::test]
async fn a_user_logs_in_and_joins_data_across_subgraphs_through_the_router() {
    let p = Platform::start().await;
    let r = p.router(RouterOptions::default()).await;
    book(&p, &r).await;
    let doc = p.login(&r, "clinic-a", "doc@a.example").await;
    let (status, d) = p.post(&r, json!({ "query": SCHEDULE }), Some(&doc)).await;
    assert_eq!(status, 200);
    assert_eq!(
        d["data"],
        json!({ "me": { "displayName": "Dr Alice", "schedule": [
            { "startsAt": "2030-05-06T09:00:00+00:00", "patient": { "familyName": "Moreau" }, "practitioner": { "displayName": "Dr Alice" } }
        ] } })
    );
    let desk = p.login(&r, "clinic-a", "desk@a.example").await;
    let (_, d) = p
        .post(&r, json!({ "query": "{ appointments { edges { node { patient { familyName } practitioner { id displayName } } } } }" }), Some(&desk))
        .await;
    assert_eq!(
        d["data"]["appointments"]["edges"][0]["node"]["practitioner"]["displayName"], "Dr Alice",
        "{d}"
    );
}

#[tokio::test]
async fn partners_run_persisted_operations_by_id_only() {
    let p = Platform::start().await;
    let body = "query Org { currentOrganization { name } }";
    let ids = p.persist(&[body]);
    let r = p.router(RouterOptions::default()).await;
    let token = p
        .http
        .post(format!("{}/oauth/token", p.url("identity")))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &p.tenants.partner_client_id),
            ("client_secret", &p.tenants.partner_secret),
        ])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .expect("partner token")
        .to_string();

    let by_hash = json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": ids[0] } } });
    let (status, d) = p.post(&r, by_hash, Some(&token)).await;
    assert_eq!(
        (status, &d["data"]),
        (200, &json!({ "currentOrganization": { "name": "Clinic clinic-a" } })),
        "{d}"
    );
    let (_, d) = p.post(&r, json!({ "documentId": ids[0] }), Some(&token)).await;
    assert_eq!(d["data"]["currentOrganization"]["name"], "Clinic clinic-a", "{d}");

    let (status, d) = p.post(&r, json!({ "query": body }), Some(&token)).await;
    assert_eq!((status, code(&d)), (400, Some("PERSISTED_QUERY_ID_REQUIRED")), "{d}");
    let (_, d) = p.post(&r, json!({ "documentId": "0".repeat(64) }), Some(&token)).await;
    assert_eq!(code(&d), Some("PERSISTED_QUERY_NOT_IN_LIST"));
    let doc = p.login(&r, "clinic-a", "doc@a.example").await;
    let (_, d) = p
        .post(
            &r,
            json!({ "documentId": ids[0], "query": "{ me { id } }" }),
            Some(&doc),
        )
        .await;
    assert_eq!(code(&d), Some("CANNOT_SEND_PQ_ID_AND_BODY"));

    // The manifest reloads while the router runs.
    let new = "query Me2 { currentOrganization { id } }";
    let ids = p.persist(&[body, new]);
    let mut ok = false;
    for _ in 0..40 {
        let (_, d) = p.post(&r, json!({ "documentId": ids[1] }), Some(&token)).await;
        if d["errors"].is_null() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(ok, "the new operation became available without a restart");
}

#[tokio::test]
async fn first_party_ad_hoc_operations_follow_the_configuration() {
    let p = Platform::start().await;
    let ids = p.persist(&["query Me { me { displayName } }"]);
    let strict = p
        .router(RouterOptions {
            allow_ad_hoc: false,
            ..Default::default()
        })
        .await;
    let (status, d) = p.post(&strict, json!({ "query": "{ __typename }" }), None).await;
    assert_eq!((status, code(&d)), (400, Some("PERSISTED_QUERY_ID_REQUIRED")));
    let login = p
        .login(&p.router(RouterOptions::default()).await, "clinic-a", "doc@a.example")
        .await;
    let (_, d) = p.post(&strict, json!({ "documentId": ids[0] }), Some(&login)).await;
    assert_eq!(d["data"]["me"]["displayName"], "Dr Alice", "{d}");
}

#[tokio::test]
async fn forged_tokens_are_refused_at_the_edge_before_any_subgraph_is_called() {
    let p = Platform::start().await;
    let r = p.router(RouterOptions::default()).await;
    let good = p.login(&r, "clinic-a", "doc@a.example").await;
    let before = p.subgraph_requests_total().await;
    let parts: Vec<&str> = good.split('.').collect();
    let alg_none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", parts[1]);
    let stranger = platform::keys::KeyRing::from_pems(&[platform::keys::generate_ed25519_pem().unwrap()]).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let foreign = stranger.sign(&claims).unwrap();
    let tampered = format!("{}.{}.{}", parts[0], parts[1], "A".repeat(parts[2].len()));
    for (name, token) in [
        ("alg none", alg_none),
        ("unknown key", foreign),
        ("bad signature", tampered),
        ("garbage", "x".into()),
    ] {
        let (status, d) = p.post(&r, json!({ "query": "{ me { id } }" }), Some(&token)).await;
        assert_eq!((status, code(&d)), (401, Some("UNAUTHENTICATED")), "{name}: {d}");
    }
    let after = p.subgraph_requests_total().await;
    assert_eq!(before, after, "no subgraph saw a forged token");
}

#[tokio::test]
async fn spoofed_internal_headers_are_dropped_and_subgraphs_refuse_direct_calls() {
    let p = Platform::start().await;
    let r = p.router(RouterOptions::default()).await;
    // Direct calls without the router's secret are refused.
    let direct = p
        .http
        .post(format!("{}/graphql", p.url("identity")))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 403);
    // A client cannot send its own secret or internal headers through the router:
    // they are replaced, and the call works as any other.
    let (status, d) = p
        .post_with(
            &r,
            json!({ "query": "{ __typename }" }),
            None,
            &[("x-hub-router-secret", "guess"), ("x-hub-organization", "someone-else")],
        )
        .await;
    assert_eq!((status, &d["data"]), (200, &json!({ "__typename": "Query" })), "{d}");
    let with_secret = p
        .http
        .post(format!("{}/graphql", p.url("identity")))
        .header("x-hub-router-secret", ROUTER_SECRET)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(with_secret.status(), 200, "the secret is what the subgraph checks");
}

#[tokio::test]
async fn cross_site_requests_are_refused() {
    let p = Platform::start().await;
    let r = p.router(RouterOptions::default()).await;
    let get = p
        .http
        .get(&r.url)
        .query(&[("query", "mutation { logout }")])
        .send()
        .await
        .unwrap();
    let (status, body): (u16, Value) = (get.status().as_u16(), get.json().await.unwrap_or(Value::Null));
    assert_eq!((status, code(&body)), (400, Some("CSRF_ERROR")), "{body}");
    let text_plain = p
        .http
        .post(&r.url)
        .header("content-type", "text/plain")
        .body(json!({ "query": "mutation { logout }" }).to_string())
        .send()
        .await
        .unwrap();
    let (status, body): (u16, Value) = (
        text_plain.status().as_u16(),
        text_plain.json().await.unwrap_or(Value::Null),
    );
    assert_eq!((status, code(&body)), (400, Some("CSRF_ERROR")), "{body}");
}

#[tokio::test]
async fn operations_over_the_limits_are_refused_before_planning() {
    let p = Platform::start().await;
    let r = p.router(RouterOptions::default()).await;
    let nested = "{ currentOrganization { members { edges { node { user { schedule(from: \"2030-01-01T00:00:00Z\", to: \"2030-01-02T00:00:00Z\") { patient { notes { patient { notes { patient { notes { patient { id } } } } } } } } } } } } } }";
    let aliases: String = (0..31).map(|i| format!("a{i}: __typename ")).collect();
    let roots: String = (0..21).map(|i| format!("r{i}: __typename ")).collect();
    for (q, expected) in [
        (nested.to_string(), "MAX_DEPTH_LIMIT"),
        (format!("{{ me {{ id }} {aliases} }}"), "MAX_ALIASES_LIMIT"),
        (
            format!("{{ {roots} }}").replace("r0: __typename r1: __typename", "__typename me { id }"),
            "MAX_ROOT_FIELDS_LIMIT",
        ),
    ] {
        let (status, d) = p.post(&r, json!({ "query": q }), None).await;
        assert_eq!((status, code(&d)), (400, Some(expected)), "{q}: {d}");
    }
}

#[tokio::test]
async fn callers_over_their_rate_get_429_and_then_recover() {
    let p = Platform::start().await;
    let r = p
        .router(RouterOptions {
            client_per_second: 2,
            client_burst: 2,
            ..Default::default()
        })
        .await;
    let token = p
        .login(&p.router(RouterOptions::default()).await, "clinic-a", "doc@a.example")
        .await;
    let mut limited = None;
    for _ in 0..10 {
        let resp = p
            .http
            .post(&r.url)
            .bearer_auth(&token)
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        if resp.status() == 429 {
            let retry = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body: Value = resp.json().await.unwrap();
            limited = Some((retry, body));
            break;
        }
    }
    let (retry, body) = limited.expect("limited within 10 requests");
    assert_eq!(code(&body), Some("RATE_LIMITED"));
    assert_eq!(retry.as_deref(), Some("1"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _) = p.post(&r, json!({ "query": "{ __typename }" }), Some(&token)).await;
    assert_eq!(status, 200, "the caller recovers at the sustained rate");
}

/// Anonymous `{ __typename }` requests, each with the `X-Forwarded-For`
/// that `xff(i)` gives, until one is refused: (requests that passed, the
/// refused one's Retry-After).
async fn anonymous_until_limited(
    p: &Platform,
    r: &hub_e2e::Router,
    xff: impl Fn(usize) -> Option<String>,
) -> Option<(usize, u64)> {
    for i in 0..20 {
        let mut req = p.http.post(&r.url).json(&json!({ "query": "{ __typename }" }));
        if let Some(v) = xff(i) {
            req = req.header("x-forwarded-for", v);
        }
        let resp = req.send().await.unwrap();
        if resp.status() == 429 {
            let retry = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()?.parse().ok());
            let body: Value = resp.json().await.unwrap();
            assert_eq!(code(&body), Some("RATE_LIMITED"), "{body}");
            return Some((i, retry.expect("Retry-After on a 429")));
        }
        assert_eq!(resp.status(), 200);
    }
    None
}

#[tokio::test]
async fn a_spoofed_x_forwarded_for_does_not_escape_the_anonymous_limit() {
    let p = Platform::start().await;
    let token = p
        .login(&p.router(RouterOptions::default()).await, "clinic-a", "doc@a.example")
        .await;

    // No trusted proxy: the header is the client's own word, so anonymous
    // callers share one budget whatever they write there.
    let direct = p.router(RouterOptions::default().anonymous_rate(1, 3)).await;
    let (passed, _) = anonymous_until_limited(&p, &direct, |i| Some(format!("198.51.100.{i}")))
        .await
        .expect("rotating X-Forwarded-For values were never limited");
    assert!(passed >= 3, "the burst passes first ({passed})");
    let (status, _) = p
        .post(&direct, json!({ "query": "{ __typename }" }), Some(&token))
        .await;
    assert_eq!(status, 200, "a signed-in user does not draw on the anonymous budget");

    // Behind one trusted proxy, the proxy's entry (the rightmost) is the
    // client; whatever the client put left of it changes nothing.
    let proxied = p
        .router(RouterOptions::default().trusted_proxy_hops(1).client_rate(1, 3))
        .await;
    let (passed, retry) = anonymous_until_limited(&p, &proxied, |i| Some(format!("198.51.100.{i}, 203.0.113.7")))
        .await
        .expect("a client rotating the spoofed part was never limited");
    assert!(passed >= 3, "the burst passes first ({passed})");
    let neighbour = [("x-forwarded-for", "203.0.113.8")];
    let (status, _) = p
        .post_with(&proxied, json!({ "query": "{ __typename }" }), None, &neighbour)
        .await;
    assert_eq!(status, 200, "another user behind the same proxy is not limited");
    tokio::time::sleep(Duration::from_secs(retry)).await;
    let same = [("x-forwarded-for", "203.0.113.7")];
    let (status, _) = p
        .post_with(&proxied, json!({ "query": "{ __typename }" }), None, &same)
        .await;
    assert_eq!(status, 200, "the limited address gets through again after the window");
}

#[tokio::test]
async fn with_a_subgraph_down_the_rest_of_the_answer_still_arrives() {
    let mut p = Platform::start().await;
    let r = p.router(RouterOptions::default()).await;
    book(&p, &r).await;
    let doc = p.login(&r, "clinic-a", "doc@a.example").await;
    p.kill("medical");
    let (status, d) = p.post(&r, json!({ "query": SCHEDULE }), Some(&doc)).await;
    assert_eq!(status, 200);
    assert_eq!(
        d["data"]["me"]["displayName"], "Dr Alice",
        "identity's part is there: {d}"
    );
    assert!(
        d["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "the missing part is reported: {d}"
    );
    assert!(
        !d.to_string().contains("Connection refused"),
        "subgraph errors are redacted: {d}"
    );
}

#[tokio::test]
async fn tenants_stay_isolated_through_the_router() {
    let p = Platform::start().await;
    let r = p.router(RouterOptions::default()).await;
    book(&p, &r).await;
    let doc_b = p.login(&r, "clinic-b", "doc@b.example").await;
    let (_, d) = p
        .post(
            &r,
            json!({ "query": "{ appointments { edges { node { id } } } patients { edges { node { id } } } }" }),
            Some(&doc_b),
        )
        .await;
    assert_eq!(
        d["data"],
        json!({ "appointments": { "edges": [] }, "patients": { "edges": [] } }),
        "{d}"
    );
    // Another organization's practitioner resolves, but their schedule here is empty.
    let q = format!("{{ organization(id: \"{}\") {{ name }} }}", p.tenants.org_a);
    let (_, d) = p.post(&r, json!({ "query": q }), Some(&doc_b)).await;
    assert_eq!(d["data"]["organization"]["name"], "Clinic clinic-a");
    // _entities is not part of the public API.
    let (_, d) = p
        .post(&r, json!({ "query": "{ _entities(representations: [{ __typename: \"Patient\", id: \"x\" }]) { __typename } }" }), Some(&doc_b))
        .await;
    assert!(d["data"].is_null() && d["errors"].is_array(), "{d}");
}

#[tokio::test]
async fn a_bad_input_reaches_the_client_with_its_message_in_the_callers_language() {
    let p = Platform::start().await;
    let r = p.router(RouterOptions::default()).await;
    let desk = p.login(&r, "clinic-a", "desk@a.example").await;
    // An appointment that ends before it starts: the medical subgraph refuses it.
    let body = json!({ "query": "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id } }",
                       "variables": { "i": { "patientId": uuid::Uuid::new_v4(), "practitionerId": p.tenants.doctor_a,
                                             "startsAt": "2030-05-06T10:00:00Z", "endsAt": "2030-05-06T09:00:00Z" } } });
    let mut messages = vec![];
    for (lang, expected) in [
        ("en", "Invalid value for endsAt: must be after startsAt."),
        (
            "fr-FR,fr;q=0.9",
            "Valeur invalide pour endsAt : doit être postérieur à startsAt.",
        ),
        ("de", "Ungültiger Wert für endsAt: muss nach startsAt liegen."),
    ] {
        let (status, d) = p
            .post_with(&r, body.clone(), Some(&desk), &[("accept-language", lang)])
            .await;
        assert_eq!(status, 200, "{d}");
        assert_eq!(code(&d), Some("BAD_USER_INPUT"), "{d}");
        assert_eq!(d["errors"][0]["extensions"]["field"], "endsAt", "{d}");
        assert_eq!(d["errors"][0]["message"], expected, "{lang}: {d}");
        messages.push(d["errors"][0]["message"].clone());
    }
    messages.dedup();
    assert_eq!(messages.len(), 3);
}

/// graphql-js's `getIntrospectionQuery()`, as GraphiQL, graphql-codegen and
/// Apollo Sandbox send it.
const STANDARD_INTROSPECTION: &str = include_str!("../../edge/tests/introspection.graphql");

#[tokio::test]
async fn tools_load_the_schema_in_development_and_not_in_production() {
    let p = Platform::start().await;
    let dev = p.router(RouterOptions::default().introspection(true)).await;
    let (status, d) = p.post(&dev, json!({ "query": STANDARD_INTROSPECTION }), None).await;
    assert_eq!(status, 200, "{d}");
    assert!(d["errors"].is_null(), "{d}");
    let types: Vec<&str> = d["data"]["__schema"]["types"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(types.contains(&"Patient") && types.contains(&"User"), "{types:?}");
    // A deeper introspection than any tool sends is still refused.
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType { ".repeat(25),
        "} ".repeat(25)
    );
    let (status, d) = p.post(&dev, json!({ "query": deep }), None).await;
    assert_eq!((status, code(&d)), (400, Some("MAX_DEPTH_LIMIT")), "{d}");

    let prod = p.router(RouterOptions::default().introspection(false)).await;
    let (_, d) = p.post(&prod, json!({ "query": STANDARD_INTROSPECTION }), None).await;
    assert!(d["data"].is_null() || d["data"]["__schema"].is_null(), "{d}");
    assert!(d["errors"].is_array(), "{d}");
    assert!(!d.to_string().contains("Patient"), "{d}");
}

#[tokio::test]
async fn one_request_id_follows_a_request_through_both_subgraphs_into_the_logs_and_the_audit_trail() {
    let p = Platform::start().await;
    let r = p.router(RouterOptions::default()).await;
    book(&p, &r).await;
    let doc = p.login(&r, "clinic-a", "doc@a.example").await;
    let send = |id: &'static str, body: Value| {
        let req = p
            .http
            .post(&r.url)
            .bearer_auth(&doc)
            .header("x-request-id", id)
            .json(&body);
        async move {
            let resp = req.send().await.expect("router");
            let header = resp
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            (header, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // One federated read: identity's `me`, medical's `schedule`.
    let (header, d) = send("trace-read-1", json!({ "query": SCHEDULE })).await;
    assert!(d["errors"].is_null(), "{d}");
    assert_eq!(header.as_deref(), Some("trace-read-1"));
    // One write: its audit row carries the id.
    let (header, d) = send(
        "trace-write-1",
        json!({ "query": "mutation { createPatient(input: { mrn: \"TR-1\", givenName: \"Tom\", familyName: \"Trace\", birthDate: \"1980-01-01\", sex: MALE }) { id } }" }),
    )
    .await;
    assert_eq!(header.as_deref(), Some("trace-write-1"));
    let id = d["data"]["createPatient"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{d}"))
        .to_string();
    let audited: String = sqlx::query_scalar(
        "select request_id from medical.audit_log where action = 'patient.create' and entity_id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&p.admin)
    .await
    .expect("audit row");
    assert_eq!(audited, "trace-write-1");
    // Both subgraphs logged the federated read under the client's id.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for name in ["identity", "medical"] {
        let log = std::fs::read_to_string(&p.subgraph(name).proc.log).unwrap_or_default();
        assert!(log.contains("trace-read-1"), "{name} log lacks the request id:\n{log}");
    }
    // A malformed id is replaced, never echoed.
    let (header, _) = send("two words", json!({ "query": "{ __typename }" })).await;
    let header = header.unwrap_or_default();
    assert!(uuid::Uuid::parse_str(&header).is_ok(), "{header}");
}

#[tokio::test]
async fn a_buyer_lists_tenders_with_their_buyers_names_and_a_supplier_sees_only_its_own_bid() {
    use identity::seed::DEMO_PASSWORD;
    let p = Platform::start().await;
    p.seed_demo().await;
    let r = p.router(RouterOptions::default()).await;
    let buyer = p
        .login_with(&r, "ville-de-lyon", "buyer@ville-de-lyon.example", DEMO_PASSWORD)
        .await;
    let (status, d) = p
        .post(
            &r,
            json!({ "query": "{ tenders(status: PUBLISHED) { nodes { id reference buyer { name } bidCount bids { id } lots { number } } } }" }),
            Some(&buyer),
        )
        .await;
    assert_eq!(status, 200);
    let open = &d["data"]["tenders"]["nodes"][0];
    assert_eq!(open["reference"], "VDL-2026-002", "{d}");
    assert_eq!(open["buyer"]["name"], "Ville de Lyon", "the name comes from identity");
    assert_eq!(open["bidCount"], 2);
    assert_eq!(open["bids"], json!([]), "sealed until the deadline");
    let tender = open["id"].as_str().expect("id").to_string();

    let acme = p
        .login_with(&r, "acme-fournitures", "sales@acme-fournitures.example", DEMO_PASSWORD)
        .await;
    let q = json!({ "query": "query($id: ID!) { tender(id: $id) { bids { amount { amount } supplier { legalName organization { name } } } } }",
                    "variables": { "id": tender } });
    let (_, d) = p.post(&r, q.clone(), Some(&acme)).await;
    assert_eq!(
        d["data"]["tender"]["bids"],
        json!([{ "amount": { "amount": 19_500_000 }, "supplier": { "legalName": "ACME Fournitures SAS", "organization": { "name": "ACME Fournitures" } } }]),
        "{d}"
    );
    let bati = p
        .login_with(&r, "bati-sud", "sales@bati-sud.example", DEMO_PASSWORD)
        .await;
    let (_, d) = p.post(&r, q, Some(&bati)).await;
    assert_eq!(d["data"]["tender"]["bids"][0]["supplier"]["legalName"], "Bati Sud SARL");
    assert_eq!(d["data"]["tender"]["bids"].as_array().map(Vec::len), Some(1));
    // identity's Organization gains its supplier profile through the supergraph.
    let (_, d) = p
        .post(&r, json!({ "query": "{ currentOrganization { name supplierProfile { registrationNumber complianceStatus } } }" }), Some(&bati))
        .await;
    assert_eq!(
        d["data"]["currentOrganization"],
        json!({ "name": "Bati Sud", "supplierProfile": { "registrationNumber": "RCS-MARS-798765432", "complianceStatus": "COMPLIANT" } }),
        "{d}"
    );
}

#[tokio::test]
async fn documents_join_patients_and_tenders_and_download_from_the_content_service() {
    use identity::seed::DEMO_PASSWORD;
    let p = Platform::start().await;
    p.seed_demo().await;
    let r = p.router(RouterOptions::default()).await;
    let docs = p.demo_patient_documents(&r).await;
    let classes: Vec<_> = docs.iter().map(|n| n["classification"].clone()).collect();
    assert_eq!(classes, vec![json!("CLINICAL"), json!("ADMINISTRATIVE")], "{docs:?}");
    // The bytes come from the content service itself, not through the router.
    let url = docs[0]["currentVersion"]["downloadUrl"].as_str().expect("url");
    assert!(url.starts_with(p.url("content")), "{url}");
    let bytes = reqwest::get(url).await.expect("download").bytes().await.expect("bytes");
    assert!(bytes.starts_with(b"%PDF"), "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(
        platform::crypto::sha256_hex_bytes(&bytes),
        docs[0]["currentVersion"]["sha256"].as_str().unwrap()
    );

    // A supplier reads the open tender's public specifications, not the buyer's internal grid.
    let acme = p
        .login_with(&r, "acme-fournitures", "sales@acme-fournitures.example", DEMO_PASSWORD)
        .await;
    let (_, d) = p
        .post(
            &r,
            json!({ "query": "{ tenders(status: PUBLISHED) { nodes { reference documents { nodes { title classification } } } } }" }),
            Some(&acme),
        )
        .await;
    let tenders = d["data"]["tenders"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{d}"));
    let open = tenders
        .iter()
        .find(|t| t["reference"] == "VDL-2026-002")
        .expect("VDL-2026-002");
    assert_eq!(
        open["documents"]["nodes"],
        json!([{ "title": "Cahier des clauses techniques particulières", "classification": "PROCUREMENT_PUBLIC" }]),
        "{d}"
    );
    let buyer = p
        .login_with(&r, "ville-de-lyon", "buyer@ville-de-lyon.example", DEMO_PASSWORD)
        .await;
    let (_, d) = p
        .post(
            &r,
            json!({ "query": "{ tenders(status: PUBLISHED) { nodes { reference documents { nodes { classification } } } } }" }),
            Some(&buyer),
        )
        .await;
    let tenders = d["data"]["tenders"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{d}"));
    let open = tenders
        .iter()
        .find(|t| t["reference"] == "VDL-2026-002")
        .expect("VDL-2026-002");
    assert_eq!(open["documents"]["nodes"].as_array().map(Vec::len), Some(2), "{d}");
}

/// A booking through the router reaches the `medical.appointment` stream:
/// written to the outbox with the booking, moved by the medical service's
/// relay, with the envelope consumers read (tenant, type, version, request id).
#[tokio::test]
async fn a_booking_reaches_its_event_stream() {
    let p = Platform::start().await;
    let r = p.router(RouterOptions::default()).await;
    book(&p, &r).await;
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{}:medical.appointment", p.events_prefix);
    let mut entries: Vec<(String, Vec<String>)> = vec![];
    for _ in 0..50 {
        entries = redis::cmd("XRANGE")
            .arg(&key)
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .unwrap();
        if !entries.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(entries.len(), 1, "{key}: {entries:?}");
    let fields = &entries[0].1;
    let field = |name: &str| {
        fields
            .chunks(2)
            .find(|c| c[0] == name)
            .map(|c| c[1].clone())
            .unwrap_or_default()
    };
    assert_eq!(field("type"), "medical.appointment.scheduled");
    assert_eq!(field("version"), "1");
    assert_eq!(field("tenant"), p.tenants.org_a.to_string());
    assert!(
        !field("request_id").is_empty(),
        "the router's request id travels with the event"
    );
    let payload: Value = serde_json::from_str(&field("payload")).unwrap();
    assert_eq!(payload["startsAt"], "2030-05-06T09:00:00Z");
    assert_eq!(payload["practitionerId"], p.tenants.doctor_a.to_string());
    let _: () = redis::cmd("DEL").arg(&key).query_async(&mut conn).await.unwrap();
}

/// Medical learns who may be booked from identity's membership events: a
/// practitioner of another clinic and a nurse are refused; a member the
/// admin removes stops being bookable moments later, their booking flagged.
#[tokio::test]
async fn only_current_practitioners_of_the_clinic_can_be_booked() {
    let p = Platform::start().await;
    let r = p.router(RouterOptions::default()).await;
    book(&p, &r).await;
    let desk = p.login(&r, "clinic-a", "desk@a.example").await;
    let (_, d) = p
        .post(
            &r,
            json!({ "query": "{ patients { edges { node { id } } } }" }),
            Some(&desk),
        )
        .await;
    let patient = d["data"]["patients"]["edges"][0]["node"]["id"].clone();
    let booking = |practitioner: String, hour: u32| {
        json!({ "query": "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id } }",
                "variables": { "i": { "patientId": patient, "practitionerId": practitioner,
                    "startsAt": format!("2030-05-07T{hour:02}:00:00Z"), "endsAt": format!("2030-05-07T{hour:02}:30:00Z") } } })
    };
    for (who, message) in [
        (p.tenants.doctor_b, "is not a member of this organization"),
        (p.tenants.nurse_a, "is not a practitioner of this organization"),
    ] {
        let (_, d) = p.post(&r, booking(who.to_string(), 9), Some(&desk)).await;
        assert_eq!(code(&d), Some("BAD_USER_INPUT"), "{d}");
        assert_eq!(d["errors"][0]["extensions"]["field"], "practitionerId");
        assert!(d["errors"][0]["message"].as_str().unwrap().contains(message), "{d}");
    }

    let admin = p.login(&r, "clinic-a", "admin@a.example").await;
    let (_, d) = p
        .post(
            &r,
            json!({ "query": "mutation($u: ID!) { removeMember(userId: $u) }", "variables": { "u": p.tenants.doctor_a } }),
            Some(&admin),
        )
        .await;
    assert_eq!(d["data"]["removeMember"], true, "{d}");
    hub_e2e::wait_for(
        &p.admin,
        &format!(
            "select count(*) from medical.practitioners where user_id = '{}' and not active",
            p.tenants.doctor_a
        ),
        1,
    )
    .await;
    let (_, d) = p
        .post(&r, booking(p.tenants.doctor_a.to_string(), 11), Some(&desk))
        .await;
    assert_eq!(code(&d), Some("BAD_USER_INPUT"), "{d}");
    assert!(
        d["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no longer a member"),
        "{d}"
    );
    let (_, d) = p
        .post(
            &r,
            json!({ "query": "{ appointments { edges { node { status practitionerRemoved } } } }" }),
            Some(&desk),
        )
        .await;
    assert_eq!(
        d["data"]["appointments"]["edges"],
        json!([{ "node": { "status": "SCHEDULED", "practitionerRemoved": true } }]),
        "the existing booking stays, flagged"
    );
}

/// A supplier follows a tender in the public service; the buyer amends it;
/// identity hears of it from procurement's event stream and the supplier
/// finds the notification (and a mail) without any service reading another's data.
#[tokio::test]
async fn a_follower_is_notified_and_mailed_when_the_buyer_amends_the_tender() {
    use identity::seed::DEMO_PASSWORD;
    let p = Platform::start().await;
    p.seed_demo().await;
    let r = p.router(RouterOptions::default()).await;
    let bati = p
        .login_with(&r, "bati-sud", "sales@bati-sud.example", DEMO_PASSWORD)
        .await;
    let (_, d) = p
        .post(
            &r,
            json!({ "query": "{ tenders(status: PUBLISHED) { nodes { id reference } } }" }),
            Some(&bati),
        )
        .await;
    let tender = d["data"]["tenders"]["nodes"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["reference"] == "VDL-2026-002"))
        .unwrap_or_else(|| panic!("{d}"))["id"]
        .clone();
    let (_, d) = p
        .post(
            &r,
            json!({ "query": "mutation($id: ID!) { followTender(id: $id) { reference } }", "variables": { "id": tender } }),
            Some(&bati),
        )
        .await;
    assert_eq!(d["data"]["followTender"]["reference"], "VDL-2026-002", "{d}");
    let buyer = p
        .login_with(&r, "ville-de-lyon", "buyer@ville-de-lyon.example", DEMO_PASSWORD)
        .await;
    let (_, d) = p
        .post(
            &r,
            json!({ "query": "mutation($id: ID!, $i: AmendTenderInput!) { amendTender(id: $id, input: $i) { id } }",
                    "variables": { "id": tender, "i": { "title": "Entretien des espaces verts (lot unique)", "rationale": "Lots regroupés" } } }),
            Some(&buyer),
        )
        .await;
    assert!(d["errors"].is_null(), "{d}");

    let until = std::time::Instant::now() + Duration::from_secs(20);
    let notification = loop {
        let (_, d) = p
            .post_with(
                &r,
                json!({ "query": "{ notifications(unreadOnly: true) { nodes { kind message subjectId } } }" }),
                Some(&bati),
                &[("accept-language", "fr")],
            )
            .await;
        let found = d["data"]["notifications"]["nodes"]
            .as_array()
            .and_then(|n| n.iter().find(|n| n["kind"] == "TENDER_AMENDED").cloned());
        if let Some(n) = found {
            break n;
        }
        assert!(std::time::Instant::now() < until, "no notification after 20 s: {d}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(notification["subjectId"], tender);
    assert_eq!(
        notification["message"],
        "L'appel d'offres VDL-2026-002 « Entretien des espaces verts (lot unique) » a été modifié."
    );
    // Development mail: an .eml file per message, here in the platform's directory.
    let mails = p.dir.join(".hub/mail");
    let until = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found = std::fs::read_dir(&mails)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| std::fs::read_to_string(e.path()).is_ok_and(|m| m.contains("To: sales@bati-sud.example")));
        if found {
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "no mail to the follower in {}",
            mails.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
