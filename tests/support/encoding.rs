//! Reading compressed answers as a client does, shared by the HTTP layer's unit tests, the
//! integration tests and the load driver (each includes this file with `#[path]`).

use std::io::Read as _;

use axum::http::HeaderMap;

/// A body as its `Content-Encoding` says: plain, gzip or Brotli.
pub(super) fn decode(encoding: Option<&str>, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut plain = Vec::new();
    let read = match encoding {
        None | Some("identity") => return Ok(bytes.to_vec()),
        Some("gzip") => flate2::read::GzDecoder::new(bytes).read_to_end(&mut plain),
        Some("br") => brotli_decompressor::Decompressor::new(bytes, 4096).read_to_end(&mut plain),
        Some(other) => return Err(format!("an answer in an unknown encoding: {other}")),
    };
    read.map(|_| plain)
        .map_err(|e| format!("cannot decode a {encoding:?} answer: {e}"))
}

/// What a client reads of a response: its body decoded as its headers say.
#[allow(dead_code)]
pub(super) fn decoded(headers: &HeaderMap, body: &[u8]) -> Vec<u8> {
    let encoding = headers
        .get("content-encoding")
        .map(|v| v.to_str().expect("Content-Encoding is text"));
    decode(encoding, body).unwrap_or_else(|e| panic!("{e}"))
}

/// Whether `Vary` names `Accept-Encoding`.
#[allow(dead_code)]
pub(super) fn varies_by_encoding(headers: &HeaderMap) -> bool {
    headers.get_all("vary").iter().any(|value| {
        value
            .to_str()
            .unwrap()
            .split(',')
            .any(|name| name.trim().eq_ignore_ascii_case("accept-encoding"))
    })
}
