//! Outpost patch: `JSON.parse` without a reviver, straight from the string's UTF-16
//! code units to values.
//!
//! Upstream converts the text to a Rust `String` (which fails on a lone surrogate, legal
//! in a JavaScript string), validates it with serde_json (whose escape decoder rejects
//! `"\uD800"`, valid JSON), then compiles and runs it as a script. This parser follows
//! ECMA-404 and ECMA-262's JSON.parse on code units, so lone surrogates survive as V8
//! keeps them, and it builds the values directly.

use crate::{
    Context, JsResult, JsString, JsValue, error::JsNativeError, object::JsObject,
    object::builtins::JsArray,
};

/// How deep arrays and objects may nest (each level is a Rust stack frame).
const MAX_DEPTH: usize = 512;

struct Parser<'a> {
    text: &'a [u16],
    pos: usize,
}

fn is_ws(c: u16) -> bool {
    matches!(c, 0x09 | 0x0A | 0x0D | 0x20)
}

impl Parser<'_> {
    fn error(&self, what: &str) -> crate::JsError {
        let message = match self.text.get(self.pos) {
            None => format!("{what}: unexpected end of JSON input"),
            Some(&c) => {
                let shown = char::from_u32(u32::from(c)).map_or_else(
                    || format!("\\u{c:04x}"),
                    |ch| ch.to_string(),
                );
                format!(
                    "{what}: unexpected token '{shown}' in JSON at position {}",
                    self.pos
                )
            }
        };
        JsNativeError::syntax().with_message(message).into()
    }

    fn skip_ws(&mut self) {
        while self.text.get(self.pos).is_some_and(|&c| is_ws(c)) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u16> {
        self.text.get(self.pos).copied()
    }

    fn expect_word(&mut self, word: &str) -> JsResult<()> {
        for b in word.bytes() {
            if self.peek() != Some(u16::from(b)) {
                return Err(self.error("invalid literal"));
            }
            self.pos += 1;
        }
        Ok(())
    }

    fn value(&mut self, depth: usize, context: &mut Context) -> JsResult<JsValue> {
        self.skip_ws();
        match self.peek() {
            Some(0x7B) => self.object(depth + 1, context),
            Some(0x5B) => self.array(depth + 1, context),
            Some(0x22) => Ok(JsValue::from(self.string()?)),
            Some(0x74) => self.expect_word("true").map(|()| JsValue::from(true)),
            Some(0x66) => self.expect_word("false").map(|()| JsValue::from(false)),
            Some(0x6E) => self.expect_word("null").map(|()| JsValue::null()),
            Some(c) if c == 0x2D || (0x30..=0x39).contains(&c) => self.number(),
            _ => Err(self.error("expected a value")),
        }
    }

    fn object(&mut self, depth: usize, context: &mut Context) -> JsResult<JsValue> {
        if depth > MAX_DEPTH {
            return Err(self.error("JSON nested too deeply"));
        }
        self.pos += 1;
        let obj = JsObject::with_object_proto(context.intrinsics());
        self.skip_ws();
        if self.peek() == Some(0x7D) {
            self.pos += 1;
            return Ok(obj.into());
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(0x22) {
                return Err(self.error("expected a property name"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(0x3A) {
                return Err(self.error("expected ':'"));
            }
            self.pos += 1;
            let value = self.value(depth, context)?;
            // CreateDataProperty: a repeated name keeps the last value, and `__proto__`
            // is an ordinary property here.
            obj.create_data_property_or_throw(key, value, context)?;
            self.skip_ws();
            match self.peek() {
                Some(0x2C) => self.pos += 1,
                Some(0x7D) => {
                    self.pos += 1;
                    return Ok(obj.into());
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize, context: &mut Context) -> JsResult<JsValue> {
        if depth > MAX_DEPTH {
            return Err(self.error("JSON nested too deeply"));
        }
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(0x5D) {
            self.pos += 1;
            return Ok(JsArray::from_iter(items, context).into());
        }
        loop {
            items.push(self.value(depth, context)?);
            self.skip_ws();
            match self.peek() {
                Some(0x2C) => self.pos += 1,
                Some(0x5D) => {
                    self.pos += 1;
                    return Ok(JsArray::from_iter(items, context).into());
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn hex4(&mut self) -> JsResult<u16> {
        let mut n: u16 = 0;
        for _ in 0..4 {
            let digit = self
                .peek()
                .and_then(|c| char::from_u32(u32::from(c)))
                .and_then(|c| c.to_digit(16))
                .ok_or_else(|| self.error("bad \\u escape"))?;
            n = n * 16 + digit as u16;
            self.pos += 1;
        }
        Ok(n)
    }

    fn string(&mut self) -> JsResult<JsString> {
        self.pos += 1;
        let start = self.pos;
        // Fast path: no escapes.
        while let Some(c) = self.peek() {
            match c {
                0x22 => {
                    let s = JsString::from(&self.text[start..self.pos]);
                    self.pos += 1;
                    return Ok(s);
                }
                0x5C => break,
                c if c < 0x20 => return Err(self.error("bad control character in string")),
                _ => self.pos += 1,
            }
        }
        let mut out: Vec<u16> = self.text[start..self.pos].to_vec();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            self.pos += 1;
            match c {
                0x22 => return Ok(JsString::from(out.as_slice())),
                0x5C => {
                    let Some(e) = self.peek() else {
                        return Err(self.error("unterminated string"));
                    };
                    self.pos += 1;
                    let unit = match e {
                        0x22 => 0x22,
                        0x5C => 0x5C,
                        0x2F => 0x2F,
                        0x62 => 0x08,
                        0x66 => 0x0C,
                        0x6E => 0x0A,
                        0x72 => 0x0D,
                        0x74 => 0x09,
                        0x75 => self.hex4()?,
                        _ => {
                            self.pos -= 1;
                            return Err(self.error("bad escape"));
                        }
                    };
                    out.push(unit);
                }
                c if c < 0x20 => {
                    self.pos -= 1;
                    return Err(self.error("bad control character in string"));
                }
                c => out.push(c),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let from = self.pos;
        while self.peek().is_some_and(|c| (0x30..=0x39).contains(&c)) {
            self.pos += 1;
        }
        self.pos - from
    }

    fn number(&mut self) -> JsResult<JsValue> {
        let start = self.pos;
        if self.peek() == Some(0x2D) {
            self.pos += 1;
        }
        match self.peek() {
            Some(0x30) => self.pos += 1,
            Some(c) if (0x31..=0x39).contains(&c) => {
                self.digits();
            }
            _ => return Err(self.error("bad number")),
        }
        if self.peek() == Some(0x2E) {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error("bad number"));
            }
        }
        if matches!(self.peek(), Some(0x65 | 0x45)) {
            self.pos += 1;
            if matches!(self.peek(), Some(0x2B | 0x2D)) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("bad number"));
            }
        }
        // ASCII only by construction.
        let text: String = self.text[start..self.pos]
            .iter()
            .map(|&c| c as u8 as char)
            .collect();
        let n: f64 = text.parse().map_err(|_| self.error("bad number"))?;
        Ok(JsValue::from(n))
    }
}

/// `JSON.parse(text)` with no reviver.
pub(super) fn parse(text: &JsString, context: &mut Context) -> JsResult<JsValue> {
    let units = text.to_vec();
    let mut p = Parser {
        text: &units,
        pos: 0,
    };
    let value = p.value(0, context)?;
    p.skip_ws();
    if p.pos != units.len() {
        return Err(p.error("unexpected text after JSON"));
    }
    Ok(value)
}
