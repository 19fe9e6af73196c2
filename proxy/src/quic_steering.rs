//! Keeps every QUIC packet on the process that owns its connection while a binary
//! upgrade runs two processes on one UDP port.
//!
//! Both processes bind the port with `SO_REUSEPORT`, and the kernel would spread
//! packets over their sockets by a hash of addresses and ports: once the new process
//! binds, about half of the old process's connections would have their packets
//! delivered to a process that does not know them, and stall. Instead, each process
//! puts a tag of its own in the first two bytes of every connection ID it issues
//! (the rest is random), and the newest process attaches a classic BPF program to the
//! port's reuseport group that sends a packet whose destination connection ID carries
//! its tag, or that starts a connection (a client's Initial or 0-RTT packet), to its
//! socket, and every other packet to the old process's socket. A process alone on the
//! port is chosen whatever the program returns (an index past the group's end falls
//! back to the hash, over one socket).
//!
//! The tag is random per process, so it says nothing about a client; it is the same
//! for all connections of a process, which tells an observer only which server
//! process answers, as the address does.

use nix::libc;
use std::os::fd::AsFd;
use std::time::Duration;

/// Bytes of each connection ID this process issues: two of tag, fourteen random.
const CID_LEN: usize = 16;

/// This process's tag, put at the start of its connection IDs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tag(u16);

impl Tag {
    /// A fresh random tag (two processes share one with a chance of 1 in 65 536; they
    /// then fall back to the kernel's hash, as without steering).
    pub(crate) fn random() -> Self {
        Tag(rand::random())
    }

    /// Issues this process's connection IDs.
    pub(crate) fn generator(self) -> Box<dyn quinn::ConnectionIdGenerator> {
        Box::new(TaggedIds(self))
    }
}

/// quinn's connection-ID source for this process: the tag, then random bytes (from a
/// cryptographic generator, so IDs of one connection cannot be linked to each other).
struct TaggedIds(Tag);

impl quinn::ConnectionIdGenerator for TaggedIds {
    fn generate_cid(&mut self) -> quinn::ConnectionId {
        let mut bytes = [0u8; CID_LEN];
        bytes[..2].copy_from_slice(&self.0.0.to_be_bytes());
        let random: [u8; CID_LEN - 2] = rand::random();
        bytes[2..].copy_from_slice(&random);
        quinn::ConnectionId::new(&bytes)
    }

    fn cid_len(&self) -> usize {
        CID_LEN
    }

    fn cid_lifetime(&self) -> Option<Duration> {
        None
    }
}

/// Index of the socket a newly bound process holds in the reuseport group: the old
/// process's socket is the first, the new one's the second.
const NEWEST: u32 = 1;
const OLDER: u32 = 0;

/// The BPF program: where a packet goes. Packet offsets are into the UDP payload (the
/// kernel runs the program past the UDP header).
fn program(tag: Tag) -> [libc::sock_filter; 10] {
    const LDB: u16 = (libc::BPF_LD | libc::BPF_B | libc::BPF_ABS) as u16;
    const LDH: u16 = (libc::BPF_LD | libc::BPF_H | libc::BPF_ABS) as u16;
    const JSET: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
    const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
    const AND: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
    const RET: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    // Jumps count from the next instruction.
    [
        // 0: the first byte; the high bit marks a long header (RFC 9000 §17.2).
        op(LDB, 0, 0, 0),
        op(JSET, 2, 0, 0x80),
        // 2: short header: the destination connection ID starts at byte 1.
        op(LDH, 0, 0, 1),
        op(JA, 0, 0, 3),
        // 4: long header: Initial and 0-RTT packets (types 0 and 1) come from a
        // client starting a connection, whose IDs are its own: to the newest process.
        // Handshake packets (type 2) carry ours, after the length byte at 5.
        op(AND, 0, 0, 0x30),
        op(JEQ, 0, 3, 0x20),
        op(LDH, 0, 0, 6),
        // 7: our tag: ours; any other: the older process's.
        op(JEQ, 1, 0, u32::from(tag.0)),
        op(RET, 0, 0, OLDER),
        op(RET, 0, 0, NEWEST),
    ]
}

/// Attaches the steering program to the reuseport group `socket` (bound) belongs to,
/// replacing the one an older process attached.
pub(crate) fn attach(socket: &impl AsFd, tag: Tag) -> nix::Result<()> {
    let mut filter = program(tag);
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_mut_ptr(),
    };
    // The kernel copies the program during the call; `filter` outlives it.
    nix::sys::socket::setsockopt(
        socket,
        nix::sys::socket::sockopt::AttachReusePortCbpf,
        &prog,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    /// Two sockets in one group, as during an upgrade: the first is the old process's,
    /// the second the new one's, steering with the new tag. Packets are steered by
    /// what they carry, whatever their source port.
    #[test]
    fn packets_follow_the_tag_of_their_connection_id() {
        let (old, addr) = bound("127.0.0.1:0".parse().expect("addr"));
        let (new, _) = bound(addr);
        let (old_tag, new_tag) = (Tag(0x1111), Tag(0x2222));
        attach(&new, new_tag).expect("attach");
        for s in [&old, &new] {
            s.set_nonblocking(true).expect("nonblocking");
        }
        let short = |tag: Tag| {
            let mut p = vec![0x40];
            p.extend_from_slice(&tag.0.to_be_bytes());
            p.extend_from_slice(&[7; 30]);
            p
        };
        let long = |kind: u8, tag: Tag| {
            let mut p = vec![0xc0 | (kind << 4), 0, 0, 0, 1, 16];
            p.extend_from_slice(&tag.0.to_be_bytes());
            p.extend_from_slice(&[7; 30]);
            p
        };
        let cases = [
            (short(old_tag), "old"),
            (short(new_tag), "new"),
            (long(0, old_tag), "new"), // an Initial: a new connection
            (long(1, old_tag), "new"), // 0-RTT
            (long(2, old_tag), "old"), // Handshake of a connection the old one owns
            (long(2, new_tag), "new"),
        ];
        for client in 0..8 {
            let sender = UdpSocket::bind("127.0.0.1:0").expect("client");
            for (packet, expected) in &cases {
                sender.send_to(packet, addr).expect("send");
                let mut buf = [0u8; 64];
                let mut got = "none";
                for _ in 0..1000 {
                    if old.recv(&mut buf).is_ok() {
                        got = "old";
                    } else if new.recv(&mut buf).is_ok() {
                        got = "new";
                    } else {
                        std::thread::sleep(Duration::from_millis(1));
                        continue;
                    }
                    break;
                }
                assert_eq!(got, *expected, "client {client}, packet {packet:02x?}");
            }
        }
    }

    #[test]
    fn connection_ids_carry_the_tag_and_differ() {
        let mut ids = Tag(0xabcd).generator();
        let (a, b) = (ids.generate_cid(), ids.generate_cid());
        assert_eq!(a.len(), CID_LEN);
        assert_eq!(&a[..2], &[0xab, 0xcd]);
        assert_ne!(a, b);
    }

    fn bound(addr: std::net::SocketAddr) -> (UdpSocket, std::net::SocketAddr) {
        use socket2::{Domain, Protocol, Socket, Type};
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).expect("socket");
        s.set_reuse_port(true).expect("reuseport");
        s.bind(&addr.into()).expect("bind");
        let s: UdpSocket = s.into();
        let local = s.local_addr().expect("addr");
        (s, local)
    }
}
