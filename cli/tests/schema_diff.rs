//! `hub schema diff OLD NEW`: the review engine on two plain files, as anyone
//! runs it.

use std::{path::PathBuf, process::Command};

use serde_json::Value;

fn fixture(case: &str, file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../schema-review/fixtures")
        .join(case)
        .join(file)
}

fn diff(args: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_hub"))
        .args(["schema", "diff"])
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (out.status.code().unwrap_or(-1), json)
}

fn ops_dir(ops: &[(&str, &str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hub-diff-ops-{}", std::process::id()));
    let dir = dir.join(uuid::Uuid::new_v4().to_string());
    for (client, file, body) in ops {
        std::fs::create_dir_all(dir.join(client)).unwrap();
        std::fs::write(dir.join(client).join(file), body).unwrap();
    }
    dir
}

#[test]
fn json_lists_every_change_and_a_breaking_one_fails() {
    let (old, new) = (fixture("fields", "old.graphql"), fixture("fields", "new.graphql"));
    let (code, json) = diff(&[old.to_str().unwrap(), new.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 1, "a breaking change without operations fails");
    let removed = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "A.gone")
        .unwrap_or_else(|| panic!("{json:#}"));
    assert_eq!(removed["type"], "FIELD_REMOVED");
    assert_eq!(removed["level"], "BREAKING");
    assert!(removed["message"].as_str().unwrap().contains("gone"));
    assert_eq!(json["operations"], serde_json::json!([]));
}

#[test]
fn with_operations_only_what_breaks_one_fails() {
    let (old, new) = (fixture("fields", "old.graphql"), fixture("fields", "new.graphql"));
    let (old, new) = (old.to_str().unwrap(), new.to_str().unwrap());

    let safe = ops_dir(&[("web", "Kept.graphql", "query Kept { a { kept } }")]);
    let (code, json) = diff(&[old, new, "--operations", safe.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["operations"][0]["client"], "web");
    assert_eq!(json["operations"][0]["name"], "Kept");
    assert_eq!(json["operations"][0]["valid"], true);

    let broken = ops_dir(&[
        ("web", "Kept.graphql", "query Kept { a { kept } }"),
        ("insurer", "Gone.graphql", "query Gone { a { gone kept } }"),
    ]);
    let (code, json) = diff(&[old, new, "--operations", broken.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 1);
    let gone = json["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "Gone")
        .unwrap();
    assert_eq!(gone["client"], "insurer");
    assert_eq!(gone["valid"], false);
    assert_eq!(gone["affectedBy"], serde_json::json!(["A.gone"]));
    assert!(gone["errors"][0].as_str().unwrap().contains("gone"), "{gone:#}");
    assert!(gone["file"].as_str().unwrap().ends_with("Gone.graphql"));
}

#[test]
fn markdown_is_the_default() {
    let (old, new) = (fixture("enums", "old.graphql"), fixture("enums", "new.graphql"));
    let out = Command::new(env!("CARGO_BIN_EXE_hub"))
        .args(["schema", "diff", old.to_str().unwrap(), new.to_str().unwrap()])
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.starts_with("## ") && md.contains("ENUM_VALUE_REMOVED"), "{md}");
}

#[test]
fn an_unreadable_file_says_which() {
    let out = Command::new(env!("CARGO_BIN_EXE_hub"))
        .args(["schema", "diff", "/nonexistent/old.graphql", "/nonexistent/new.graphql"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/old.graphql"));
}
