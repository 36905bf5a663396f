//! Hub's router: Apollo Router with Hub's plugins registered.

// Linking the library registers the plugins (`register_plugin!`).
use hub_router as _;

fn main() -> anyhow::Result<()> {
    apollo_router::main()
}
