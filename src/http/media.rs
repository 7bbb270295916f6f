//! Content negotiation for `/graphql`: which media type the client accepts (with q-values)
//! and whether a POST body is JSON.

use axum::http::{HeaderMap, StatusCode, header};

use super::graphql::Refusal;
use crate::core::errors::code;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";
const MULTIPART: &str = "multipart/mixed";
/// The version of the incremental-delivery format the gateway writes (see `parts`).
const DEFER_SPEC: &str = "20220824";

/// The media type of the response, chosen from the request's `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Media {
    /// The spec's own type: request errors get 4xx statuses.
    GraphqlResponse,
    /// The legacy type: every GraphQL response is 200.
    Json,
}

impl Media {
    pub(super) fn content_type(self) -> &'static str {
        match self {
            Media::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Media::Json => "application/json; charset=utf-8",
        }
    }
}

/// Whether the client takes an answer in parts: its `Accept` names `multipart/mixed`
/// (q above 0), with no `deferSpec` or the one the gateway writes. Apollo Client sends
/// `multipart/mixed;deferSpec=20220824`, GraphiQL `multipart/mixed`.
pub(super) fn accepts_parts(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    accept.unwrap_or_default().split(',').any(|item| {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or_default().trim();
        let mut acceptable = media.eq_ignore_ascii_case(MULTIPART);
        for parameter in parts {
            let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
            let value = value.trim().trim_matches('"');
            match name.trim().to_ascii_lowercase().as_str() {
                "q" => acceptable &= value.parse::<f32>().is_ok_and(|q| q > 0.0),
                "deferspec" => acceptable &= value == DEFER_SPEC,
                _ => {}
            }
        }
        acceptable
    })
}

/// Picks the response type from `Accept`: the highest q-value wins, the client's order
/// breaks ties, `q=0` excludes a type; no header means legacy JSON. A client that accepts
/// only parts (`accepts_parts`) gets legacy JSON for an answer that comes whole.
pub(super) fn negotiate(headers: &HeaderMap) -> Result<Media, Refusal> {
    let Some(accept) = headers.get(header::ACCEPT) else {
        return Ok(Media::Json);
    };
    let accept = accept.to_str().unwrap_or_default();
    let mut best: Option<(f32, Media)> = None;
    if accepts_parts(headers) {
        best = Some((0.0, Media::Json));
    }
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = match parts
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            GRAPHQL_RESPONSE_JSON => Media::GraphqlResponse,
            JSON | "application/*" | "*/*" => Media::Json,
            _ => continue,
        };
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q > 0.0 && best.is_none_or(|(best_q, _)| q > best_q) {
            best = Some((q, media));
        }
    }
    best.map(|(_, media)| media).ok_or_else(|| {
        Refusal::new(
            StatusCode::NOT_ACCEPTABLE,
            code::NOT_ACCEPTABLE,
            format!(
                "cannot answer with any of {accept:?}; accept {GRAPHQL_RESPONSE_JSON} or {JSON}"
            ),
        )
    })
}

pub(super) fn check_content_type(headers: &HeaderMap) -> Result<(), Refusal> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case(JSON) {
        Ok(())
    } else {
        Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code::UNSUPPORTED_MEDIA_TYPE,
            format!("POST bodies must be {JSON}, got {content_type:?}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Option<Media> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, value.parse().unwrap());
        negotiate(&headers).ok()
    }

    #[test]
    fn the_highest_quality_wins_and_q_zero_excludes() {
        assert_eq!(accept(GRAPHQL_RESPONSE_JSON), Some(Media::GraphqlResponse));
        assert_eq!(
            accept("application/json, application/graphql-response+json"),
            Some(Media::Json)
        );
        assert_eq!(
            accept("application/json;q=0.9, application/graphql-response+json"),
            Some(Media::GraphqlResponse)
        );
        assert_eq!(
            accept("application/graphql-response+json;q=0, application/json"),
            Some(Media::Json)
        );
        assert_eq!(accept("text/html, */*;q=0.1"), Some(Media::Json));
        assert_eq!(accept("text/html"), None);
        assert_eq!(accept("application/json;q=0"), None);
        assert_eq!(negotiate(&HeaderMap::new()).ok(), Some(Media::Json));
    }
}
