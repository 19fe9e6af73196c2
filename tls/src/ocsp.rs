//! OCSP responses to staple: read the DER file an operator (or their OCSP fetcher)
//! keeps next to a certificate, and check it is one worth sending.
//!
//! Clients verify the responder's signature themselves; what we check is what makes a
//! staple harmful when wrong: a response that is not `successful`, one for another
//! certificate, one saying the certificate is revoked, or one past its `nextUpdate`
//! (some clients fail the connection on an expired staple instead of ignoring it).
//! The parser is a small DER walker over the RFC 6960 structures we read.

use std::time::SystemTime;

/// What an OCSP response says about its certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertStatus {
    /// Not revoked.
    Good,
    /// Revoked.
    Revoked,
    /// The responder does not know the certificate.
    Unknown,
}

/// The parts of an OCSP response that decide whether to staple it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspSummary {
    /// The status of the certificate whose serial matched.
    pub status: CertStatus,
    /// When the response was made valid.
    pub this_update: SystemTime,
    /// When it stops being valid (`None`: the responder gave no bound).
    pub next_update: Option<SystemTime>,
}

/// One DER element: tag byte, contents, and what follows it.
fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let (&tag, rest) = input.split_first().ok_or("truncated DER")?;
    if tag & 0x1f == 0x1f {
        return Err("multi-byte DER tags are not used by OCSP".into());
    }
    let (&first, rest) = rest.split_first().ok_or("truncated DER length")?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err("bad DER length".into());
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err("DER element longer than the data".into());
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// The contents of an element that must have tag `want`.
fn expect<'a>(input: &'a [u8], want: u8, what: &str) -> Result<(&'a [u8], &'a [u8]), String> {
    let (tag, content, rest) = tlv(input)?;
    if tag != want {
        return Err(format!(
            "expected {what} (tag {want:#04x}), found tag {tag:#04x}"
        ));
    }
    Ok((content, rest))
}

/// `YYYYMMDDHHMMSS[.fff]Z` as a time.
fn generalized_time(bytes: &[u8]) -> Result<SystemTime, String> {
    let s = std::str::from_utf8(bytes).map_err(|_| "time is not ASCII")?;
    let digits = s
        .strip_suffix('Z')
        .ok_or("time is not in UTC (no Z)")?
        .split('.')
        .next()
        .unwrap_or_default();
    if digits.len() != 14 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("malformed time {s:?}"));
    }
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &digits[0..4],
        &digits[4..6],
        &digits[6..8],
        &digits[8..10],
        &digits[10..12],
        &digits[12..14]
    );
    humantime::parse_rfc3339(&rfc3339).map_err(|e| format!("malformed time {s:?}: {e}"))
}

/// Reads an OCSP response (DER) and finds the answer for the certificate with
/// `serial` (its INTEGER contents, as in the certificate).
pub fn inspect(der: &[u8], serial: &[u8]) -> Result<OcspSummary, String> {
    const SEQUENCE: u8 = 0x30;
    let (response, trailing) = expect(der, SEQUENCE, "OCSPResponse")?;
    if !trailing.is_empty() {
        return Err("data after the OCSP response".into());
    }
    let (status, rest) = expect(response, 0x0a, "responseStatus")?;
    if status != [0] {
        let name = match status {
            [1] => "malformedRequest",
            [2] => "internalError",
            [3] => "tryLater",
            [5] => "sigRequired",
            [6] => "unauthorized",
            _ => "unknown status",
        };
        return Err(format!(
            "the responder did not answer ({name}); this is not a response to staple"
        ));
    }
    let (bytes, _) = expect(rest, 0xa0, "responseBytes")?;
    let (bytes, _) = expect(bytes, SEQUENCE, "ResponseBytes")?;
    let (_oid, rest) = expect(bytes, 0x06, "responseType")?;
    let (basic, _) = expect(rest, 0x04, "response")?;
    let (basic, _) = expect(basic, SEQUENCE, "BasicOCSPResponse")?;
    let (data, _) = expect(basic, SEQUENCE, "ResponseData")?;
    let mut rest = data;
    // [0] version (optional), responderID ([1] or [2]), producedAt.
    let (tag, _, r) = tlv(rest)?;
    if tag == 0xa0 {
        rest = r;
        let (_, _, r) = tlv(rest)?;
        rest = r;
    } else {
        rest = r;
    }
    let (_produced, r) = expect(rest, 0x18, "producedAt")?;
    let (mut responses, _) = expect(r, SEQUENCE, "responses")?;
    while !responses.is_empty() {
        let (single, r) = expect(responses, SEQUENCE, "SingleResponse")?;
        responses = r;
        let (cert_id, after_id) = expect(single, SEQUENCE, "CertID")?;
        let (_, r) = expect(cert_id, SEQUENCE, "hashAlgorithm")?;
        let (_, r) = expect(r, 0x04, "issuerNameHash")?;
        let (_, r) = expect(r, 0x04, "issuerKeyHash")?;
        let (id_serial, _) = expect(r, 0x02, "serialNumber")?;
        if id_serial != serial {
            continue;
        }
        let (tag, _, r) = tlv(after_id)?;
        let status = match tag & 0x1f {
            0 => CertStatus::Good,
            1 => CertStatus::Revoked,
            _ => CertStatus::Unknown,
        };
        let (this_update, r) = expect(r, 0x18, "thisUpdate")?;
        let this_update = generalized_time(this_update)?;
        let next_update = match tlv(r) {
            Ok((0xa0, inner, _)) => {
                let (t, _) = expect(inner, 0x18, "nextUpdate")?;
                Some(generalized_time(t)?)
            }
            _ => None,
        };
        return Ok(OcspSummary {
            status,
            this_update,
            next_update,
        });
    }
    Err("the response is for another certificate (no serial number matches)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DER element with `tag` around `content` (short or long form length).
    fn el(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        if content.len() < 0x80 {
            v.push(content.len() as u8);
        } else {
            v.push(0x82);
            v.extend_from_slice(&(content.len() as u16).to_be_bytes());
        }
        v.extend_from_slice(content);
        v
    }

    fn response(serial: &[u8], status_tag: u8, next: Option<&str>) -> Vec<u8> {
        let cert_id = el(
            0x30,
            &[
                el(0x30, &el(0x06, &[0x2b, 0x0e, 0x03, 0x02, 0x1a])),
                el(0x04, &[1; 20]),
                el(0x04, &[2; 20]),
                el(0x02, serial),
            ]
            .concat(),
        );
        let mut single = [cert_id, el(status_tag, &[]), el(0x18, b"20261101000000Z")].concat();
        if let Some(n) = next {
            single.extend(el(0xa0, &el(0x18, n.as_bytes())));
        }
        let data = el(
            0x30,
            &[
                el(0xa2, &el(0x04, &[3; 20])),
                el(0x18, b"20261101000000Z"),
                el(0x30, &el(0x30, &single)),
            ]
            .concat(),
        );
        let basic = el(0x30, &[data, el(0x30, &[]), el(0x03, &[0])].concat());
        let bytes = el(
            0x30,
            &[
                el(
                    0x06,
                    &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01],
                ),
                el(0x04, &basic),
            ]
            .concat(),
        );
        el(0x30, &[el(0x0a, &[0]), el(0xa0, &bytes)].concat())
    }

    #[test]
    fn reads_status_and_validity_for_the_right_serial() {
        let der = response(&[0x12, 0x34], 0x80, Some("20261201000000Z"));
        let s = inspect(&der, &[0x12, 0x34]).expect("parses");
        assert_eq!(s.status, CertStatus::Good);
        assert_eq!(
            s.next_update,
            Some(humantime::parse_rfc3339("2026-12-01T00:00:00Z").expect("time"))
        );
        let revoked = response(&[7], 0xa1, None);
        assert_eq!(
            inspect(&revoked, &[7]).expect("parses").status,
            CertStatus::Revoked
        );
        let err = inspect(&der, &[0x99]).expect_err("other certificate");
        assert!(err.contains("another certificate"), "{err}");
    }

    #[test]
    fn refuses_unsuccessful_and_malformed_responses() {
        let try_later = el(0x30, &el(0x0a, &[3]));
        assert!(
            inspect(&try_later, &[1])
                .expect_err("tryLater")
                .contains("tryLater")
        );
        let der = response(&[1], 0x80, None);
        for cut in 0..der.len() {
            assert!(inspect(&der[..cut], &[1]).is_err(), "cut at {cut}");
        }
        assert!(inspect(b"not der at all", &[1]).is_err());
    }
}
