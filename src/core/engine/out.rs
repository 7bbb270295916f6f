//! The response bytes: scalars are written straight into them as JSON, with no value tree
//! in between. Formats are the ones async-graphql's serializer gives the same values, so
//! both executors answer byte-compatible JSON (strings escaped by serde_json, floats by
//! ryu, dates in RFC 3339).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

use crate::core::ids::Kind;

/// JSON being written.
#[derive(Default)]
pub struct Out {
    pub(crate) bytes: Vec<u8>,
}

impl Out {
    /// An empty buffer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(capacity),
        }
    }

    /// A string, escaped.
    pub fn str(&mut self, value: &str) {
        // Writing into a Vec cannot fail, and a str always serializes.
        let _ = serde_json::to_writer(&mut self.bytes, value);
    }

    /// A string, or null.
    pub fn opt_str(&mut self, value: Option<&str>) {
        match value {
            Some(value) => self.str(value),
            None => self.null(),
        }
    }

    /// An integer.
    pub fn int(&mut self, value: i64) {
        self.bytes
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    /// An integer, or null.
    pub fn opt_int(&mut self, value: Option<i64>) {
        match value {
            Some(value) => self.int(value),
            None => self.null(),
        }
    }

    /// A float; a non-finite one is null, as serde_json writes it.
    pub fn float(&mut self, value: f64) {
        if value.is_finite() {
            self.bytes
                .extend_from_slice(ryu::Buffer::new().format_finite(value).as_bytes());
        } else {
            self.null();
        }
    }

    /// A boolean.
    pub fn bool(&mut self, value: bool) {
        self.raw(if value { b"true" } else { b"false" });
    }

    /// null.
    pub fn null(&mut self) {
        self.raw(b"null");
    }

    /// A date and time, as async-graphql's `DateTime` scalar writes it.
    pub fn datetime(&mut self, value: &DateTime<Utc>) {
        self.str(&value.to_rfc3339());
    }

    /// A global id (`ids::GlobalId`), encoded in place.
    pub fn id(&mut self, kind: Kind, id: i32) {
        let mut raw = [0u8; 32];
        let prefix = kind.type_name().as_bytes();
        let mut number = itoa::Buffer::new();
        let digits = number.format(id).as_bytes();
        let len = prefix.len() + 1 + digits.len();
        raw[..prefix.len()].copy_from_slice(prefix);
        raw[prefix.len()] = b':';
        raw[prefix.len() + 1..len].copy_from_slice(digits);
        self.bytes.push(b'"');
        URL_SAFE_NO_PAD.encode_string_vec(&raw[..len], &mut self.bytes);
        self.bytes.push(b'"');
    }

    /// A list of strings.
    pub fn strs<'a>(&mut self, values: impl IntoIterator<Item = &'a str>) {
        self.bytes.push(b'[');
        for (n, value) in values.into_iter().enumerate() {
            if n > 0 {
                self.bytes.push(b',');
            }
            self.str(value);
        }
        self.bytes.push(b']');
    }

    /// Bytes that are JSON already.
    pub fn raw(&mut self, json: &[u8]) {
        self.bytes.extend_from_slice(json);
    }
}

/// Encoding into a `Vec<u8>` in place.
trait EncodeVec {
    fn encode_string_vec(&self, input: &[u8], out: &mut Vec<u8>);
}

impl<E: Engine> EncodeVec for E {
    fn encode_string_vec(&self, input: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + input.len().div_ceil(3) * 4 + 4, 0);
        let written = self
            .encode_slice(input, &mut out[start..])
            .unwrap_or_default();
        out.truncate(start + written);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ids::GlobalId;

    #[test]
    fn scalars_are_written_as_the_reference_serializer_writes_them() {
        let mut out = Out::default();
        out.str("a \"quoted\" \u{1} line\n");
        let expected = serde_json::to_string("a \"quoted\" \u{1} line\n").unwrap();
        assert_eq!(String::from_utf8(out.bytes).unwrap(), expected);

        for value in [0.0, 0.35, 1.0, 1e-7, 123456.789, -2.5] {
            let mut out = Out::default();
            out.float(value);
            assert_eq!(
                String::from_utf8(out.bytes).unwrap(),
                serde_json::to_string(&value).unwrap()
            );
        }

        for (kind, id) in [
            (Kind::Product, 1),
            (Kind::Collage, i32::MAX),
            (Kind::User, -3),
        ] {
            let mut out = Out::default();
            out.id(kind, id);
            let expected = serde_json::to_string(&GlobalId::new(kind, id).encode().0).unwrap();
            assert_eq!(String::from_utf8(out.bytes).unwrap(), expected);
        }
    }
}
