//! Pieces of a head written straight into its buffer, without `core::fmt`: the fast
//! paths write a few numbers and names per request, and `write!` with its formatter
//! was ~10 % of a pass's instructions.

use std::io::Write;
use std::net::IpAddr;

/// Appends each of `parts`.
pub(crate) fn put(out: &mut Vec<u8>, parts: &[&[u8]]) {
    for p in parts {
        out.extend_from_slice(p);
    }
}

/// Appends `n` in decimal.
pub(crate) fn put_dec(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends `n` in lower-case hexadecimal, as `{:x}` writes it.
pub(crate) fn put_hex(out: &mut Vec<u8>, n: u64) {
    let digits = (64 - n.leading_zeros()).div_ceil(4).max(1);
    for i in (0..digits).rev() {
        out.push(b"0123456789abcdef"[((n >> (i * 4)) & 0xf) as usize]);
    }
}

/// Appends `ip` as its `Display` writes it.
pub(crate) fn put_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                put_dec(out, octet);
            }
        }
        // (IPv6's shortest form is `Display`'s to get right.)
        IpAddr::V6(_) => {
            let _ = write!(out, "{ip}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_addresses_read_as_their_display() {
        for n in [0u64, 1, 9, 10, 15, 16, 255, 4096, 0xdead_beef, u64::MAX] {
            let mut out = Vec::new();
            put_hex(&mut out, n);
            assert_eq!(out, format!("{n:x}").into_bytes());
            out.clear();
            put_dec(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
        for ip in [
            "127.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "10.20.3.4",
            "::1",
            "2001:db8::5",
        ] {
            let ip: IpAddr = ip.parse().expect("address");
            let mut out = Vec::new();
            put_ip(&mut out, ip);
            assert_eq!(out, ip.to_string().into_bytes());
        }
    }
}
