//! Relay-style pagination: validated `first`, opaque keyset cursors, and
//! turning one over-fetched page of rows into a `Connection`.

use async_graphql::{
    connection::{Connection, CursorType, Edge, OpaqueCursor},
    OutputType,
};
use serde::{de::DeserializeOwned, Serialize};

use crate::{foundation::error::AppError, foundation::ids::page_size};

/// What a list query needs: how many rows, after which position.
pub struct Page<C> {
    pub limit: usize,
    pub after: Option<C>,
}

impl<C: Serialize + DeserializeOwned + Send + Sync> Page<C> {
    pub fn new(first: Option<i32>, after: Option<&str>, max: usize) -> Result<Self, AppError> {
        let limit = page_size(first, 20.min(max), max)?;
        let after = match after {
            None => None,
            Some(a) => Some(
                OpaqueCursor::<C>::decode_cursor(a)
                    .map_err(|_| AppError::bad_input("after", "is not a cursor from this list"))?
                    .0,
            ),
        };
        Ok(Page { limit, after })
    }

    /// Rows to fetch: one more than the page, to know whether another follows.
    pub fn fetch(&self) -> i64 {
        self.limit as i64 + 1
    }

    /// Builds the connection from the over-fetched rows.
    pub fn connection<R, N: OutputType>(
        &self,
        mut rows: Vec<R>,
        cursor: impl Fn(&R) -> C,
        node: impl Fn(R) -> N,
    ) -> Connection<OpaqueCursor<C>, N> {
        let has_next = rows.len() > self.limit;
        rows.truncate(self.limit);
        let mut conn = Connection::new(self.after.is_some(), has_next);
        conn.edges
            .extend(rows.into_iter().map(|r| Edge::new(OpaqueCursor(cursor(&r)), node(r))));
        conn
    }
}
