//! `hub compose`: supergraph.yaml (rover's format) → supergraph.graphql, with
//! the apollo-federation crate pinned to the router's version. No network.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use apollo_federation::{
    composition::{compose as federation_compose, CompositionOptions},
    subgraph::typestate::Subgraph,
};
use figment::{
    providers::{Format, Yaml},
    Figment,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Config {
    subgraphs: BTreeMap<String, SubgraphConfig>,
}

#[derive(Deserialize)]
struct SubgraphConfig {
    routing_url: String,
    schema: SchemaSource,
}

#[derive(Deserialize)]
struct SchemaSource {
    file: PathBuf,
}

/// Where `hub compose` writes the API schema (what clients see: no
/// federation internals), which the frontend code generator reads.
pub const API_SCHEMA_FILE: &str = "frontend-codegen/api-schema.graphql";

/// The API schema of a supergraph, as SDL.
pub fn api_schema_sdl(supergraph: &str) -> anyhow::Result<String> {
    Ok(crate::schema::api_schema(supergraph)?.to_string())
}

/// A successful composition.
pub struct Composed {
    pub supergraph: String,
    /// `CODE: message` lines.
    pub hints: Vec<String>,
}

/// Everything that went wrong, one line each with subgraph and location.
#[derive(Debug)]
pub struct ComposeFailure {
    pub errors: Vec<String>,
    pub hints: Vec<String>,
}

impl std::fmt::Display for ComposeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "composition failed with {} error(s):", self.errors.len())?;
        for e in &self.errors {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ComposeFailure {}

/// Composes the subgraphs listed in `config` (paths relative to its folder).
pub fn compose(config: &Path) -> anyhow::Result<Result<Composed, ComposeFailure>> {
    let base = config.parent().unwrap_or(Path::new("."));
    let cfg: Config = Figment::from(Yaml::file(config))
        .extract()
        .map_err(|e| anyhow::anyhow!("{}: {e}", config.display()))?;
    let mut subgraphs = Vec::new();
    let mut errors = Vec::new();
    for (name, sg) in &cfg.subgraphs {
        let path = base.join(&sg.schema.file);
        let sdl = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        match Subgraph::parse(name, &sg.routing_url, &sdl) {
            Ok(s) => subgraphs.push(s),
            Err(e) => errors.push(format!("[{name}] {e}")),
        }
    }
    if !errors.is_empty() {
        return Ok(Err(ComposeFailure { errors, hints: vec![] }));
    }
    Ok(match federation_compose(subgraphs, CompositionOptions::default()) {
        Ok(supergraph) => Ok(Composed {
            supergraph: supergraph.schema().schema().to_string(),
            hints: supergraph
                .hints()
                .iter()
                .map(|h| format!("{}: {}", h.code(), h.message()))
                .collect(),
        }),
        Err(failure) => Err(ComposeFailure {
            errors: failure
                .errors
                .iter()
                .map(|e| {
                    let at: Vec<String> = e
                        .locations()
                        .iter()
                        .map(|l| format!("{}:{}:{}", l.subgraph, l.range.start.line, l.range.start.column))
                        .collect();
                    if at.is_empty() {
                        format!("{}: {e}", e.code().definition().code())
                    } else {
                        format!("{}: {e} (at {})", e.code().definition().code(), at.join(", "))
                    }
                })
                .collect(),
            hints: failure
                .hints
                .iter()
                .map(|h| format!("{}: {}", h.code(), h.message()))
                .collect(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
    }

    #[test]
    fn the_committed_supergraph_is_what_hub_compose_produces() {
        let composed = compose(&root().join("supergraph.yaml"))
            .unwrap()
            .expect("composition succeeds");
        let committed = std::fs::read_to_string(root().join("supergraph.graphql")).unwrap_or_default();
        assert!(
            committed == composed.supergraph,
            "supergraph.graphql is stale: run `cargo run -p hub -- compose` and commit it"
        );
    }

    #[test]
    fn composition_errors_name_the_subgraph_and_location() {
        let dir = std::env::temp_dir().join(format!("hub-compose-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.5\", import: [\"@key\"])\ntype Query { a: Thing }\ntype Thing @key(fields: \"id\") { id: ID! size: Int }";
        let b = "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.5\", import: [\"@key\"])\ntype Query { b: Thing }\ntype Thing @key(fields: \"id\") { id: ID! size: String }";
        std::fs::write(dir.join("a.graphql"), a).unwrap();
        std::fs::write(dir.join("b.graphql"), b).unwrap();
        std::fs::write(
            dir.join("supergraph.yaml"),
            "subgraphs:\n  a:\n    routing_url: http://a\n    schema:\n      file: a.graphql\n  b:\n    routing_url: http://b\n    schema:\n      file: b.graphql\n",
        )
        .unwrap();
        let failure = compose(&dir.join("supergraph.yaml")).unwrap().err().expect("must fail");
        let text = failure.to_string();
        assert!(text.contains("size"), "{text}");
        assert!(
            text.contains("a:") && text.contains("b:"),
            "names both subgraphs: {text}"
        );
    }
}
