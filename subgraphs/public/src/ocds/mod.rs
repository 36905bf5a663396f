//! OCDS 1.1 publication: every lifecycle step of a published tender stores a
//! release (`release`); `GET /ocds/releases` serves them as release
//! packages (by buyer and date range, paged with `links.next`), and
//! `GET /ocds/records/{ocid}` a record package with every release of the
//! process and its compiled release. Public data, no token: read with a
//! scope of the public vertical and no organization of its own.

pub mod release;

use std::sync::Arc;

use axum::{
    extract::{Path, Query, State as AxumState},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use chrono::{DateTime, Utc};
use platform::{db::Scope, reads::LoaderCtx, Vertical};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::State;
pub use release::{contract_tags, record, tender_tags, BIDS_EXTENSION};

pub const PUBLIC_PATHS: &[&str] = &["/ocds/releases", "/ocds/records/*"];
const MAX_PAGE: i64 = 100;

pub fn routes(state: Arc<State>) -> Router {
    Router::new()
        .route("/ocds/releases", get(releases))
        .route("/ocds/records/{ocid}", get(record_package))
        .with_state(state)
}

#[derive(Deserialize)]
struct ReleaseParams {
    /// A buyer organization's id.
    buyer: Option<String>,
    /// Releases on or after (RFC 3339).
    since: Option<String>,
    /// Releases before (RFC 3339).
    until: Option<String>,
    /// The cursor of `links.next`.
    after: Option<String>,
    limit: Option<i64>,
}

struct Stored {
    id: Uuid,
    organization_id: Uuid,
    tender_id: Uuid,
    seq: i32,
    tags: Vec<String>,
    released_at: DateTime<Utc>,
    body: Value,
}

fn problem(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn ocds_json(body: Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], Json(body)).into_response()
}

/// The scope public data is read with: the vertical, no organization's own rows.
fn public_reads(st: &State) -> LoaderCtx {
    LoaderCtx::new(
        st.reads.clone(),
        Scope {
            organization_id: Uuid::nil(),
            verticals: vec![Vertical::Public],
            ..Default::default()
        },
        false,
    )
}

impl State {
    /// A stored release as published: ocid, id and date put on.
    fn release(&self, r: &Stored) -> Value {
        let ocid = self.ocid(r.tender_id);
        let mut body = r.body.clone();
        body["ocid"] = json!(ocid);
        body["id"] = json!(format!("{ocid}-{:04}", r.seq));
        body["date"] = json!(r.released_at);
        body["tag"] = json!(r.tags);
        body
    }

    fn package_meta(&self, uri: String) -> Value {
        json!({
            "uri": uri,
            "version": "1.1",
            "extensions": [BIDS_EXTENSION],
            "publishedDate": Utc::now(),
            "publisher": { "name": self.public.publisher_name },
            "license": self.public.license,
            "publicationPolicy": format!("{}/ocds/policy", self.public.public_url),
        })
    }
}

/// `Err` is the 400 answer, already written.
fn parse_time(field: &str, v: Option<&str>) -> Result<Option<DateTime<Utc>>, Box<Response>> {
    v.map(|s| {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| {
                Box::new(problem(
                    StatusCode::BAD_REQUEST,
                    &format!("{field} must be an RFC 3339 date-time"),
                ))
            })
    })
    .transpose()
}

async fn releases(AxumState(st): AxumState<Arc<State>>, Query(p): Query<ReleaseParams>) -> Response {
    let buyer = match p.buyer.as_deref().map(Uuid::try_parse).transpose() {
        Ok(b) => b,
        Err(_) => return problem(StatusCode::BAD_REQUEST, "buyer must be an organization id"),
    };
    let (since, until) = match (
        parse_time("since", p.since.as_deref()),
        parse_time("until", p.until.as_deref()),
    ) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(e), _) | (_, Err(e)) => return *e,
    };
    let after = match p.after.as_deref().map(parse_cursor).transpose() {
        Ok(a) => a,
        Err(_) => return problem(StatusCode::BAD_REQUEST, "after must be a cursor from links.next"),
    };
    let limit = p.limit.unwrap_or(MAX_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return problem(StatusCode::BAD_REQUEST, "limit must be 1 to 100");
    }
    let rows = public_reads(&st)
        .run("ocds releases", async |c| {
            Ok(sqlx::query_as!(
                Stored,
                r#"select id, organization_id, tender_id, seq, tags, released_at, body from releases
                    where ($1::uuid is null or organization_id = $1)
                      and ($2::timestamptz is null or released_at >= $2)
                      and ($3::timestamptz is null or released_at < $3)
                      and ($4::timestamptz is null or (released_at, id) > ($4, $5))
                    order by released_at, id limit $6"#,
                buyer,
                since,
                until,
                after.map(|a| a.0),
                after.map(|a| a.1),
                limit + 1
            )
            .fetch_all(c)
            .await?)
        })
        .await;
    let mut rows = match rows {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "OCDS releases");
            return problem(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        }
    };
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let mut query = vec![];
    if let Some(b) = buyer {
        query.push(format!("buyer={b}"));
    }
    for (k, v) in [("since", &p.since), ("until", &p.until)] {
        if let Some(v) = v {
            query.push(format!("{k}={}", platform::rest::encode_component(v)));
        }
    }
    let base = format!("{}/ocds/releases", st.public.public_url);
    let here = |extra: Option<String>| {
        let mut q = query.clone();
        q.extend(extra);
        if q.is_empty() {
            base.clone()
        } else {
            format!("{base}?{}", q.join("&"))
        }
    };
    let mut package = st.package_meta(here(p.after.as_ref().map(|a| format!("after={a}"))));
    package["releases"] = rows.iter().map(|r| st.release(r)).collect();
    if more {
        if let Some(last) = rows.last() {
            let cursor = format!("{}_{}", last.released_at.timestamp_micros(), last.id);
            package["links"] = json!({ "next": here(Some(format!("after={cursor}"))) });
        }
    }
    ocds_json(package)
}

fn parse_cursor(s: &str) -> Result<(DateTime<Utc>, Uuid), ()> {
    let (micros, id) = s.split_once('_').ok_or(())?;
    let at = DateTime::from_timestamp_micros(micros.parse().map_err(|_| ())?).ok_or(())?;
    Ok((at, Uuid::try_parse(id).map_err(|_| ())?))
}

async fn record_package(AxumState(st): AxumState<Arc<State>>, Path(ocid): Path<String>) -> Response {
    let prefix = format!("{}-", st.public.ocid_prefix);
    let Some(tender) = ocid.strip_prefix(&prefix).and_then(|t| Uuid::try_parse(t).ok()) else {
        return problem(StatusCode::NOT_FOUND, "no such ocid");
    };
    // A record embeds its releases when there are at most MAX_PAGE of
    // them; past that it links every one (OCDS linked releases: url, date,
    // tag — a record holds one kind or the other) and embeds only the
    // compiled release, so an answer stays bounded however many
    // amendments a tender had.
    let rows = public_reads(&st)
        .run("ocds record", async |c| {
            Ok(sqlx::query_as!(
                Stored,
                "select id, organization_id, tender_id, seq, tags, released_at, body from (
                   select * from releases where tender_id = $1 order by seq desc limit $2) newest
                  order by seq",
                tender,
                MAX_PAGE + 1
            )
            .fetch_all(c)
            .await?)
        })
        .await;
    let rows = match rows {
        Ok(r) if r.is_empty() => return problem(StatusCode::NOT_FOUND, "no such ocid"),
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "OCDS record");
            return problem(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        }
    };
    let newest = rows.last().map(|r| st.release(r)).unwrap_or_default();
    let releases: Vec<Value> = if rows.len() as i64 > MAX_PAGE {
        let linked = public_reads(&st)
            .run("ocds linked releases", async |c| {
                Ok(sqlx::query!(
                    "select seq, tags, released_at from releases where tender_id = $1 order by seq",
                    tender
                )
                .fetch_all(c)
                .await?)
            })
            .await;
        let linked = match linked {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "OCDS record");
                return problem(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
            }
        };
        let buyer = rows.first().map(|r| r.organization_id.to_string()).unwrap_or_default();
        let stamp = |t: DateTime<Utc>| {
            platform::rest::encode_component(&t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        };
        linked
            .iter()
            .map(|o| {
                json!({
                    "url": format!(
                        "{}/ocds/releases?buyer={buyer}&since={}&until={}",
                        st.public.public_url,
                        stamp(o.released_at),
                        stamp(o.released_at + chrono::Duration::microseconds(1)),
                    ),
                    "date": o.released_at,
                    "tag": o.tags,
                })
            })
            .collect()
    } else {
        rows.iter().map(|r| st.release(r)).collect()
    };
    // Each release is the whole state after its step, so merging them in
    // order (OCDS's merge rules) yields the latest one.
    let mut compiled = newest;
    compiled["id"] = json!(format!("{ocid}-compiled"));
    compiled["tag"] = json!(["compiled"]);
    let mut package = st.package_meta(format!("{}/ocds/records/{ocid}", st.public.public_url));
    let releases_url = match rows.first() {
        Some(r) => format!("{}/ocds/releases?buyer={}", st.public.public_url, r.organization_id),
        None => format!("{}/ocds/releases", st.public.public_url),
    };
    package["packages"] = json!([releases_url]);
    package["records"] = json!([{ "ocid": ocid, "releases": releases, "compiledRelease": compiled }]);
    ocds_json(package)
}
