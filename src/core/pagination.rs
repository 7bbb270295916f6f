//! Paging: page-size bounds and opaque cursors (the connections are in `connection`). Lists
//! are paged by keyset (the sort key of the last item), never by offset, so deep pages stay
//! cheap.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::errors::ApiError;

/// Bounds on page sizes, from configuration.
#[derive(Debug, Clone, Copy)]
pub struct PageLimits {
    /// What `first` defaults to when a client omits it.
    pub default_size: u32,
    /// The largest `first` a client may ask for.
    pub max_size: u32,
}

impl Default for PageLimits {
    fn default() -> Self {
        Self {
            default_size: 20,
            max_size: 100,
        }
    }
}

impl PageLimits {
    /// Checks a client's `first`: a negative or too large value is `BAD_USER_INPUT`, never
    /// silently clamped, so a client learns the limit instead of missing items.
    pub fn first(&self, first: Option<i32>) -> Result<u32, ApiError> {
        match first {
            None => Ok(self.default_size),
            Some(n) if n >= 0 && n as u32 <= self.max_size => Ok(n as u32),
            Some(n) => Err(ApiError::BadUserInput(format!(
                "first must be between 0 and {}, got {n}",
                self.max_size
            ))),
        }
    }
}

/// Encodes a cursor: opaque to clients, tagged so that a cursor of one list is refused by
/// another.
pub fn encode_cursor(tag: &str, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{tag}|{key}"))
}

/// Decodes a cursor made by `encode_cursor` with the same tag.
pub fn decode_cursor(tag: &str, cursor: &str) -> Result<String, ApiError> {
    let invalid = || ApiError::BadUserInput(format!("invalid cursor {cursor:?}"));
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let raw = String::from_utf8(bytes).map_err(|_| invalid())?;
    match raw.split_once('|') {
        Some((found, key)) if found == tag => Ok(key.to_owned()),
        _ => Err(invalid()),
    }
}

/// A cursor over a list ordered by id alone.
pub fn decode_id_cursor(tag: &str, cursor: Option<&str>) -> Result<Option<i32>, ApiError> {
    cursor
        .map(|c| {
            decode_cursor(tag, c)?
                .parse()
                .map_err(|_| ApiError::BadUserInput(format!("invalid cursor {c:?}")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_above_the_maximum_or_negative_are_refused() {
        let limits = PageLimits {
            default_size: 20,
            max_size: 100,
        };
        assert_eq!(limits.first(None).unwrap(), 20);
        assert_eq!(limits.first(Some(100)).unwrap(), 100);
        assert_eq!(
            limits.first(Some(101)).unwrap_err().code(),
            "BAD_USER_INPUT"
        );
        assert_eq!(limits.first(Some(-1)).unwrap_err().code(), "BAD_USER_INPUT");
    }

    #[test]
    fn a_cursor_of_one_list_is_refused_by_another() {
        let cursor = encode_cursor("brands", "Acme|3");
        assert_eq!(decode_cursor("brands", &cursor).unwrap(), "Acme|3");
        assert!(decode_cursor("products", &cursor).is_err());
        assert!(decode_id_cursor("products", Some("%%%")).is_err());
    }
}
