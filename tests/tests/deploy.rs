//! The deployment as an operator gets it: `deploy/check` lints the
//! Dockerfile, renders the Helm chart with every example values file and
//! validates each manifest against the Kubernetes schemas (strict, no
//! unknown kind) and the chart's pod policy; the chart runs every
//! registered subgraph on its port and the router with the repository's
//! configuration.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use figment::{providers::Format, providers::Yaml, Figment};
use serde_json::Value;

fn repo() -> PathBuf {
    hub_e2e::repo_root()
}

/// The deployment venv's Python (`hub test` installs deploy/requirements.txt there).
fn python() -> PathBuf {
    let home = std::env::var("HOME").unwrap_or_default();
    Path::new(&home).join(".cache/hub-deploy-venv/bin/python")
}

fn check(values: &[&Path]) -> (bool, String) {
    let out = Command::new(python())
        .arg(repo().join("deploy/check"))
        .args(values)
        .output()
        .expect("deploy/check runs (hub test installs its venv)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn every_example_values_file_renders_manifests_the_kubernetes_schemas_accept() {
    let (ok, out) = check(&[]);
    assert!(ok, "{out}");
    for v in ["development.yaml", "production.yaml"] {
        assert!(
            out.contains("ok   kubernetes-validate --strict 1.35.0") && out.contains(v),
            "{out}"
        );
        assert!(out.contains(&format!("ok   pod policy of {v}")), "{out}");
    }
    assert!(out.contains("ok   hadolint deploy/Dockerfile"), "{out}");
}

#[test]
fn an_unknown_kind_a_misspelled_field_or_a_literal_secret_fails_the_check() {
    let dir = tempfile_dir();
    let write = |name: &str, body: &str| {
        let p = dir.join(name);
        std::fs::write(&p, body).expect("write values");
        p
    };
    let unknown = write("monitor.yaml", "serviceMonitor:\n  enabled: true\n");
    let (ok, out) = check(&[&unknown]);
    assert!(
        !ok && out.contains("Couldn't find schema for kind ServiceMonitor"),
        "{out}"
    );
    let typo = write("typo.yaml", "router:\n  podDisruptionBudget:\n    minAvailible: 1\n");
    let (ok, out) = check(&[&typo]);
    assert!(!ok && out.contains("'minAvailible' was unexpected"), "{out}");
    let literal = write(
        "literal.yaml",
        "extraEnv:\n  - name: HUB_AUTH__ROUTER_SECRET\n    value: hunter2\n",
    );
    let (ok, out) = check(&[&literal]);
    assert!(
        !ok && out.contains("HUB_AUTH__ROUTER_SECRET is a literal value, not a Secret reference"),
        "{out}"
    );
}

#[test]
fn the_chart_runs_every_registered_subgraph_on_its_port() {
    let values: Value = Figment::from(Yaml::file(repo().join("deploy/chart/hub/values.yaml")))
        .extract()
        .expect("values.yaml");
    let subgraphs = values["subgraphs"].as_object().expect("subgraphs");
    let mut charted: Vec<(String, u64)> = subgraphs
        .iter()
        .map(|(name, sg)| (name.clone(), sg["port"].as_u64().unwrap_or(0)))
        .collect();
    let mut registered: Vec<(String, u64)> = registry::SUBGRAPHS
        .iter()
        .map(|sg| (sg.name.to_string(), u64::from(sg.port)))
        .collect();
    charted.sort();
    registered.sort();
    assert_eq!(
        charted, registered,
        "deploy/chart/hub/values.yaml and subgraphs/registry disagree"
    );
}

#[test]
fn the_chart_configures_the_router_with_the_repositorys_router_yaml() {
    let charted =
        std::fs::read_to_string(repo().join("deploy/chart/hub/files/router.yaml")).expect("chart's router.yaml");
    let ours = std::fs::read_to_string(repo().join("router/router.yaml")).expect("router/router.yaml");
    assert_eq!(
        charted, ours,
        "deploy/chart/hub/files/router.yaml must stay a link to router/router.yaml"
    );
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hub-deploy-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
