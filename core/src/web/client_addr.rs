//! The client's address (docs/security.md, "The client's address"): the peer, unless the peer is a
//! trusted proxy; then the forwarding header the proxies write is walked right to left through
//! trusted hops only, and the first untrusted hop is the client. What a client writes into the header
//! itself sits left of that hop and is never read.

use std::net::IpAddr;

/// Whether `ip` is inside one of `networks` (`(network, prefix length)`).
pub(crate) fn trusted(ip: IpAddr, networks: &[(IpAddr, u8)]) -> bool {
    let ip = canonical(ip);
    // Networks come from `config::parse_cidr` (mapped ones already IPv4); lengths are clamped to the
    // family so no comparison can reach past an address.
    networks.iter().any(|&(net, len)| match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), len.min(32)),
        (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), len.min(128)),
        (IpAddr::V6(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.to_ipv6_mapped().octets(), len.min(128)),
        _ => false,
    })
}

/// An IPv4-mapped IPv6 address as IPv4 (dual-stack sockets report IPv4 peers so).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], len: u8) -> bool {
    let (bytes, bits) = ((len / 8) as usize, len % 8);
    if a[..bytes] != b[..bytes] {
        return false;
    }
    bits == 0 || {
        let mask = 0xffu8 << (8 - bits);
        a[bytes] & mask == b[bytes] & mask
    }
}

/// One hop of `X-Forwarded-For` (`1.2.3.4`, `2001:db8::1`, `[2001:db8::1]:443`, `1.2.3.4:80`).
fn parse_hop(text: &str) -> Option<IpAddr> {
    let t = text.trim().trim_matches('"');
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = t.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let (host, port) = t.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The `for=` hops of RFC 7239 `Forwarded` values, in order (`None` for a hop that names no address:
/// `unknown`, an obfuscated name, a malformed element).
fn forwarded_hops(values: &[&str]) -> Vec<Option<IpAddr>> {
    let mut hops = Vec::new();
    for element in values.iter().flat_map(|v| v.split(',')) {
        let found = element.split(';').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            k.trim().eq_ignore_ascii_case("for").then(|| v.trim())
        });
        hops.push(found.and_then(parse_hop));
    }
    hops
}

/// The client's address: `peer` when it is not a trusted proxy (or there are none); else the
/// rightmost hop of the forwarding header (`x-forwarded-for` or `forwarded`, every instance in
/// order) that is not itself trusted. A hop that is not an address stops the walk: the last trusted
/// address seen is then the answer.
pub(crate) fn client_ip(peer: Option<IpAddr>, header_values: &[&str], kind: &str, proxies: &[(IpAddr, u8)]) -> Option<IpAddr> {
    let peer = peer.map(canonical)?;
    if !trusted(peer, proxies) {
        return Some(peer);
    }
    let hops: Vec<Option<IpAddr>> =
        if kind == "forwarded" { forwarded_hops(header_values) } else { header_values.iter().flat_map(|v| v.split(',')).map(parse_hop).collect() };
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        let Some(ip) = hop.map(canonical) else { break };
        client = ip;
        if !trusted(ip, proxies) {
            break;
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<(IpAddr, u8)> {
        list.iter().map(|c| crate::config::parse_cidr(c).unwrap()).collect()
    }

    #[test]
    fn cidr_membership() {
        let n = nets(&["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]);
        assert!(trusted("10.1.2.3".parse().unwrap(), &n));
        assert!(trusted("::ffff:10.1.2.3".parse().unwrap(), &n));
        assert!(!trusted("11.0.0.1".parse().unwrap(), &n));
        assert!(trusted("2001:db8:1::1".parse().unwrap(), &n));
        assert!(!trusted("2001:db9::1".parse().unwrap(), &n));
        assert!(trusted("192.0.2.7".parse().unwrap(), &n));
        assert!(!trusted("192.0.2.8".parse().unwrap(), &n));
        assert!(trusted("1.2.3.4".parse().unwrap(), &nets(&["0.0.0.0/0"])));
        assert!(!trusted("10.0.0.1".parse().unwrap(), &nets(&["10.0.0.0/9", "10.128.0.0/9"])[1..]));
    }

    #[test]
    fn walks_right_to_left_through_trusted_hops_only() {
        let n = nets(&["10.0.0.0/8"]);
        let peer = Some("10.0.0.1".parse().unwrap());
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // The client wrote 6.6.6.6 itself; the proxy appended what it saw.
        assert_eq!(client_ip(peer, &["6.6.6.6, 203.0.113.9"], "x-forwarded-for", &n), ip("203.0.113.9"));
        assert_eq!(client_ip(peer, &["6.6.6.6", "203.0.113.9, 10.0.0.2"], "x-forwarded-for", &n), ip("203.0.113.9"));
        assert_eq!(client_ip(ip("198.51.100.1"), &["6.6.6.6"], "x-forwarded-for", &n), ip("198.51.100.1"), "untrusted peer");
        assert_eq!(client_ip(peer, &[], "x-forwarded-for", &n), peer, "no header: the proxy itself");
        assert_eq!(client_ip(peer, &["garbage, 10.0.0.3"], "x-forwarded-for", &n), ip("10.0.0.3"));
        let fwd = ["for=6.6.6.6, for=\"[2001:db8::1]:4711\";proto=https"];
        assert_eq!(client_ip(peer, &fwd, "forwarded", &n), ip("2001:db8::1"));
        assert_eq!(client_ip(peer, &["for=unknown"], "forwarded", &n), peer);
        assert_eq!(client_ip(None, &["1.2.3.4"], "x-forwarded-for", &n), None);
    }
}
