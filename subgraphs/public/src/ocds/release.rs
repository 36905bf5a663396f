//! One OCDS release: the state of a contracting process after a lifecycle
//! step, built in that step's transaction as the buyer sees it and stored
//! (`releases`). Bids appear only once the deadline has passed — the row
//! policies already hide them from the buyer before, and this code checks
//! again — and never a tax id or a compliance document.

use std::collections::{HashMap, HashSet};

use platform::AppResult;
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    bid::{self, model::BidStatus},
    contract::{
        self,
        model::{Contract, ContractStatus},
    },
    supplier,
    tender::{
        self,
        model::{Tender, TenderStatus},
    },
};

/// The bids extension this platform's packages use.
pub const BIDS_EXTENSION: &str =
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_bid_extension/v1.1.5/extension.json";

/// Digits after the decimal point (ISO 4217) for the currencies that do not use two.
fn exponent(currency: &str) -> i32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND"
        | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

/// OCDS `Value`: an amount in major units.
pub fn value(minor: i64, currency: &str) -> Value {
    let amount = minor as f64 / 10f64.powi(exponent(currency));
    json!({ "amount": amount, "currency": currency })
}

fn tender_status(s: TenderStatus) -> &'static str {
    match s {
        TenderStatus::Draft => "planning",
        TenderStatus::Published | TenderStatus::Closed => "active",
        TenderStatus::Awarded => "complete",
        TenderStatus::Unsuccessful => "unsuccessful",
        TenderStatus::Cancelled => "cancelled",
    }
}

/// A bid that lost the award is still a valid bid; only withdrawal changes that.
fn bid_status(s: BidStatus) -> &'static str {
    match s {
        BidStatus::Draft | BidStatus::Submitted => "pending",
        BidStatus::Accepted | BidStatus::Rejected => "valid",
        BidStatus::Withdrawn => "withdrawn",
    }
}

fn contract_status(s: ContractStatus) -> &'static str {
    match s {
        ContractStatus::Pending => "pending",
        ContractStatus::Active => "active",
        ContractStatus::Completed | ContractStatus::Terminated => "terminated",
    }
}

/// Tags of the release a tender step yields.
pub fn tender_tags(to: &str) -> &'static [&'static str] {
    match to {
        "published" => &["tender"],
        "amended" => &["tenderAmendment"],
        "cancelled" => &["tenderCancellation"],
        "awarded" => &["tenderUpdate", "award", "contract"],
        _ => &["tenderUpdate"],
    }
}

/// Tags of the release a contract step yields.
pub fn contract_tags(to: &str) -> &'static [&'static str] {
    match to {
        "terminated" => &["contractTermination"],
        _ => &["contractUpdate"],
    }
}

/// Builds and stores the release of `tender` after a step tagged `tags`.
pub async fn record(conn: &mut PgConnection, tender_id: Uuid, tags: &[&str]) -> AppResult<()> {
    let Some(t) = tender::db::by_ids(conn, &[tender_id]).await?.pop() else {
        return Ok(());
    };
    let body = build(conn, &t).await?;
    let tags: Vec<String> = tags.iter().map(|s| s.to_string()).collect();
    sqlx::query!(
        "insert into releases (organization_id, tender_id, seq, tags, body)
         select $1, $2, coalesce(max(seq), 0) + 1, $3, $4 from releases where tender_id = $2",
        t.organization_id,
        tender_id,
        &tags,
        body
    )
    .execute(conn)
    .await?;
    Ok(())
}

async fn build(conn: &mut PgConnection, t: &Tender) -> AppResult<Value> {
    let buyer = sqlx::query!(
        "select legal_name, identifier_scheme, identifier_id from buyers where organization_id = $1",
        t.organization_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    let lots = tender::db::lots_of(conn, &[t.id]).await?;
    let amendments = tender::db::amendments_of(conn, &[t.id]).await?;
    // Sealed: nothing about bids before the deadline.
    let bids: Vec<bid::model::Bid> = if t.deadline_passed {
        bid::db::of_tenders(conn, &[t.id])
            .await?
            .into_iter()
            .filter(|b| b.status != BidStatus::Draft && b.opened)
            .collect()
    } else {
        vec![]
    };
    let awards = contract::db::awards_of(conn, &[t.id]).await?;
    let contracts: Vec<Contract> =
        contract::db::of_awards(conn, &awards.iter().map(|a| a.id).collect::<Vec<_>>()).await?;
    let mut orgs: Vec<Uuid> = bids.iter().map(|b| b.organization_id).collect();
    orgs.extend(awards.iter().map(|a| a.supplier_id));
    orgs.sort();
    orgs.dedup();
    let names: HashMap<Uuid, String> = supplier::db::by_organizations(conn, &orgs)
        .await?
        .into_iter()
        .map(|s| (s.organization_id, s.legal_name))
        .collect();
    let reference = |org: &Uuid| match names.get(org) {
        Some(name) => json!({ "id": org, "name": name }),
        None => json!({ "id": org }),
    };

    let buyer_ref = match &buyer {
        Some(b) => json!({ "id": t.organization_id, "name": b.legal_name }),
        None => json!({ "id": t.organization_id }),
    };
    let mut buyer_party = buyer_ref.clone();
    buyer_party["roles"] = json!(["buyer", "procuringEntity"]);
    if let Some(b) = &buyer {
        buyer_party["identifier"] =
            json!({ "scheme": b.identifier_scheme, "id": b.identifier_id, "legalName": b.legal_name });
    }
    let mut parties = vec![buyer_party];
    let winners: HashSet<Uuid> = awards.iter().map(|a| a.supplier_id).collect();
    for org in &orgs {
        let mut p = reference(org);
        let mut roles = vec![];
        if bids.iter().any(|b| b.organization_id == *org) {
            roles.push("tenderer");
        }
        if winners.contains(org) {
            roles.push("supplier");
        }
        p["roles"] = json!(roles);
        parties.push(p);
    }

    let (first_cpv, more_cpv) = t.cpv_codes.split_first().map_or((None, &[][..]), |(f, r)| (Some(f), r));
    let classification = |code: &String| json!({ "scheme": "CPV", "id": code.split('-').next().unwrap_or(code) });
    let extra: Vec<Value> = more_cpv.iter().map(classification).collect();
    let items: Vec<Value> = if lots.is_empty() {
        vec![
            json!({ "id": "1", "description": t.title, "classification": first_cpv.map(classification),
                     "additionalClassifications": extra }),
        ]
    } else {
        lots.iter()
            .map(|l| {
                json!({ "id": format!("lot-{}", l.number), "description": l.title,
                        "classification": first_cpv.map(classification), "additionalClassifications": extra })
            })
            .collect()
    };
    let mut tender = json!({
        "id": t.reference,
        "title": t.title,
        "description": t.description,
        "status": tender_status(t.status),
        "procuringEntity": buyer_ref,
        "items": items,
        "value": value(t.estimated_amount, &t.currency),
        "procurementMethod": t.procurement_method.as_db(),
        "mainProcurementCategory": t.main_category.as_db(),
        "tenderPeriod": { "startDate": t.published_at, "endDate": t.submission_deadline },
    });
    if let Some(e) = t.enquiry_deadline {
        tender["enquiryPeriod"] = json!({ "startDate": t.published_at, "endDate": e });
    }
    if !amendments.is_empty() {
        tender["amendments"] = amendments
            .iter()
            .map(|a| json!({ "id": a.id, "date": a.amended_at, "rationale": a.rationale, "description": a.changes.to_string() }))
            .collect();
    }
    let mut release = json!({
        "initiationType": "tender",
        "language": "fr",
        "parties": parties,
        "buyer": buyer_ref,
        "tender": tender,
    });
    if t.deadline_passed {
        let tenderers: Vec<Value> = {
            let mut seen = HashSet::new();
            bids.iter()
                .filter(|b| seen.insert(b.organization_id))
                .map(|b| reference(&b.organization_id))
                .collect()
        };
        release["tender"]["numberOfTenderers"] = json!(tenderers.len());
        release["tender"]["tenderers"] = json!(tenderers);
        let valid = bids.iter().filter(|b| b.status != BidStatus::Withdrawn).count();
        release["bids"] = json!({
            "statistics": [{ "id": "1", "measure": "bids", "value": valid }],
            "details": bids.iter().map(|b| json!({
                "id": b.id,
                "date": b.submitted_at,
                "status": bid_status(b.status),
                "tenderers": [reference(&b.organization_id)],
                "value": value(b.amount, &b.currency),
            })).collect::<Vec<_>>(),
        });
    }
    if !awards.is_empty() {
        release["awards"] = awards
            .iter()
            .map(|a| {
                let c = contracts.iter().find(|c| c.award_id == a.id);
                let lot = a.lot_id.and_then(|l| lots.iter().find(|x| x.id == l));
                json!({
                    "id": a.id,
                    "title": lot.map_or(t.title.clone(), |l| l.title.clone()),
                    "status": "active",
                    "date": a.awarded_at,
                    "value": value(a.amount, &a.currency),
                    "suppliers": [reference(&a.supplier_id)],
                    "contractPeriod": c.map(|c| json!({ "startDate": period_start(c), "endDate": period_end(c) })),
                    "relatedBid": a.bid_id,
                })
            })
            .collect();
        release["contracts"] = contracts
            .iter()
            .map(|c| {
                let mut v = json!({
                    "id": c.id,
                    "awardID": c.award_id,
                    "status": contract_status(c.status),
                    "period": { "startDate": period_start(c), "endDate": period_end(c) },
                    "value": value(c.amount, &c.currency),
                });
                if let Some(s) = c.signed_at {
                    v["dateSigned"] = json!(s);
                }
                v
            })
            .collect();
    }
    strip_nulls(&mut release);
    Ok(release)
}

fn period_start(c: &Contract) -> String {
    format!("{}T00:00:00Z", c.period_start)
}

fn period_end(c: &Contract) -> String {
    format!("{}T23:59:59Z", c.period_end)
}

/// OCDS fields are omitted rather than null.
fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, x| !(x.is_null() || x.as_array().is_some_and(Vec::is_empty)));
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}
