//! The public procurement subgraph's integration tests: one binary, real
//! PostgreSQL and Redis.

mod helpers;

mod bids;
mod isolation;
mod ocds;
mod tenders;
