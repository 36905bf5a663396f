//! The platform crate: everything a Hub subgraph shares — settings, auth,
//! guards, tenant-scoped transactions, errors, audit, limits, the server, and
//! the subgraph kit ([`kit`]) every subgraph is built from.

pub mod access;
pub mod audit;
pub mod batch;
pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
pub mod events;
pub mod guards;
pub mod i18n;
pub mod ids;
pub mod kit;
pub mod lifecycle;
pub mod limits;
pub mod mail;
pub mod metrics;
pub mod migrate;
pub mod mutation;
pub mod pagination;
pub mod rest;
pub mod retention;
pub mod rgpd;
pub mod roles;
pub mod scalars;
pub mod server;
pub mod telemetry;
pub mod validate;

// The base layer the router shares, under the same paths as before.
pub use platform_base::{auth, jwt, keys, kv, rate_limit, revocation};

pub use auth::{AuthContext, Claims, Principal, Role, Vertical};
pub use error::{AppError, AppResult, ErrorCode, OnConstraint};
