//! Run layer, reading the SDL `schema diff` compares: async-graphql's export and what
//! graphql-js prints from introspection (`buildClientSchema` + `printSchema`).
//!
//! graphql-js prints the schema's description, as the spec allows since its 2021 edition,
//! before `schema { … }`; async-graphql-parser 7 has no grammar for it and refuses the whole
//! document. A description on the schema definition is documentation that no operation can
//! see, and async-graphql's introspection serves the same fixed text for every schema while
//! its export prints none, so it is blanked out before parsing and never compared.

use std::borrow::Cow;
use std::ops::Range;

use anyhow::Context as _;
use async_graphql::parser::parse_schema;
use async_graphql::parser::types::ServiceDocument;

/// Parses `sdl`, read from `origin` (named in the error), ignoring a schema description.
pub(super) fn parse(sdl: &str, origin: &str) -> anyhow::Result<ServiceDocument> {
    parse_schema(without_schema_description(sdl))
        .with_context(|| format!("invalid SDL in {origin}"))
}

/// `sdl` with the description of its schema definition, a string directly before the
/// top-level keyword `schema`, blanked out. Every other string stays: the descriptions of
/// types, fields and directives, and string values. Blanks keep each line and column where
/// it was, so the parser's errors still point into the file as written. `extend schema`
/// takes no description in the spec (nor in graphql-js), so a string before it stays and
/// the parser refuses it.
pub(super) fn without_schema_description(sdl: &str) -> Cow<'_, str> {
    let mut depth = 0_usize;
    let mut string_before: Option<Range<usize>> = None;
    let mut descriptions = Vec::new();
    let tokens = Tokens { sdl, at: 0 };
    for (token, span) in tokens {
        match token {
            Token::String if depth == 0 => {
                string_before = Some(span);
                continue;
            }
            Token::Word if depth == 0 && &sdl[span] == "schema" => {
                descriptions.extend(string_before.take());
            }
            Token::Open => depth += 1,
            Token::Close => depth = depth.saturating_sub(1),
            _ => {}
        }
        string_before = None;
    }
    if descriptions.is_empty() {
        return Cow::Borrowed(sdl);
    }
    let mut blanked = String::with_capacity(sdl.len());
    let mut copied = 0;
    for span in descriptions {
        blanked.push_str(&sdl[copied..span.start]);
        let blank = |c| if matches!(c, '\n' | '\r') { c } else { ' ' };
        blanked.extend(sdl[span.clone()].chars().map(blank));
        copied = span.end;
    }
    blanked.push_str(&sdl[copied..]);
    Cow::Owned(blanked)
}

/// What the scan needs to tell apart; comments and whitespace are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// A string or block string.
    String,
    /// A name, or a run of digits and letters within a number.
    Word,
    /// `{`, `(` or `[`.
    Open,
    /// `}`, `)` or `]`.
    Close,
    /// Any other punctuation.
    Other,
}

/// The tokens of SDL with their byte ranges. Every character that matters to the scan is
/// ASCII, and no byte of a multi-byte UTF-8 character is, so the scan can go by bytes and
/// still cut only at character boundaries. An unterminated string ends the document: the
/// parser then reports it.
struct Tokens<'a> {
    sdl: &'a str,
    at: usize,
}

impl Iterator for Tokens<'_> {
    type Item = (Token, Range<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.sdl.as_bytes();
        let rest = |at: usize| &bytes[at.min(bytes.len())..];
        loop {
            let start = self.at;
            let &byte = bytes.get(start)?;
            let (token, end) = match byte {
                b'#' => {
                    let line = rest(start).iter().position(|b| matches!(b, b'\n' | b'\r'));
                    self.at = line.map_or(bytes.len(), |length| start + length);
                    continue;
                }
                _ if byte.is_ascii_whitespace() || byte == b',' || byte >= 0x80 => {
                    // Beyond ASCII, only the byte order mark may stand outside a string.
                    self.at += 1;
                    continue;
                }
                b'"' if rest(start).starts_with(br#"""""#) => {
                    let mut at = start + 3;
                    while !rest(at).is_empty() && !rest(at).starts_with(br#"""""#) {
                        at += if rest(at).starts_with(br#"\""""#) {
                            4
                        } else {
                            1
                        };
                    }
                    (Token::String, (at + 3).min(bytes.len()))
                }
                b'"' => {
                    let mut at = start + 1;
                    loop {
                        match rest(at).first() {
                            None | Some(b'\n' | b'\r') => break,
                            Some(b'"') => {
                                at += 1;
                                break;
                            }
                            Some(b'\\') => at += 2,
                            Some(_) => at += 1,
                        }
                    }
                    (Token::String, at.min(bytes.len()))
                }
                b'{' | b'(' | b'[' => (Token::Open, start + 1),
                b'}' | b')' | b']' => (Token::Close, start + 1),
                _ if byte.is_ascii_alphanumeric() || byte == b'_' => {
                    let word = rest(start).iter();
                    let length = word
                        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                        .count();
                    (Token::Word, start + length)
                }
                _ => (Token::Other, start + 1),
            };
            self.at = end;
            return Some((token, start..end));
        }
    }
}
