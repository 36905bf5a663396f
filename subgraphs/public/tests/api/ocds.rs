//! OCDS publication: the releases of a whole process validate against the
//! official 1.1.5 package schemas (with the bids extension), carry the
//! right tags, reference only parties they contain, and say nothing about
//! bids before the deadline and nothing of tax ids ever.

use std::{collections::HashMap, path::PathBuf};

use platform::Role;
use serde_json::{json, Value};

use crate::helpers::*;

const BASE: &str = "https://standard.open-contracting.org/schema/1__1__5/";

fn read(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/ocds-1.1.5")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("schema file")).expect("schema json")
}

/// RFC 7386 JSON merge patch: how OCDS extensions amend the release schema.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

struct Local(HashMap<String, Value>);

impl jsonschema::Retrieve for Local {
    fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        self.0
            .get(uri.as_str())
            .cloned()
            .ok_or_else(|| format!("not vendored: {uri}").into())
    }
}

fn validator(package: &str) -> jsonschema::Validator {
    let mut release = read("release-schema.json");
    merge(&mut release, &read("bids-v1.1.5/release-schema.json"));
    let local = Local(HashMap::from([
        (format!("{BASE}release-schema.json"), release),
        (
            format!("{BASE}versioned-release-validation-schema.json"),
            read("versioned-release-validation-schema.json"),
        ),
    ]));
    jsonschema::options()
        .with_retriever(local)
        .should_validate_formats(true)
        .build(&read(package))
        .expect("compile the OCDS schema")
}

fn assert_valid(v: &jsonschema::Validator, doc: &Value) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "not valid OCDS: {errors:#?}\n{doc:#}");
}

/// Every `{id, name}` reference of a release resolves to one of its parties with the role.
fn assert_parties(release: &Value) {
    let parties = release["parties"].as_array().expect("parties");
    let has = |id: &Value, role: &str| {
        parties
            .iter()
            .any(|p| p["id"] == *id && p["roles"].as_array().is_some_and(|r| r.iter().any(|x| x == role)))
    };
    assert!(has(&release["buyer"]["id"], "buyer"), "{release:#}");
    assert!(has(&release["tender"]["procuringEntity"]["id"], "procuringEntity"));
    for t in release["tender"]["tenderers"].as_array().into_iter().flatten() {
        assert!(has(&t["id"], "tenderer"), "tenderer {t} is no party");
    }
    for b in release["bids"]["details"].as_array().into_iter().flatten() {
        for t in b["tenderers"].as_array().expect("tenderers") {
            assert!(has(&t["id"], "tenderer"));
        }
    }
    for a in release["awards"].as_array().into_iter().flatten() {
        for s in a["suppliers"].as_array().expect("suppliers") {
            assert!(has(&s["id"], "supplier"), "award supplier {s} is no supplier party");
        }
    }
    let awards: Vec<&Value> = release["awards"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| &a["id"])
        .collect();
    for c in release["contracts"].as_array().into_iter().flatten() {
        assert!(awards.contains(&&c["awardID"]), "contract {c} names no award");
    }
}

#[tokio::test]
async fn a_whole_process_is_published_as_valid_ocds_and_bids_stay_sealed_until_the_deadline() {
    let app = TestApp::spawn().await;
    let (buyer, acme, bati) = (Who::new(), Who::new(), Who::new());
    app.supplier(acme, "Acme", 200).await;
    app.supplier(bati, "Bati", 200).await;
    let tender = app.tender(buyer, "O-1", 2).await;
    let officer = app.token(buyer, Role::ProcurementOfficer);
    let later = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    app.ok(
        "mutation($id: ID!, $i: AmendTenderInput!) { amendTender(id: $id, input: $i) { id } }",
        json!({ "id": tender, "i": { "submissionDeadline": later, "rationale": "Site visit" } }),
        &officer,
    )
    .await;
    let lots = app.lots(tender).await;
    let b1 = app.bid(acme, tender, Some(lots[0]), 123_456).await;
    let b2 = app.bid(bati, tender, Some(lots[1]), 654_321).await;
    app.bid(bati, tender, Some(lots[0]), 777_777).await;

    // Before the deadline: a release package with nothing of the bids.
    let path = format!("/ocds/releases?buyer={}", buyer.org);
    let (status, sealed) = app.get(&path).await;
    assert_eq!(status, 200, "{sealed}");
    let text = sealed.to_string();
    for secret in [
        "123456",
        "1234.56",
        "654321",
        "6543.21",
        "TAX-Acme",
        "TAX-Bati",
        &b1.to_string(),
    ] {
        assert!(!text.contains(secret), "{secret} published before the deadline: {text}");
    }

    app.pass_deadline(tender).await;
    app.ok(
        "mutation($id: ID!) { closeTender(id: $id) { status } }",
        json!({ "id": tender }),
        &officer,
    )
    .await;
    let awarded = app
        .ok(
            "mutation($i: AwardTenderInput!) { awardTender(input: $i) { awards { contract { id } } } }",
            json!({ "i": { "tenderId": tender, "contractStart": "2027-01-01", "contractEnd": "2027-12-31",
                           "awards": [{ "lotId": lots[0], "bidId": b1 }, { "lotId": lots[1], "bidId": b2 }] } }),
            &officer,
        )
        .await;
    let contract = awarded["awardTender"]["awards"][0]["contract"]["id"].clone();
    app.ok(
        "mutation($id: ID!) { signContract(id: $id) { status } }",
        json!({ "id": contract }),
        &officer,
    )
    .await;

    let packages = validator("release-package-schema.json");
    let (_, package) = app.get(&path).await;
    assert_valid(&packages, &package);
    assert_eq!(package["version"], "1.1");
    let releases = package["releases"].as_array().expect("releases");
    let tags: Vec<&Value> = releases.iter().map(|r| &r["tag"]).collect();
    assert_eq!(
        tags,
        [
            &json!(["tender"]),
            &json!(["tenderAmendment"]),
            &json!(["tenderUpdate"]),
            &json!(["tenderUpdate", "award", "contract"]),
            &json!(["contractUpdate"])
        ]
    );
    let ocid = format!("ocds-hubdev-{tender}");
    let ids: Vec<&str> = releases.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids[0], format!("{ocid}-0001"));
    assert!(releases.iter().all(|r| r["ocid"] == ocid.as_str()));
    for r in releases {
        assert_parties(r);
    }
    // The first two were written before the deadline: sealed, whatever came later.
    assert!(releases[0].get("bids").is_none() && releases[1].get("bids").is_none());
    let last = releases.last().unwrap();
    assert_eq!(last["tender"]["status"], "complete");
    assert_eq!(last["tender"]["numberOfTenderers"], 2);
    assert_eq!(last["bids"]["statistics"][0]["value"], 3);
    assert_eq!(
        last["awards"][0]["value"],
        json!({ "amount": 1234.56, "currency": "EUR" })
    );
    assert_eq!(last["contracts"][0]["status"], "active");
    assert!(!package.to_string().contains("TAX-"), "tax ids are never published");

    let (status, record) = app.get(&format!("/ocds/records/{ocid}")).await;
    assert_eq!(status, 200);
    assert_valid(&validator("record-package-schema.json"), &record);
    let compiled = &record["records"][0]["compiledRelease"];
    assert_eq!(compiled["tag"], json!(["compiled"]));
    assert_eq!(compiled["contracts"][0]["status"], "active");
    assert_eq!(record["records"][0]["releases"].as_array().unwrap().len(), 5);

    let (status, _) = app
        .get("/ocds/records/ocds-hubdev-00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(status, 404);
    let (status, _) = app.get("/ocds/releases?since=yesterday").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn release_packages_page_with_links_next() {
    let app = TestApp::spawn().await;
    let buyer = Who::new();
    for i in 0..5 {
        app.tender(buyer, &format!("P-{i}"), 0).await;
    }
    let mut path = format!("/ocds/releases?buyer={}&limit=2", buyer.org);
    let mut seen = vec![];
    loop {
        let (status, page) = app.get(&path).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(page["releases"].as_array().unwrap().iter().map(|r| r["id"].clone()));
        match page["links"]["next"].as_str() {
            Some(next) => path = next.trim_start_matches("http://127.0.0.1:4004").to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique.len(), 5);
    let (_, none) = app.get(&format!("/ocds/releases?buyer={}", uuid::Uuid::new_v4())).await;
    assert_eq!(none["releases"], json!([]));
}

#[tokio::test]
async fn a_record_past_a_page_of_releases_links_them_and_stays_small() {
    let app = TestApp::spawn().await;
    let buyer = Who::new();
    let tender = app.tender(buyer, "R-LONG", 0).await;
    // A long-lived process: 120 more steps (as many amendments would make).
    sqlx::query(
        "insert into procurement.releases (organization_id, tender_id, seq, tags, released_at, body)
         select r.organization_id, r.tender_id, r.seq + g, array['tenderAmendment'], r.released_at + g * interval '1 minute', r.body
           from procurement.releases r, generate_series(1, 120) g where r.tender_id = $1",
    )
    .bind(tender)
    .execute(&app.admin)
    .await
    .expect("releases");
    let ocid = format!("ocds-hubdev-{tender}");
    let (status, record) = app.get(&format!("/ocds/records/{ocid}")).await;
    assert_eq!(status, 200, "{record}");
    assert_valid(&validator("record-package-schema.json"), &record);
    let releases = record["records"][0]["releases"].as_array().expect("releases");
    assert_eq!(releases.len(), 121, "every release is there");
    let linked: Vec<&Value> = releases.iter().filter(|r| r.get("url").is_some()).collect();
    assert_eq!(linked.len(), 121, "past a page, every release is linked, none embedded");
    assert!(record.to_string().len() < 200_000, "the answer stays small");
    assert_eq!(
        record["records"][0]["compiledRelease"]["date"],
        linked.last().expect("newest")["date"],
        "compiled from the newest"
    );
    // A linked release is one page away, by its own URL.
    let url = linked[0]["url"].as_str().expect("url");
    let path = url
        .split_once("/ocds/")
        .map(|(_, p)| format!("/ocds/{p}"))
        .expect("path");
    let (status, package) = app.get(&path).await;
    assert_eq!(status, 200, "{package}");
    assert_eq!(package["releases"].as_array().map(Vec::len), Some(1), "{package}");
    assert_eq!(package["releases"][0]["date"], linked[0]["date"]);
}
