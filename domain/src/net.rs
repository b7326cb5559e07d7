//! Who a request came from when reverse proxies stand in between: the trusted proxies
//! (`WANGGE_TRUSTED_PROXIES`) and the client address and scheme they forward.
//!
//! Only a proxy named as trusted may speak for its clients. Anyone else can write
//! `X-Forwarded-For` too, so without this list the socket's peer is the client: a forged
//! header must neither evade the sign-in throttle nor put a false address in the audit trail.

use std::net::IpAddr;

/// An address block (`10.0.0.0/8`, `::1/128`, or a bare address for one host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{text}` is not an IP address or CIDR block"))?;
        let network = canonical(network);
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{text}` has a prefix length outside 0..={max}"))?,
        };
        Ok(Self { network, prefix })
    }
}

/// IPv4 seen through an IPv6 socket (`::ffff:10.0.0.1`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The reverse proxies whose forwarded headers are believed. Empty by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// A comma-separated list of addresses and CIDR blocks (empty: none).
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .filter(|part| !part.trim().is_empty())
            .map(str::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|cidr| cidr.contains(ip))
    }

    /// The client behind `peer` (the socket's other end; `None` in-process) and whether it
    /// reached the first proxy over HTTPS.
    ///
    /// `X-Forwarded-For` is read from the right: each trusted proxy appends the address it
    /// was reached from, so the rightmost hop that is not a trusted proxy is the client; what
    /// lies left of it was written by the client and proves nothing. A hop that is not an
    /// address ends the walk at the last proxy that was trusted. `X-Forwarded-Proto` counts
    /// only from a trusted peer, and only its rightmost value (the nearest proxy's).
    pub fn resolve(&self, peer: Option<IpAddr>, headers: &Forwarded<'_>) -> Resolved {
        let Some(peer) = peer.map(canonical) else {
            return Resolved {
                client: None,
                https: false,
            };
        };
        if !self.trusts(peer) {
            return Resolved {
                client: Some(peer),
                https: false,
            };
        }
        let hops: Vec<&str> = headers
            .forwarded_for
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|hop| !hop.is_empty())
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) => {
                    client = canonical(ip);
                    if !self.trusts(client) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        let https = headers
            .forwarded_proto
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|v| !v.is_empty())
            .is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
        Resolved {
            client: Some(client),
            https,
        }
    }
}

/// A request's forwarding headers, each line as sent (the HTTP layer reads them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forwarded<'a> {
    /// The `X-Forwarded-For` lines, in order.
    pub forwarded_for: Vec<&'a str>,
    /// The `X-Forwarded-Proto` lines, in order.
    pub forwarded_proto: Vec<&'a str>,
}

/// Where a request came from, as far as the server can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// The client's address (`None`: a request made in-process, with no socket).
    pub client: Option<IpAddr>,
    /// A trusted proxy says the client reached it over HTTPS (wangge itself serves no TLS).
    pub https: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    fn headers(pairs: &[(&'static str, &'static str)]) -> Forwarded<'static> {
        let mut map = Forwarded::default();
        for (name, value) in pairs {
            match *name {
                "x-forwarded-for" => map.forwarded_for.push(value),
                "x-forwarded-proto" => map.forwarded_proto.push(value),
                other => panic!("not a forwarding header: {other}"),
            }
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn blocks_contain_what_they_should() {
        let block: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(block.contains(ip("10.1.200.3")));
        assert!(!block.contains(ip("10.2.0.1")));
        assert!(block.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped IPv6");
        let one: Cidr = "fd00::1".parse().unwrap();
        assert!(one.contains(ip("fd00::1")) && !one.contains(ip("fd00::2")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0/8", "::/129"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert_eq!(
            TrustedProxies::parse("").unwrap(),
            TrustedProxies::default()
        );
        assert!(TrustedProxies::parse("10.0.0.1, 192.168.0.0/24").is_ok());
        assert!(TrustedProxies::parse("10.0.0.1,x").is_err());
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let proxies = TrustedProxies::parse("10.0.0.1,10.9.0.0/16").unwrap();
        let forged = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-proto", "https"),
        ]);
        // Not through a trusted proxy: the socket's peer, and plain http.
        assert_eq!(
            proxies.resolve(Some(ip("192.168.5.5")), &forged),
            Resolved {
                client: Some(ip("192.168.5.5")),
                https: false
            }
        );
        assert_eq!(
            TrustedProxies::default().resolve(Some(ip("10.0.0.1")), &forged),
            Resolved {
                client: Some(ip("10.0.0.1")),
                https: false
            },
            "no proxy is trusted by default"
        );
        // Through one: the rightmost hop that is not a trusted proxy.
        let chain = headers(&[
            ("x-forwarded-for", "6.6.6.6, 192.168.1.20"),
            ("x-forwarded-for", "10.9.3.3"),
            ("x-forwarded-proto", "http, https"),
        ]);
        assert_eq!(
            proxies.resolve(Some(ip("10.0.0.1")), &chain),
            Resolved {
                client: Some(ip("192.168.1.20")),
                https: true
            }
        );
        // A hop that is not an address: the last trusted proxy is all that is known.
        let garbled = headers(&[("x-forwarded-for", "192.168.1.20, junk, 10.9.3.3")]);
        assert_eq!(
            proxies.resolve(Some(ip("10.0.0.1")), &garbled).client,
            Some(ip("10.9.3.3"))
        );
        // No header: the proxy itself.
        assert_eq!(
            proxies.resolve(Some(ip("10.0.0.1")), &Forwarded::default()),
            Resolved {
                client: Some(ip("10.0.0.1")),
                https: false
            }
        );
        assert_eq!(proxies.resolve(None, &forged).client, None);
    }
}
