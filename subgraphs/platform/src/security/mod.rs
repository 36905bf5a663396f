//! Who the caller is and what they may do. From `platform-base` (shared with
//! the router): roles and claims, JWT verification, signing keys, session
//! revocation. Here: field guards, the role sets of each vertical, access
//! checks, field encryption, and the caller of a route besides `/graphql`.

pub use platform_base::{auth, jwt, keys, revocation};

pub mod access;
pub mod crypto;
pub mod guards;
pub mod rest;
pub mod roles;
