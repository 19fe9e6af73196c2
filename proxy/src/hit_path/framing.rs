//! Where an HTTP/1 response body ends (RFC 9112 §6), for a pass that relays the
//! origin's bytes as they are: a length, chunks, or the connection's close.

/// How the origin's body is framed, and how much of it is still to come.
#[derive(Debug)]
pub(super) enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    Empty,
    /// `Content-Length`: bytes still to come.
    Length(u64),
    /// `Transfer-Encoding: chunked`, relayed chunk syntax and all.
    Chunked(Chunks),
    /// Neither: the body ends when the origin closes the connection.
    UntilClose,
}

/// The chunked framing is broken (RFC 9112 §7.1): the relay stops.
#[derive(Debug)]
pub(super) struct BadChunk;

impl Framing {
    /// Reads `bytes`, the next bytes after what was read before: how many of them are
    /// still the body, and whether the body ends with them.
    pub(super) fn advance(&mut self, bytes: &[u8]) -> Result<(usize, bool), BadChunk> {
        match self {
            Framing::Empty => Ok((0, true)),
            Framing::Length(left) => {
                let take = (*left).min(bytes.len() as u64);
                *left -= take;
                Ok((take as usize, *left == 0))
            }
            Framing::Chunked(chunks) => chunks.advance(bytes),
            Framing::UntilClose => Ok((bytes.len(), false)),
        }
    }
}

/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;

/// Follows chunked framing across reads without copying: sizes, data, the CRLF after
/// each chunk, and the trailer section up to its empty line.
#[derive(Debug, Default)]
pub(super) struct Chunks {
    state: State,
    /// Bytes of the current size or trailer line so far.
    line: usize,
    /// The chunk size read so far, and whether it has a digit.
    size: u64,
    digits: bool,
    /// Past the size's digits (an extension or whitespace follows).
    after_size: bool,
    /// The current trailer line has more than its CR.
    trailer_text: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
enum State {
    #[default]
    Size,
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    Trailer,
    Done,
}

impl Chunks {
    fn advance(&mut self, bytes: &[u8]) -> Result<(usize, bool), BadChunk> {
        let mut i = 0;
        while i < bytes.len() {
            match self.state {
                State::Done => return Ok((i, true)),
                State::Data(left) => {
                    let take = left.min((bytes.len() - i) as u64);
                    i += take as usize;
                    self.state = match left - take {
                        0 => State::DataEnd,
                        n => State::Data(n),
                    };
                    continue;
                }
                State::Size => self.size_byte(bytes[i])?,
                State::DataEnd => match bytes[i] {
                    b'\r' if self.line == 0 => self.line = 1,
                    b'\n' => {
                        self.line = 0;
                        self.state = State::Size;
                    }
                    _ => return Err(BadChunk),
                },
                State::Trailer => self.trailer_byte(bytes[i])?,
            }
            i += 1;
        }
        Ok((i, self.state == State::Done))
    }

    fn size_byte(&mut self, b: u8) -> Result<(), BadChunk> {
        self.line += 1;
        if self.line > MAX_LINE {
            return Err(BadChunk);
        }
        if b == b'\n' {
            if !self.digits {
                return Err(BadChunk);
            }
            self.state = match self.size {
                0 => State::Trailer,
                n => State::Data(n),
            };
            self.line = 0;
            self.size = 0;
            self.digits = false;
            self.after_size = false;
            self.trailer_text = false;
            return Ok(());
        }
        match (b as char).to_digit(16) {
            Some(d) if !self.after_size => {
                self.size = self
                    .size
                    .checked_mul(16)
                    .and_then(|s| s.checked_add(u64::from(d)))
                    .ok_or(BadChunk)?;
                self.digits = true;
            }
            _ if !self.digits => return Err(BadChunk),
            _ => self.after_size = true,
        }
        Ok(())
    }

    fn trailer_byte(&mut self, b: u8) -> Result<(), BadChunk> {
        self.line += 1;
        if self.line > MAX_LINE {
            return Err(BadChunk);
        }
        match b {
            b'\n' if !self.trailer_text => self.state = State::Done,
            b'\n' => {
                self.line = 0;
                self.trailer_text = false;
            }
            b'\r' => {}
            _ => self.trailer_text = true,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(framing: &mut Framing, parts: &[&[u8]]) -> Result<(usize, bool), BadChunk> {
        let mut total = 0;
        for p in parts {
            let (n, done) = framing.advance(p)?;
            total += n;
            if done {
                return Ok((total, true));
            }
        }
        Ok((total, false))
    }

    #[test]
    fn chunked_ends_after_the_trailer_section_in_any_split() {
        let body: &[u8] = b"5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        let end = body.len() - 4;
        for cut in 0..body.len() {
            let mut f = Framing::Chunked(Chunks::default());
            let (n, done) = run(&mut f, &[&body[..cut], &body[cut..]]).expect("valid");
            assert!(done, "cut at {cut}");
            assert_eq!(n, end, "cut at {cut}");
        }
        let mut f = Framing::Chunked(Chunks::default());
        assert_eq!(run(&mut f, &[b"0\r\n\r\n"]).expect("valid"), (5, true));
    }

    #[test]
    fn broken_chunks_are_refused() {
        for bad in [
            &b"zz\r\n"[..],
            b"\r\n",
            b"3\r\nabcXY",
            b"ffffffffffffffffff\r\n",
        ] {
            let mut f = Framing::Chunked(Chunks::default());
            assert!(run(&mut f, &[bad]).is_err(), "{bad:?}");
        }
        let mut f = Framing::Chunked(Chunks::default());
        assert!(run(&mut f, &[&[b'1'; 5000]]).is_err());
    }

    #[test]
    fn a_length_counts_down_across_reads() {
        let mut f = Framing::Length(10);
        assert_eq!(f.advance(b"12345").expect("ok"), (5, false));
        assert_eq!(f.advance(b"67890extra").expect("ok"), (5, true));
        assert_eq!(Framing::Empty.advance(b"x").expect("ok"), (0, true));
    }
}
