//! PostgreSQL: the tenant-scoped transaction and its row-level security, the
//! batch loaders, where reads go (primary or replica), migrations (the platform's own and each subgraph's), and the
//! runtime a resolver reaches the pool through.

pub mod batch;
pub mod db;
pub mod lists;
pub mod migrate;
pub mod reads;
pub mod runtime;
