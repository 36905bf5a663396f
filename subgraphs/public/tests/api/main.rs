//! The public procurement subgraph's integration tests: one binary, real
//! PostgreSQL and Redis.

mod helpers;

mod bids;
mod events;
mod history;
mod isolation;
mod ocds;
mod retention;
mod tenders;
