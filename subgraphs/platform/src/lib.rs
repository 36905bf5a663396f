//! The platform crate: everything a Hub subgraph shares — settings, auth,
//! guards, tenant-scoped transactions, errors, audit, limits and the server.

pub mod audit;
pub mod auth;
pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
pub mod guards;
pub mod i18n;
pub mod ids;
pub mod jwt;
pub mod kv;
pub mod limits;
pub mod metrics;
pub mod migrate;
pub mod pagination;
pub mod scalars;
pub mod server;
pub mod telemetry;
pub mod validate;

pub use auth::{AuthContext, Claims, Principal, Role, Vertical};
pub use error::{AppError, AppResult, ErrorCode, OnConstraint};
