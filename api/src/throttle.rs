//! Who the client is, and how fast it may try to log in.
//!
//! The client is the TCP peer, or, when the peer is one of `CGS_TRUSTED_PROXIES`, the address
//! the proxies name in `Forwarded` or `X-Forwarded-For` (the nearest one they did not add
//! themselves). IPv6 clients count by their /64, the block one subscriber gets.
//!
//! A login is refused with 429 before any work when its address made
//! `CGS_LOGIN_PER_ADDRESS_PER_MINUTE` attempts in the last minute (governor, in this process);
//! failed attempts are then counted in the database per (account, address) and per account
//! (`common::db::sessions::count_attempt`), atomically on both backends.

use std::{
    net::{IpAddr, Ipv6Addr},
    num::NonZeroU32,
    sync::Mutex,
    time::{Duration, Instant},
};

use common::db::{Db, sessions};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};
use ipnet::IpNet;
use poem::{Request, http::HeaderMap, web::RemoteAddr};

use crate::error::ApiError;

/// How often the throttle forgets what is over: governor's idle keys and the database rows
/// of ended windows.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// An attempt refused by [`LoginThrottle::admit`], with how long to wait.
#[derive(Debug)]
pub struct Refused(pub Duration);

impl From<Refused> for ApiError {
    fn from(Refused(wait): Refused) -> Self {
        let seconds = wait.as_secs_f64().ceil() as i64;
        ApiError::too_many("too_many_attempts", "too many login attempts from this address", seconds)
    }
}

pub struct LoginThrottle {
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    last_prune: Mutex<Instant>,
}

impl LoginThrottle {
    pub fn new(per_minute: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            per_address: RateLimiter::keyed(Quota::per_minute(per_minute)),
            last_prune: Mutex::new(Instant::now()),
        }
    }

    /// Lets one more login attempt of `address` through, or answers 429 with the wait.
    pub fn admit(&self, address: IpAddr) -> Result<(), Refused> {
        self.per_address.check_key(&address).map_err(|not_until| {
            Refused(not_until.wait_time_from(governor::clock::DefaultClock::default().now()))
        })
    }

    /// Once per [`PRUNE_EVERY`]: forgets idle addresses here and deletes the throttle rows whose
    /// window ended before `before`, in the background.
    pub fn prune_now_and_then(&self, db: &Db, before: chrono::DateTime<chrono::Utc>) {
        {
            let mut last = self.last_prune.lock().unwrap_or_else(|e| e.into_inner());
            if last.elapsed() < PRUNE_EVERY {
                return;
            }
            *last = Instant::now();
        }
        self.per_address.retain_recent();
        self.per_address.shrink_to_fit();
        let db = db.clone();
        tokio::spawn(async move {
            let pruned = async {
                let mut tx = db.begin_write().await?;
                let n = sessions::prune_throttle(&mut tx, before).await?;
                tx.commit().await?;
                Ok::<_, common::DomainError>(n)
            };
            match pruned.await {
                Ok(n) => tracing::debug!(rows = n, "pruned the login throttle"),
                Err(e) => tracing::warn!(error = %e, "pruning the login throttle failed"),
            }
        });
    }

    /// How many addresses the throttle remembers now.
    pub fn addresses(&self) -> usize {
        self.per_address.len()
    }
}

/// The client of a request (see the module's comment); the unspecified address when poem
/// knows no peer (never over TCP).
pub fn client_address(req: &Request, trusted: &[IpNet]) -> IpAddr {
    let peer = match req.remote_addr() {
        RemoteAddr(poem::Addr::SocketAddr(addr)) => addr.ip().to_canonical(),
        _ => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    client_of(peer, req.headers(), trusted)
}

fn client_of(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return per_subscriber(peer);
    }
    // The hops the proxies appended, nearest last; the client is the nearest hop not trusted.
    let hops = forwarded_hops(headers);
    let client = hops.iter().rev().find(|ip| !is_trusted(ip)).or(hops.first()).copied().unwrap_or(peer);
    per_subscriber(client)
}

/// The addresses named by `Forwarded` (RFC 7239) or else `X-Forwarded-For`, in order; a hop
/// that is not an address (`unknown`, an obfuscated name) ends the list there.
fn forwarded_hops(headers: &HeaderMap) -> Vec<IpAddr> {
    let forwarded: Vec<&str> = headers.get_all("forwarded").iter().filter_map(|v| v.to_str().ok()).collect();
    let hops: Vec<String> = if !forwarded.is_empty() {
        forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (name, value) = pair.trim().split_once('=')?;
                    name.trim().eq_ignore_ascii_case("for").then(|| value.trim().trim_matches('"').to_owned())
                })
            })
            .collect()
    } else {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|hop| hop.trim().to_owned())
            .collect()
    };
    let mut out = Vec::new();
    for hop in hops {
        match parse_hop(&hop) {
            Some(ip) => out.push(ip),
            None => out.clear(),
        }
    }
    out
}

/// `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711` or `2001:db8::1`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest
            .split_once(']')
            .and_then(|(ip, _)| ip.parse::<IpAddr>().ok())
            .map(|ip| ip.to_canonical());
    }
    hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip().to_canonical())
}

/// An IPv4 address as it is; an IPv6 address cut to its /64.
fn per_subscriber(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
    }
}

/// The throttle keys of a login: the account alone, and the account at one address.
pub fn keys(email: &str, address: IpAddr) -> (String, String) {
    (format!("account:{email}"), format!("pair:{address}:{email}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The peer and headers of a request, as [`client_of`] takes them.
    struct Seen(IpAddr, HeaderMap);

    fn request(peer: &str, headers: &[(&str, &str)]) -> Seen {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(poem::http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        Seen(peer.parse::<std::net::SocketAddr>().unwrap().ip().to_canonical(), map)
    }

    fn client_address(seen: &Seen, trusted: &[IpNet]) -> IpAddr {
        client_of(seen.0, &seen.1, trusted)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_peer_is_the_client_unless_it_is_a_trusted_proxy() {
        let forged = [("x-forwarded-for", "203.0.113.9")];
        assert_eq!(client_address(&request("198.51.100.7:5000", &forged), &[]), ip("198.51.100.7"));
        let proxies = vec![common::config::parse_network("10.0.0.0/8").unwrap()];
        assert_eq!(client_address(&request("198.51.100.7:5000", &forged), &proxies), ip("198.51.100.7"));
        assert_eq!(client_address(&request("10.1.2.3:5000", &forged), &proxies), ip("203.0.113.9"));
    }

    #[test]
    fn a_client_cannot_pose_as_another_by_prepending_hops() {
        let proxies = vec![common::config::parse_network("10.0.0.0/8").unwrap()];
        // The client wrote the first hop itself; the proxies appended its real address and theirs.
        let xff = [("x-forwarded-for", "203.0.113.9, 198.51.100.7, 10.0.0.2")];
        assert_eq!(client_address(&request("10.0.0.1:5000", &xff), &proxies), ip("198.51.100.7"));
        let forwarded = [("forwarded", r#"for=203.0.113.9, for="[2001:db8:1:2::7]:4711";proto=https"#)];
        assert_eq!(client_address(&request("10.0.0.1:5000", &forwarded), &proxies), ip("2001:db8:1:2::"));
        let unknown = [("x-forwarded-for", "unknown, 10.0.0.9")];
        assert_eq!(client_address(&request("10.0.0.1:5000", &unknown), &proxies), ip("10.0.0.9"));
    }

    #[test]
    fn ipv6_clients_count_by_their_slash_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(client_address(&request("[2001:db8:1:2:aaaa::1]:5000", &[]), &[]), ip("2001:db8:1:2::"));
        assert_eq!(client_address(&request("[::ffff:192.0.2.1]:5000", &[]), &[]), ip("192.0.2.1"));
    }

    #[test]
    fn an_address_past_its_quota_waits_and_others_do_not() {
        let throttle = LoginThrottle::new(3);
        for _ in 0..3 {
            throttle.admit(ip("192.0.2.1")).unwrap();
        }
        let Err(Refused(wait)) = throttle.admit(ip("192.0.2.1")) else { panic!("a fourth attempt passed") };
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(20), "{wait:?}");
        throttle.admit(ip("192.0.2.2")).unwrap();
        assert_eq!(throttle.addresses(), 2);
    }
}
