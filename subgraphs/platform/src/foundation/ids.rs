//! GraphQL `ID`s are UUIDs on the wire; a malformed one is the caller's mistake.

use async_graphql::ID;
use uuid::Uuid;

use crate::foundation::error::AppError;

pub fn parse_id(field: &str, id: &ID) -> Result<Uuid, AppError> {
    Uuid::try_parse(id.as_str()).map_err(|_| AppError::bad_input(field, "is not a valid id"))
}

/// For entity representations: a malformed id names nothing.
pub fn parse_key(id: &ID) -> Option<Uuid> {
    Uuid::try_parse(id.as_str()).ok()
}

/// Validates a Relay `first` argument against the page-size cap.
pub fn page_size(first: Option<i32>, default: usize, max: usize) -> Result<usize, AppError> {
    match first {
        None => Ok(default.min(max)),
        Some(n) if n < 0 => Err(AppError::bad_input("first", "must not be negative")),
        Some(n) if n as usize > max => Err(AppError::bad_input("first", format!("must be at most {max}"))),
        Some(n) => Ok(n as usize),
    }
}
