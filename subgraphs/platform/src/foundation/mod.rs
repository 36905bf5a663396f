//! What every other room builds on and that depends on nothing of the
//! platform's: errors and their localized messages, ids and cursors, scalars,
//! input validation, pagination, request limits, and the settings types.

pub mod config;
pub mod error;
pub mod i18n;
pub mod ids;
pub mod limits;
pub mod pagination;
pub mod scalars;
pub mod validate;
