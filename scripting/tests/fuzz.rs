//! Property-based fuzzing of the header handling the proxy and scripts share
//! (stable Rust, proptest): `Accept-Encoding` negotiation and cache-variance keys on
//! any header text, and the streaming decoders on any bytes (a hostile origin's
//! "gzip"). Longer runs: `PROPTEST_CASES=100000 cargo test --release -p
//! outpost-scripting --test fuzz`.

use outpost_scripting::codec::{Codec, Coding, accept_encoding_key};
use proptest::prelude::*;

const ALL: [Coding; 4] = [Coding::Zstd, Coding::Brotli, Coding::Gzip, Coding::Deflate];

fn accept() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("gzip"),
            Just("br"),
            Just("zstd"),
            Just("deflate"),
            Just("*"),
            Just("identity"),
            Just(";q="),
            Just("0"),
            Just("1"),
            Just("0.5"),
            Just("1.0000"),
            Just("-1"),
            Just("nan"),
            Just(","),
            Just(" "),
            Just("GZIP"),
            Just("x-gzip"),
            Just(";"),
            Just("="),
        ],
        0..16,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn negotiation_picks_an_offered_coding_the_client_did_not_refuse(a in accept()) {
        if let Some(c) = Coding::negotiate(Some(&a), &ALL) {
            prop_assert!(ALL.contains(&c));
            // Never a coding the client named with q=0 and nothing else.
            let refused = format!("{};q=0", c.token());
            prop_assert!(a != refused, "picked a refused coding for {:?}", a);
        }
        let key = accept_encoding_key(Some(&a));
        // The cache variance key is a normalised set, from a fixed vocabulary.
        prop_assert!(key.split(',').all(|t| t.is_empty() || ["br", "zstd", "gzip", "deflate"].contains(&t)), "{}", key);
        let _ = Coding::from_content_encoding(Some(&a));
    }

    #[test]
    fn decoders_take_any_bytes_without_panicking(
        data in proptest::collection::vec(any::<u8>(), 0..2048),
        split in 0usize..2048,
        which in 0usize..4,
    ) {
        let mut d = Codec::decoder(ALL[which]).expect("decoder");
        let split = split.min(data.len());
        if d.push(&data[..split]).is_ok() && d.push(&data[split..]).is_ok() {
            let _ = d.finish();
        }
    }

    #[test]
    fn every_coding_round_trips(data in proptest::collection::vec(any::<u8>(), 0..4096), which in 0usize..4) {
        let mut e = Codec::encoder(ALL[which]).expect("encoder");
        let mut packed = e.push(&data).expect("encode");
        packed.extend(e.finish().expect("finish"));
        let mut d = Codec::decoder(ALL[which]).expect("decoder");
        let mut out = d.push(&packed).expect("decode");
        out.extend(d.finish().expect("finish"));
        prop_assert_eq!(out, data);
    }
}
