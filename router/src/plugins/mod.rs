pub mod auth;
pub mod fhir;
pub mod headers;
pub mod limits;
pub mod persisted_queries;
pub mod rate_limit;
