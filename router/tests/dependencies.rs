//! The router links only what the edge needs: token checks, the key-value
//! client, rate limits. A dependency on the subgraphs' database driver, mail,
//! templates or GraphQL server would grow it and widen what it can reach.

use std::process::Command;

#[test]
fn the_router_links_no_database_driver_mail_templates_or_graphql_server() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "hub-router",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    let crates: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(
        crates.contains(&"platform-base"),
        "the tree lists the router's own dependencies"
    );
    for forbidden in ["sqlx", "lettre", "minijinja", "async-graphql", "platform"] {
        assert!(
            !crates.contains(&forbidden),
            "hub-router depends on {forbidden}: move what it needs into platform-base"
        );
    }
}
