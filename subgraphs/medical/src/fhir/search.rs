//! FHIR search parameters (strict: an unknown or malformed one is a 400,
//! never silently ignored) and the `searchset` Bundles they produce.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc};
use platform::{crypto::FieldCipher, ids::page_size, AppError, AppResult};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::resources::{instant, Base};

/// The largest page a search returns (the platform's list page size).
pub const MAX_COUNT: usize = 100;
pub const DEFAULT_COUNT: usize = 20;

/// A request's query parameters; each is taken once by the handler, and
/// whatever is left over is refused.
pub struct Params {
    pairs: Vec<(String, String)>,
    taken: Vec<String>,
}

/// Result-shaping parameters clients send that change nothing here.
const IGNORED: [&str; 2] = ["_format", "_pretty"];

impl Params {
    pub fn parse(query: Option<&str>) -> AppResult<Self> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
            .map_err(|_| AppError::bad_input("query", "is not a valid query string"))?;
        for (k, v) in &pairs {
            if k == "_format" && !matches!(v.as_str(), "json" | "application/json" | "application/fhir+json") {
                return Err(AppError::bad_input("_format", "only json is served"));
            }
        }
        Ok(Params { pairs, taken: vec![] })
    }

    /// Every value of `name` (a repeated parameter is AND, a comma inside one is OR).
    pub fn all(&mut self, name: &str) -> Vec<String> {
        self.taken.push(name.to_string());
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The one value of `name`; repeating it is an error.
    pub fn one(&mut self, name: &str) -> AppResult<Option<String>> {
        let mut values = self.all(name);
        match values.len() {
            0 => Ok(None),
            1 => Ok(values.pop().filter(|v| !v.is_empty())),
            _ => Err(AppError::bad_input(name, "may be given once")),
        }
    }

    /// Refuses what no handler took: a parameter this server does not
    /// support (or a modifier such as `name:exact`) would otherwise widen
    /// the result without the client knowing.
    pub fn finish(&self) -> AppResult<()> {
        match self
            .pairs
            .iter()
            .find(|(k, _)| !self.taken.contains(k) && !IGNORED.contains(&k.as_str()))
        {
            Some((k, _)) => Err(AppError::bad_input(k.as_str(), "is not a supported search parameter")),
            None => Ok(()),
        }
    }

    /// The query string for a next page: the same parameters, a new cursor.
    fn with_cursor(&self, cursor: &str) -> String {
        let mut pairs: Vec<(&str, &str)> = self
            .pairs
            .iter()
            .filter(|(k, _)| k != "_cursor")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.push(("_cursor", cursor));
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }

    /// The parameters' names, sorted and once each (`_count`, `_cursor`
    /// and the format parameters left out): what a search was about,
    /// without what was searched for.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .pairs
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !matches!(*k, "_count" | "_cursor") && !IGNORED.contains(k))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    fn query(&self) -> String {
        serde_urlencoded::to_string(&self.pairs).unwrap_or_default()
    }
}

/// Paging cursors as clients carry them: sealed with the service's field
/// key, bound to the organization and the search. A cursor holds the last
/// row's sort key (a patient's names among them), so a readable one would
/// put names in URLs, proxies' logs and browser histories; a sealed one
/// shows nothing and cannot be forged or replayed by another organization.
#[derive(Clone)]
pub struct Cursors<'a> {
    cipher: &'a FieldCipher,
    aad: String,
}

impl<'a> Cursors<'a> {
    pub fn new(cipher: &'a FieldCipher, organization: Uuid, search: &str) -> Self {
        Cursors {
            cipher,
            aad: format!("medical.fhir.cursor:{organization}:{search}"),
        }
    }

    fn seal<C: Serialize>(&self, cursor: &C) -> AppResult<String> {
        let json = serde_json::to_vec(cursor).map_err(|e| AppError::Internal(e.into()))?;
        self.cipher.seal_token(&json, &self.aad)
    }

    fn open<C: DeserializeOwned>(&self, token: &str) -> Option<C> {
        serde_json::from_slice(&self.cipher.open_token(token, &self.aad)?).ok()
    }
}

/// `_count` and `_cursor`: the page to read.
pub struct Paging<'a, C> {
    pub count: usize,
    pub after: Option<C>,
    cursors: Cursors<'a>,
}

impl<'a, C: Serialize + DeserializeOwned + Send + Sync> Paging<'a, C> {
    pub fn take(params: &mut Params, cursors: &Cursors<'a>) -> AppResult<Self> {
        let count = match params.one("_count")? {
            None => DEFAULT_COUNT,
            Some(c) => {
                let n: i32 = c
                    .parse()
                    .map_err(|_| AppError::bad_input("_count", "is not a number"))?;
                page_size(Some(n), DEFAULT_COUNT, MAX_COUNT)
                    .map_err(|_| AppError::bad_input("_count", format!("must be between 0 and {MAX_COUNT}")))?
            }
        };
        let after = match params.one("_cursor")? {
            None => None,
            Some(c) => Some(
                cursors
                    .open(&c)
                    .ok_or_else(|| AppError::bad_input("_cursor", "is not a cursor of this search"))?,
            ),
        };
        Ok(Paging {
            count,
            after,
            cursors: cursors.clone(),
        })
    }

    /// Rows to fetch: one more than the page, to know whether another follows.
    pub fn fetch(&self) -> i64 {
        self.count as i64 + 1
    }

    /// A cursor of this search, for a page that ends where the caller says.
    pub fn seal(&self, cursor: &C) -> AppResult<String> {
        self.cursors.seal(cursor)
    }

    /// Cuts the over-fetched rows to the page; the cursor of the next page, if any.
    pub fn cut<R>(&self, rows: &mut Vec<R>, cursor: impl Fn(&R) -> C) -> AppResult<Option<String>> {
        let more = rows.len() > self.count;
        rows.truncate(self.count);
        match rows.last() {
            Some(last) if more => Ok(Some(self.cursors.seal(&cursor(last))?)),
            _ => Ok(None),
        }
    }
}

/// A `reference` parameter (`Patient/{id}`, the bare id, or the absolute
/// URL) as the id it names.
pub fn reference(params: &mut Params, name: &str, kind: &str, base: &Base) -> AppResult<Option<Uuid>> {
    let Some(v) = params.one(name)? else {
        return Ok(None);
    };
    let local = v.strip_prefix(&format!("{}/", base.url)).unwrap_or(&v);
    let id = local.strip_prefix(&format!("{kind}/")).unwrap_or(local);
    Uuid::try_parse(id)
        .map(Some)
        .map_err(|_| AppError::bad_input(name, format!("is not a reference to a {kind}")))
}

/// A `date` parameter's bounds: `[from, before)`, each optional. Several
/// values narrow the range (AND), as FHIR's `date=ge…&date=lt…`.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Range<T> {
    pub from: Option<T>,
    pub before: Option<T>,
}

/// Reads `name` as FHIR date comparisons (eq, ge, gt, le, lt; `eq` by
/// default) on dates or instants, each value covering its precision
/// (`2030`, `2030-01`, `2030-01-07`, `2030-01-07T09:00:00Z`). Dates
/// without an offset are UTC.
pub fn date_range(params: &mut Params, name: &str) -> AppResult<Range<DateTime<Utc>>> {
    let mut range = Range::default();
    for v in params.all(name) {
        let bad = || AppError::bad_input(name, "use [eq|ge|gt|le|lt]YYYY[-MM[-DD[Thh:mm:ss+zz:zz]]]");
        let (prefix, value) = match v.get(..2) {
            Some(p @ ("eq" | "ge" | "gt" | "le" | "lt")) => (p, &v[2..]),
            Some(p) if p.chars().all(|c| c.is_ascii_alphabetic()) => return Err(bad()),
            _ => ("eq", v.as_str()),
        };
        let (lo, hi) = period(value).ok_or_else(bad)?;
        let (from, before) = match prefix {
            "eq" => (Some(lo), Some(hi)),
            "ge" => (Some(lo), None),
            "gt" => (Some(hi), None),
            "lt" => (None, Some(lo)),
            _ => (None, Some(hi)),
        };
        range.from = range.from.max(from);
        range.before = match (range.before, before) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    Ok(range)
}

/// The same on a date-only element (`birthDate`).
pub fn day_range(params: &mut Params, name: &str) -> AppResult<Range<NaiveDate>> {
    let r = date_range(params, name)?;
    // A bound inside a day still counts that day (an instant's day).
    let ceil = |t: DateTime<Utc>| {
        let d = t.date_naive();
        if t.time() == chrono::NaiveTime::MIN {
            d
        } else {
            d + Duration::days(1)
        }
    };
    Ok(Range {
        from: r.from.map(ceil),
        before: r.before.map(ceil),
    })
}

/// The instants a FHIR date value covers: `[start, end)`.
fn period(v: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let day = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    match v.len() {
        4 => {
            let y: i32 = v.parse().ok()?;
            Some((
                day(NaiveDate::from_ymd_opt(y, 1, 1)?)?,
                day(NaiveDate::from_ymd_opt(y + 1, 1, 1)?)?,
            ))
        }
        7 => {
            let d = NaiveDate::parse_from_str(&format!("{v}-01"), "%Y-%m-%d").ok()?;
            let next = if d.month() == 12 {
                NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)?
            } else {
                NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)?
            };
            Some((day(d)?, day(next)?))
        }
        10 => {
            let d = NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()?;
            Some((day(d)?, day(d + Duration::days(1))?))
        }
        _ => {
            let t = DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .or_else(|_| NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S").map(|t| t.and_utc()))
                .ok()?;
            Some((t, t + Duration::seconds(1)))
        }
    }
}

/// One entry of a Bundle: a resource that matched, or one included with it.
pub struct Entry {
    pub resource: Value,
    pub included: bool,
}

impl Entry {
    pub fn matched(resource: Value) -> Self {
        Entry {
            resource,
            included: false,
        }
    }
    pub fn included(resource: Value) -> Self {
        Entry {
            resource,
            included: true,
        }
    }
}

/// A `searchset` Bundle with `total`, absolute `fullUrl`s and `self`/`next` links.
pub fn searchset(
    base: &Base,
    path: &str,
    params: &Params,
    total: i64,
    entries: Vec<Entry>,
    next: Option<String>,
) -> Value {
    let query = params.query();
    let self_url = if query.is_empty() {
        format!("{}/{path}", base.url)
    } else {
        format!("{}/{path}?{query}", base.url)
    };
    let mut links = vec![json!({ "relation": "self", "url": self_url })];
    if let Some(c) = next {
        links.push(json!({ "relation": "next", "url": format!("{}/{path}?{}", base.url, params.with_cursor(&c)) }));
    }
    let entries: Vec<Value> = entries
        .into_iter()
        .map(|e| {
            let kind = e.resource["resourceType"].as_str().unwrap_or_default().to_string();
            let id = e.resource["id"].as_str().unwrap_or_default().to_string();
            json!({
                "fullUrl": base.full_url(&kind, &id),
                "resource": e.resource,
                "search": { "mode": if e.included { "include" } else { "match" } },
            })
        })
        .collect();
    json!({
        "resourceType": "Bundle",
        "id": Uuid::new_v4().to_string(),
        "meta": { "lastUpdated": instant(Utc::now()) },
        "type": "searchset",
        "timestamp": instant(Utc::now()),
        "total": total,
        "link": links,
        "entry": entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Params {
        Params::parse(Some(q)).expect("query")
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("instant").with_timezone(&Utc)
    }

    #[test]
    fn date_prefixes_cover_their_precision() {
        let r = date_range(&mut params("date=2030-01-07"), "date").expect("range");
        assert_eq!(r.from, Some(at("2030-01-07T00:00:00Z")));
        assert_eq!(r.before, Some(at("2030-01-08T00:00:00Z")));
        let r = date_range(&mut params("date=ge2030-01&date=lt2030-03-01"), "date").expect("range");
        assert_eq!(r.from, Some(at("2030-01-01T00:00:00Z")));
        assert_eq!(r.before, Some(at("2030-03-01T00:00:00Z")));
        let r = date_range(&mut params("date=gt2030"), "date").expect("range");
        assert_eq!(r.from, Some(at("2031-01-01T00:00:00Z")));
        let r = date_range(&mut params("date=le2030-01-07T09:00:00%2B01:00"), "date").expect("range");
        assert_eq!(r.before, Some(at("2030-01-07T08:00:01Z")));
        assert!(date_range(&mut params("date=ne2030"), "date").is_err());
        assert!(date_range(&mut params("date=07/01/2030"), "date").is_err());
    }

    #[test]
    fn birthdates_compare_whole_days() {
        let r = day_range(&mut params("birthdate=1985-03-14"), "birthdate").expect("range");
        assert_eq!(r.from, NaiveDate::from_ymd_opt(1985, 3, 14));
        assert_eq!(r.before, NaiveDate::from_ymd_opt(1985, 3, 15));
        let r = day_range(&mut params("birthdate=lt1990"), "birthdate").expect("range");
        assert_eq!((r.from, r.before), (None, NaiveDate::from_ymd_opt(1990, 1, 1)));
    }

    #[test]
    fn unknown_or_repeated_parameters_are_refused() {
        let mut p = params("name=Bern&colour=blue");
        assert_eq!(p.one("name").expect("name").as_deref(), Some("Bern"));
        assert!(p.finish().is_err());
        let mut p = params("name=a&name=b");
        assert!(p.one("name").is_err());
        let mut p = params("name=a&_format=json");
        p.one("name").expect("name");
        assert!(p.finish().is_ok());
        assert!(Params::parse(Some("_format=xml")).is_err());
    }

    #[test]
    fn counts_are_bounded_and_cursors_are_ours() {
        let cipher = FieldCipher::from_spec(&format!("k1:{}", platform::crypto::generate_key())).expect("key");
        let org = Uuid::new_v4();
        let cursors = Cursors::new(&cipher, org, "Patient");
        assert!(Paging::<Uuid>::take(&mut params("_count=101"), &cursors).is_err());
        assert!(Paging::<Uuid>::take(&mut params("_count=x"), &cursors).is_err());
        assert!(Paging::<Uuid>::take(&mut params("_cursor=nonsense"), &cursors).is_err());
        let p = Paging::<(String, Uuid)>::take(&mut params("_count=2"), &cursors).expect("paging");
        let mut rows = vec![1, 2, 3];
        let last = Uuid::new_v4();
        let next = p
            .cut(&mut rows, |_| ("Dupont".to_string(), last))
            .expect("sealed")
            .expect("a next page");
        assert_eq!(rows, vec![1, 2]);
        assert!(!next.contains("Dupont"));
        // The name is not merely encoded either.
        use base64::Engine;
        for engine in [
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
            base64::engine::general_purpose::STANDARD_NO_PAD,
        ] {
            let decoded = engine.decode(&next).unwrap_or_default();
            assert!(!String::from_utf8_lossy(&decoded).contains("Dupont"));
        }
        let query = format!("_cursor={next}");
        let again = Paging::<(String, Uuid)>::take(&mut params(&query), &cursors).expect("our cursor");
        assert_eq!(again.after, Some(("Dupont".to_string(), last)));
        // Another organization's (or another search's) cursor is refused.
        let theirs = Cursors::new(&cipher, Uuid::new_v4(), "Patient");
        assert!(Paging::<(String, Uuid)>::take(&mut params(&query), &theirs).is_err());
        let other_search = Cursors::new(&cipher, org, "Appointment");
        assert!(Paging::<(String, Uuid)>::take(&mut params(&query), &other_search).is_err());
    }

    #[test]
    fn references_name_their_type() {
        let base = Base {
            url: "https://api.example/fhir".into(),
            organization_id: Uuid::nil(),
        };
        let id = Uuid::new_v4();
        for v in [
            format!("Patient/{id}"),
            id.to_string(),
            format!("https://api.example/fhir/Patient/{id}"),
        ] {
            let mut p = params(&format!("patient={}", urlencode(&v)));
            assert_eq!(reference(&mut p, "patient", "Patient", &base).expect("ref"), Some(id));
        }
        let mut p = params(&format!("patient=Practitioner/{id}"));
        assert!(reference(&mut p, "patient", "Patient", &base).is_err());
    }

    fn urlencode(v: &str) -> String {
        serde_urlencoded::to_string([("x", v)]).expect("encode")[2..].to_string()
    }
}
