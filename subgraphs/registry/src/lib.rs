//! The registry: every subgraph of the platform, in start-up order. `hub up`,
//! `hub migrate`, `hub seed`, `hub reset`, `hub schema export`, the router's
//! subgraph URLs and the e2e kit all read this list. Adding a subgraph means
//! one line here, its crate in `Cargo.toml` and its entry in `supergraph.yaml`.

use std::path::Path;

use platform::kit::describe;
pub use platform::kit::Subgraph;

pub const SUBGRAPHS: &[Subgraph] = &[
    describe::<identity::Identity>(),
    describe::<medical::Medical>(),
    describe::<public::Public>(),
    describe::<content::Content>(),
];

/// A registered subgraph by name.
pub fn get(name: &str) -> Option<&'static Subgraph> {
    SUBGRAPHS.iter().find(|s| s.name == name)
}

/// The committed `router/router.yaml` with each subgraph's URL set from the
/// registry (`url(subgraph)`), so the router follows wherever the subgraphs run.
pub fn router_config(root: &Path, url: impl Fn(&Subgraph) -> String) -> anyhow::Result<String> {
    let path = root.join("router/router.yaml");
    let mut yaml =
        std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    anyhow::ensure!(
        !yaml.contains("\noverride_subgraph_url:"),
        "{} must not set override_subgraph_url: the registry does",
        path.display()
    );
    yaml.push_str("\n# Generated from the subgraph registry.\noverride_subgraph_url:\n");
    for sg in SUBGRAPHS {
        yaml.push_str(&format!("  {}: {}\n", sg.name, url(sg)));
    }
    Ok(yaml)
}
