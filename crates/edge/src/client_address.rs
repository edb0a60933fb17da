//! Which address a request comes from, for the rate limits: the connection's peer, or, when
//! the peer is a trusted proxy (`--trusted-proxies`), the nearest address in
//! `X-Forwarded-For` that is not one. Only trusted proxies are believed: anyone else could
//! write any address there.

use std::{net::IpAddr, str::FromStr};

/// An address block, e.g. `10.0.0.0/8`, or one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Block {
    base: IpAddr,
    prefix: u8,
}

impl FromStr for Block {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (address, prefix) = text.split_once('/').unwrap_or((text, ""));
        let base: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not an address or address/prefix"))?;
        let most = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix.trim() {
            "" => most,
            bits => bits
                .parse::<u8>()
                .ok()
                .filter(|bits| *bits <= most)
                .ok_or_else(|| format!("{text:?}: the prefix must be 0 to {most}"))?,
        };
        Ok(Self { base, prefix })
    }
}

impl Block {
    fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| -> (u128, u32) {
            match ip {
                IpAddr::V4(v4) => (u128::from(u32::from(v4)) << 96, 32),
                IpAddr::V6(v6) => (u128::from(v6), 128),
            }
        };
        let ((base, width), (other, other_width)) = (bits(self.base), bits(ip));
        if width != other_width {
            return false;
        }
        let mask = match self.prefix {
            0 => 0,
            prefix => u128::MAX << (128 - u32::from(prefix)),
        };
        base & mask == other & mask
    }
}

/// The proxies whose `X-Forwarded-For` is believed; none by default.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<Block>);

impl TrustedProxies {
    /// Comma-separated addresses and blocks, e.g. `10.0.0.0/8, 192.0.2.10`.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(Block::from_str)
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|block| block.contains(ip))
    }

    /// The client behind `peer`: walking `X-Forwarded-For` from the right (the hop nearest
    /// this edge), the first address that is not a trusted proxy.
    pub fn client(&self, peer: IpAddr, headers: &http::HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        let mut nearest = peer;
        for hop in hops.iter().rev() {
            // A hop a trusted proxy wrote is well formed; past a malformed one, nothing is.
            let Ok(ip) = hop.parse::<IpAddr>() else {
                return nearest;
            };
            if !self.trusts(ip) {
                return ip;
            }
            nearest = ip;
        }
        nearest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            forwarded.parse().expect("a header value"),
        );
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn only_trusted_proxies_are_believed_and_the_nearest_untrusted_hop_is_the_client() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, 192.0.2.10").expect("valid");
        let spoofed = headers("198.51.100.1, 203.0.113.7, 10.1.2.3");
        assert_eq!(trusted.client(ip("10.9.9.9"), &spoofed), ip("203.0.113.7"));
        assert_eq!(
            trusted.client(ip("203.0.113.99"), &spoofed),
            ip("203.0.113.99"),
            "an untrusted peer's header is ignored"
        );
        assert_eq!(
            TrustedProxies::default().client(ip("10.9.9.9"), &spoofed),
            ip("10.9.9.9"),
            "none trusted by default"
        );
        let garbage = headers("not-an-address, 10.1.2.3");
        assert_eq!(trusted.client(ip("192.0.2.10"), &garbage), ip("10.1.2.3"));
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("2001:db8::/32")
            .expect("v6")
            .trusts(ip("2001:db8:1::1")));
        assert!(!TrustedProxies::parse("2001:db8::/32")
            .expect("v6")
            .trusts(ip("10.0.0.1")));
    }
}
