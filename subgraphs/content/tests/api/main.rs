//! The content subgraph's integration tests: one binary, real PostgreSQL
//! and Redis, the local store and a real S3-compatible server (moto).

mod helpers;

mod access;
mod purge;
mod s3;
mod transfer;
