//! Medical's integration tests: one binary, real PostgreSQL and Redis.

mod helpers;

mod access;
mod appointments;
mod audit_chain;
mod erasure;
mod fhir;
mod history;
mod invoices;
mod isolation;
mod mail;
mod notes;
mod patients;
mod practitioners;
mod read_replica;
mod retention;
