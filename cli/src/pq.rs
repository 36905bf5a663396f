//! `hub pq manifest`: the Apollo persisted query manifest of the operations
//! in `frontend-codegen/operations/`, which the router's safelist loads.

use std::path::Path;

use apollo_compiler::ast::{Definition, Document, OperationType};
use serde_json::json;

/// The manifest JSON for every `*.graphql` file in `dir`, sorted by name.
pub fn manifest(dir: &Path) -> anyhow::Result<String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "graphql"))
        .collect();
    files.sort();
    let mut operations = vec![];
    for path in files {
        let body = std::fs::read_to_string(&path)?.trim().to_string();
        let doc =
            Document::parse(body.clone(), &path).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.errors))?;
        let ops: Vec<_> = doc
            .definitions
            .iter()
            .filter_map(|d| match d {
                Definition::OperationDefinition(op) => Some(op),
                _ => None,
            })
            .collect();
        anyhow::ensure!(ops.len() == 1, "{}: put exactly one operation per file", path.display());
        let name = ops[0]
            .name
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("{}: name the operation", path.display()))?;
        let kind = match ops[0].operation_type {
            OperationType::Query => "query",
            OperationType::Mutation => "mutation",
            OperationType::Subscription => "subscription",
        };
        let id = platform::crypto::sha256_hex(&body);
        operations.push(json!({ "id": id, "name": name.as_str(), "type": kind, "body": body }));
    }
    let m = json!({ "format": "apollo-persisted-query-manifest", "version": 1, "operations": operations });
    Ok(serde_json::to_string_pretty(&m)? + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_manifest_matches_the_operations() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .join("frontend-codegen");
        let committed = std::fs::read_to_string(root.join("persisted-query-manifest.json")).unwrap_or_default();
        assert!(
            committed == manifest(&root.join("operations")).unwrap(),
            "frontend-codegen/persisted-query-manifest.json is stale: run `cargo run -p hub -- pq manifest` and commit it"
        );
    }
}
