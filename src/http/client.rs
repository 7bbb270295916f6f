//! Who an anonymous client is, for its cost budget: an address that a trusted proxy wrote,
//! never one the client wrote itself.
//!
//! Each proxy in front of the gateway appends the address it received the request from to
//! `X-Forwarded-For` (or an element to RFC 7239 `Forwarded`), after whatever the client sent.
//! So the entries on the right are the proxies' and the ones further left are the client's
//! own, free to be anything. Behind `hops` trusted proxies, the client's address is the
//! entry that many places from the right: written by the outermost trusted proxy. With fewer
//! entries than that, every entry was written by a proxy and the leftmost is taken. An entry
//! that is not an address (or `unknown`) makes the key the connection's peer, as with no
//! header at all.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, HeaderName};

/// Where the client's address is read.
#[derive(Debug, Clone)]
pub struct ClientAddress {
    /// The header trusted proxies write: `x-forwarded-for`, `forwarded` (RFC 7239) or a
    /// header of one address (`x-real-ip`); `None`: the connection's peer.
    pub header: Option<HeaderName>,
    /// How many trusted proxies append to it, from the gateway outwards (at least 1).
    pub hops: usize,
}

impl Default for ClientAddress {
    fn default() -> Self {
        Self {
            header: None,
            hops: 1,
        }
    }
}

impl ClientAddress {
    /// The client's address: from the header as trusted proxies wrote it, else the peer's.
    pub fn of(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
        self.header
            .as_ref()
            .and_then(|name| self.written_by_proxies(name, headers))
            .or(peer.map(|p| p.ip()))
    }

    fn written_by_proxies(&self, name: &HeaderName, headers: &HeaderMap) -> Option<IpAddr> {
        // Proxies may add a header line of their own rather than append to the last one:
        // the lines in order are one list.
        let mut entries: Vec<&str> = Vec::new();
        for line in headers.get_all(name) {
            let line = line.to_str().ok()?;
            if *name == "forwarded" {
                entries.extend(line.split(',').map(forwarded_for));
            } else {
                entries.extend(line.split(','));
            }
        }
        let last = entries.len().checked_sub(1)?;
        let entry = entries.get(last.saturating_sub(self.hops.saturating_sub(1)))?;
        address(entry)
    }
}

/// The `for=` parameter of one element of a `Forwarded` header (empty when it has none).
fn forwarded_for(element: &str) -> &str {
    element
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case("for"))
        .map_or("", |(_, value)| value.trim().trim_matches('"'))
}

/// An address as proxies write it: `192.0.2.60`, `192.0.2.60:4711`, `2001:db8::1` or
/// `[2001:db8::1]:4711`.
fn address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = entry.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    entry
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(ip, _)| ip.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &'static str, lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(name, line.parse().unwrap());
        }
        headers
    }

    fn client(header: &'static str, hops: usize) -> ClientAddress {
        ClientAddress {
            header: Some(HeaderName::from_static(header)),
            hops,
        }
    }

    const PEER: &str = "10.0.0.9:5555";

    fn of(address: &ClientAddress, headers: &HeaderMap) -> String {
        address
            .of(headers, Some(PEER.parse().unwrap()))
            .map(|ip| ip.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn addresses_the_client_wrote_left_of_the_proxies_are_ignored() {
        let xff = client("x-forwarded-for", 1);
        // The client sent "10.9.9.1, 127.0.0.1"; the proxy appended what it saw.
        let sent = headers("x-forwarded-for", &["10.9.9.1, 127.0.0.1, 203.0.113.7"]);
        assert_eq!(of(&xff, &sent), "203.0.113.7");
        // Behind two proxies (a CDN, then a load balancer): the CDN's entry.
        let two = client("x-forwarded-for", 2);
        assert_eq!(of(&two, &sent), "127.0.0.1");
        // Fewer entries than proxies: all are the proxies', the leftmost is the client.
        let one_entry = headers("x-forwarded-for", &["203.0.113.7"]);
        assert_eq!(of(&two, &one_entry), "203.0.113.7");
        // Lines a proxy added on its own count as appended.
        let lines = headers("x-forwarded-for", &["10.9.9.1", "203.0.113.7"]);
        assert_eq!(of(&xff, &lines), "203.0.113.7");
    }

    #[test]
    fn rfc_7239_forwarded_is_read_by_its_for_parameters() {
        let forwarded = client("forwarded", 1);
        let sent = headers(
            "forwarded",
            &[r#"for=10.9.9.1;proto=https, for="[2001:db8:cafe::17]:4711";by=203.0.113.43"#],
        );
        assert_eq!(of(&forwarded, &sent), "2001:db8:cafe::17");
        let two = client("forwarded", 2);
        assert_eq!(of(&two, &sent), "10.9.9.1");
        let with_port = headers("forwarded", &["For=\"192.0.2.60:4711\""]);
        assert_eq!(of(&forwarded, &with_port), "192.0.2.60");
    }

    #[test]
    fn no_header_or_no_address_in_it_is_the_peer() {
        let xff = client("x-forwarded-for", 1);
        assert_eq!(of(&xff, &HeaderMap::new()), "10.0.0.9");
        for junk in ["unknown", "", "not an address", "10.9.9.1, garbage"] {
            assert_eq!(
                of(&xff, &headers("x-forwarded-for", &[junk])),
                "10.0.0.9",
                "{junk}"
            );
        }
        let obfuscated = headers("forwarded", &["for=_hidden"]);
        assert_eq!(of(&client("forwarded", 1), &obfuscated), "10.0.0.9");
        let peer_only = ClientAddress::default();
        let sent = headers("x-forwarded-for", &["203.0.113.7"]);
        assert_eq!(of(&peer_only, &sent), "10.0.0.9");
    }
}
