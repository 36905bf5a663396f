//! A running subgraph: the kit a subgraph is described with and the HTTP
//! server it runs (`/graphql`, `/health`, `/ready`, `/metrics`, draining).

pub mod kit;
pub mod server;
