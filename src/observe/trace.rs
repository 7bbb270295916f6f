//! W3C trace context. A request continues the caller's trace when it sends a valid
//! `traceparent`, and starts one otherwise, so every request has a trace id for its log lines
//! and errors. The gateway's handling of the request is one span with its own id: calls to
//! the partner and to Elasticsearch carry a `traceparent` naming that span as their parent.
//!
//! Ours rather than opentelemetry's propagator: that comes with the opentelemetry crates,
//! whose measured weight `otlp.rs` gives.

/// One request's place in a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex digits, shared by every span of the trace.
    pub trace_id: String,
    /// The caller's span, if the request came with a trace.
    pub parent_id: Option<String>,
    /// The gateway's span for this request: 16 lowercase hex digits.
    pub span_id: String,
    /// The trace flags (`01`: sampled).
    pub flags: String,
}

impl TraceContext {
    /// Continues the caller's trace from a `traceparent` header, or starts a new one.
    pub fn from_traceparent(header: Option<&str>) -> Self {
        match header.and_then(parse) {
            Some((trace_id, parent_id, flags)) => Self {
                trace_id,
                parent_id: Some(parent_id),
                span_id: random_hex(1),
                flags,
            },
            None => Self {
                trace_id: random_hex(2),
                parent_id: None,
                span_id: random_hex(1),
                flags: "01".to_owned(),
            },
        }
    }

    /// The `traceparent` for calls this request makes: same trace, this span as parent.
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-{}", self.trace_id, self.span_id, self.flags)
    }
}

/// `(trace id, parent id, flags)` of a valid `traceparent`: version `00` exactly in four
/// parts, later versions with possibly more; lowercase hex; ids not all zeros.
fn parse(header: &str) -> Option<(String, String, String)> {
    let mut parts = header.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let valid = hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && trace.bytes().any(|b| b != b'0')
        && parent.bytes().any(|b| b != b'0')
        && (version != "00" || parts.next().is_none());
    valid.then(|| (trace.to_owned(), parent.to_owned(), flags.to_owned()))
}

/// A new span id: 16 hex digits.
pub(super) fn span_id() -> String {
    random_hex(1)
}

/// `words` random 64-bit words as hex, never all zeros.
fn random_hex(words: usize) -> String {
    (0..words)
        .map(|_| format!("{:016x}", crate::random::nonzero_u64()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    #[test]
    fn a_valid_traceparent_is_continued_with_a_span_of_our_own() {
        let incoming = format!("00-{TRACE}-00f067aa0ba902b7-01");
        let context = TraceContext::from_traceparent(Some(&incoming));
        assert_eq!(context.trace_id, TRACE);
        assert_eq!(context.parent_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_ne!(context.span_id, "00f067aa0ba902b7");
        let outgoing = context.traceparent();
        assert_eq!(outgoing, format!("00-{TRACE}-{}-01", context.span_id));
        assert_eq!(context.span_id.len(), 16);
    }

    #[test]
    fn anything_else_starts_a_new_trace() {
        for bad in [
            None,
            Some(""),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"),
            Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),
            Some("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
            Some("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"),
        ] {
            let context = TraceContext::from_traceparent(bad);
            assert_eq!(context.parent_id, None, "{bad:?}");
            assert_eq!(context.trace_id.len(), 32);
            assert_ne!(context.trace_id, TRACE);
        }
        let (a, b) = (
            TraceContext::from_traceparent(None),
            TraceContext::from_traceparent(None),
        );
        assert_ne!(a.trace_id, b.trace_id, "new traces differ");
    }
}
