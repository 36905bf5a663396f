//! The shape of every change a resolver makes: one tenant transaction, the
//! work, its audit entry and events, commit ([`mutation::mutate`]); typed status
//! transitions ([`lifecycle`]).

pub mod lifecycle;
pub mod mutation;
