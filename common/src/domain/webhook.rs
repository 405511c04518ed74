//! Webhooks, the rules without I/O: the events other systems may follow, the addresses a
//! webhook may not reach (loopback, private, link-local, metadata and other non-public
//! ranges), and the signature of a body.

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a webhook may follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
pub enum WebhookEvent {
    #[serde(rename = "ticket.created")]
    #[cfg_attr(feature = "openapi", oai(rename = "ticket.created"))]
    TicketCreated,
    /// Any command on a ticket; the body names it (`command`).
    #[serde(rename = "ticket.changed")]
    #[cfg_attr(feature = "openapi", oai(rename = "ticket.changed"))]
    TicketChanged,
    #[serde(rename = "ticket.sla_warning")]
    #[cfg_attr(feature = "openapi", oai(rename = "ticket.sla_warning"))]
    TicketSlaWarning,
    #[serde(rename = "ticket.sla_breached")]
    #[cfg_attr(feature = "openapi", oai(rename = "ticket.sla_breached"))]
    TicketSlaBreached,
    /// Nobody accepted the ticket in time (the body says the `level`).
    #[serde(rename = "ticket.escalated")]
    #[cfg_attr(feature = "openapi", oai(rename = "ticket.escalated"))]
    TicketEscalated,
    /// The NOC approved or rejected a technician's request.
    #[serde(rename = "evidence.validated")]
    #[cfg_attr(feature = "openapi", oai(rename = "evidence.validated"))]
    EvidenceValidated,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 6] = [
        WebhookEvent::TicketCreated,
        WebhookEvent::TicketChanged,
        WebhookEvent::TicketSlaWarning,
        WebhookEvent::TicketSlaBreached,
        WebhookEvent::TicketEscalated,
        WebhookEvent::EvidenceValidated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::TicketCreated => "ticket.created",
            WebhookEvent::TicketChanged => "ticket.changed",
            WebhookEvent::TicketSlaWarning => "ticket.sla_warning",
            WebhookEvent::TicketSlaBreached => "ticket.sla_breached",
            WebhookEvent::TicketEscalated => "ticket.escalated",
            WebhookEvent::EvidenceValidated => "evidence.validated",
        }
    }
}

/// Whether a webhook may not reach `ip` (unless private addresses are allowed): anything but a
/// public unicast address, IPv4 inside IPv6 judged as IPv4.
pub fn forbidden_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local() // 169.254.0.0/16, the clouds' metadata service among them
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
                || (a == 192 && b == 0 && v4.octets()[2] == 0) // IETF protocol assignments
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || a >= 240 // reserved
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_address(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local (fd00:ec2::254 is a metadata address)
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
                || first == 0x2001 && v6.segments()[1] == 0x0db8 // documentation
                || first == 0x0064 && v6.segments()[1] == 0xff9b // NAT64, which may reach IPv4 inside
                || first == 0x2002 // 6to4, likewise
        }
    }
}

/// The `X-CGS-Signature` of `body`: `sha256=` and the hex HMAC-SHA256 of the body with the
/// webhook's secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(7 + 64);
    hex.push_str("sha256=");
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_are_reachable() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
        ] {
            assert!(forbidden_address(ip.parse().unwrap()), "{ip} must be refused");
        }
        for ip in
            ["8.8.8.8", "1.1.1.1", "203.0.114.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "100.128.0.1"]
        {
            assert!(!forbidden_address(ip.parse().unwrap()), "{ip} is public");
        }
    }

    #[test]
    fn the_signature_is_the_hex_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(WebhookEvent::ALL.map(|e| e.as_str()).len(), 6);
        let json = serde_json::to_string(&WebhookEvent::TicketSlaBreached).unwrap();
        assert_eq!(json, "\"ticket.sla_breached\"");
    }
}
