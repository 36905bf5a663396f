//! Identity's integration tests: one binary, real PostgreSQL and Redis.

mod helpers;

mod erasure;
mod events;
mod history;
mod isolation;
mod login;
mod mail;
mod members;
mod mfa;
mod notifications;
mod partner;
mod retention;
mod server;
mod tokens;
