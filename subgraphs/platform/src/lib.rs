//! The platform crate: everything a Hub subgraph shares, in rooms that only
//! reach down (a test, `tests/layout.rs`, fails on an upward reach):
//!
//! ```text
//! service      kit (a subgraph describes itself once), server
//! writes       mutation (tx + audit + events + commit), lifecycle
//! messaging    events (outbox, relay, consumers), mail
//! compliance   audit (chain, history, read log), retention, rgpd
//! data         db (tenant transactions, loaders), batch, lists, migrate, runtime
//! security     auth, jwt, keys, revocation (platform-base), guards, roles, access, crypto, rest
//! infra        metrics, telemetry, kv, rate_limit (platform-base)
//! foundation   config, error, i18n, ids, limits, pagination, scalars, validate
//! ```
//!
//! Subgraphs use the flat paths below (`platform::audit`, `platform::kit`, …);
//! inside the crate, code names the room (`crate::data::db`), so the layering
//! is visible where it is used.

pub mod compliance;
pub mod data;
pub mod foundation;
pub mod infra;
pub mod messaging;
pub mod security;
pub mod service;
pub mod writes;

pub use compliance::{audit, retention, rgpd};
pub use data::{batch, db, lists, migrate, reads, runtime};
pub use foundation::{config, error, i18n, ids, limits, pagination, scalars, validate};
pub use infra::{kv, metrics, rate_limit, telemetry};
pub use messaging::{events, mail};
pub use security::{access, auth, crypto, guards, jwt, keys, rest, revocation, roles};
pub use service::{kit, server};
pub use writes::{lifecycle, mutation};

pub use auth::{AuthContext, Claims, Principal, Role, Vertical};
pub use error::{AppError, AppResult, ErrorCode, OnConstraint};
