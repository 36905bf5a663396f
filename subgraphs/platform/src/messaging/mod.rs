//! What leaves a transaction for other services and people: domain events
//! (outbox, relay to Redis Streams, consumers) and mail.

pub mod events;
pub mod mail;
