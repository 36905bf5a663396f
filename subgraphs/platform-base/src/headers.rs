//! Header names the router and the subgraphs agree on.

/// The shared secret the router adds to every subgraph call; a subgraph
/// refuses calls without it when `HUB_AUTH__REQUIRE_ROUTER_SECRET` is on.
pub const ROUTER_SECRET_HEADER: &str = "x-hub-router-secret";
/// One id per client request, passed to every subgraph call and logged.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
