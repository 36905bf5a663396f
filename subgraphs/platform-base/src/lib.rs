//! The platform's base layer: what a subgraph and the router both need to
//! decide who is calling and how often they may — roles and claims, token
//! verification, keys, session revocation, the key-value client, rate
//! limits, header names and digests. It links no database driver, mail,
//! templates or GraphQL server, so the router stays small; `platform`
//! re-exports every module here under the same path.

pub mod auth;
pub mod digest;
pub mod headers;
pub mod jwt;
pub mod keys;
pub mod kv;
pub mod rate_limit;
pub mod revocation;

pub use auth::{AuthContext, Claims, Principal, Role, Vertical};
