//! A hand-written parser for the common shape of `POST /v1/orders` bodies.
//!
//! `serde_json` into [`PlaceOrderRequest`] cost ≈ 3.7k instructions per order: the derived
//! visitor, a field identifier per key and the generic number and string paths. Almost every
//! order a client sends is a flat object of the known fields, with strings that need no escapes
//! and plain integers, and that shape is cheap to read directly (≈ 1.75k instructions for the
//! HTTP bench's order, a third of it the three strings' allocations). [`parse`] reads only that
//! shape and answers `None` for anything else — escapes, nesting, unknown or repeated fields,
//! numbers `serde_json` would read as floats or refuse, anything it is unsure of — and the
//! caller then parses the same bytes with `serde_json` as before. So whenever it answers, its
//! value is the one `serde_json` gives, and every refusal still comes from `serde_json` and
//! axum, unchanged.

use super::PlaceOrderRequest;

/// The request in `bytes`, when the body has the plain shape described above; `None` means
/// "ask `serde_json`", never "invalid".
pub(super) fn parse(bytes: &[u8]) -> Option<PlaceOrderRequest> {
    // One UTF-8 check of the whole body instead of one per string (each call has a fixed cost
    // larger than the short strings of an order). A body that is not UTF-8 is refused by
    // `serde_json` wherever the bad bytes are: outside strings JSON allows only ASCII, and
    // inside them it checks. And a string cut out between two `"` of valid UTF-8 is valid UTF-8
    // itself, since `"` is never part of a longer character.
    let text = std::str::from_utf8(bytes).ok()?;
    let mut r = Reader { text, bytes, at: 0 };
    let mut instrument = None;
    let mut account = None;
    let mut side = None;
    let mut quantity = None;
    // The optional fields keep `Some(None)` for an explicit `null`, as serde's derived visitor
    // does, so that a field given twice is punted even when one of the two is `null`.
    let mut price = None;
    let mut time_in_force = None;
    let mut post_only = None;
    let mut client_order_id = None;
    let mut self_trade = None;
    let mut expires_at = None;
    let mut retire = None;
    r.skip_space();
    r.expect(b'{')?;
    loop {
        r.skip_space();
        let key = r.plain_str()?;
        r.skip_space();
        r.expect(b':')?;
        r.skip_space();
        match key {
            "instrument" => fill(&mut instrument, r.string()?)?,
            "account" => fill(&mut account, r.integer()?)?,
            "side" => fill(&mut side, r.string()?)?,
            "quantity" => fill(&mut quantity, r.integer()?)?,
            "price" => fill(&mut price, r.optional_string()?)?,
            "time_in_force" => fill(&mut time_in_force, r.optional_string()?)?,
            "post_only" => fill(&mut post_only, r.boolean()?)?,
            "client_order_id" => fill(&mut client_order_id, r.optional_string()?)?,
            "self_trade" => fill(&mut self_trade, r.optional_string()?)?,
            "expires_at" => fill(&mut expires_at, r.optional_string()?)?,
            // Only `null`: a beneficiary's object goes to `serde_json`.
            "retire" => fill(&mut retire, r.null()?)?,
            _ => return None,
        }
        r.skip_space();
        match r.next()? {
            b',' => {}
            b'}' => break,
            _ => return None,
        }
    }
    r.skip_space();
    if r.at != bytes.len() {
        return None;
    }
    Some(PlaceOrderRequest {
        instrument: instrument?,
        account: account?,
        side: side?,
        quantity: quantity?,
        price: price.flatten(),
        time_in_force: time_in_force.flatten(),
        post_only: post_only.unwrap_or(false),
        client_order_id: client_order_id.flatten(),
        self_trade: self_trade.flatten(),
        expires_at: expires_at.flatten(),
        retire: None,
    })
}

/// Stores a field's value, or punts (`None`) when the field came before: serde refuses
/// duplicates.
fn fill<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

/// The bytes that end the plain part of a string: its closing `"`, the start of an escape, and
/// the control characters JSON refuses unescaped. A table lookup per byte is cheaper than the
/// three comparisons.
const STRING_STOPS: [bool; 256] = {
    let mut stops = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        stops[b] = true;
        b += 1;
    }
    stops[b'"' as usize] = true;
    stops[b'\\' as usize] = true;
    stops
};

struct Reader<'b> {
    /// The body, known to be UTF-8, and the same as bytes.
    text: &'b str,
    bytes: &'b [u8],
    at: usize,
}

impl<'b> Reader<'b> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    /// JSON's white space, the four bytes `serde_json` skips between tokens.
    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\t' | b'\r')) {
            self.at += 1;
        }
    }

    /// The exact bytes `word`, which must not run on into a letter or digit (`nullx`): the
    /// caller then expects white space, `,` or `}`, so a longer word is punted there anyway.
    fn word(&mut self, word: &[u8]) -> Option<()> {
        let rest = self.bytes.get(self.at..)?;
        if !rest.starts_with(word) {
            return None;
        }
        self.at += word.len();
        Some(())
    }

    /// A string without escapes or control characters: exactly the text `serde_json` would read
    /// from it. Anything else is punted.
    fn plain_str(&mut self) -> Option<&'b str> {
        self.expect(b'"')?;
        let start = self.at;
        while !STRING_STOPS[usize::from(*self.bytes.get(self.at)?)] {
            self.at += 1;
        }
        let end = self.at;
        self.expect(b'"')?;
        self.text.get(start..end)
    }

    fn string(&mut self) -> Option<String> {
        self.plain_str().map(str::to_owned)
    }

    /// `null` or a plain string, as `Option<String>` reads either.
    fn optional_string(&mut self) -> Option<Option<String>> {
        if self.peek()? == b'n' {
            self.word(b"null")?;
            return Some(None);
        }
        self.string().map(Some)
    }

    fn null(&mut self) -> Option<()> {
        self.word(b"null")
    }

    fn boolean(&mut self) -> Option<bool> {
        match self.peek()? {
            b't' => self.word(b"true").map(|()| true),
            b'f' => self.word(b"false").map(|()| false),
            _ => None,
        }
    }

    /// A `u64` written as plain digits, as `serde_json` reads one: no sign (it would read `-0`
    /// as 0, but that is rare enough to leave to it), no leading zero (which it refuses), no
    /// fraction or exponent (a float, which `u64` refuses) and no overflow (a float too).
    fn integer(&mut self) -> Option<u64> {
        let first = self.next()?;
        if !first.is_ascii_digit() {
            return None;
        }
        let mut value = u64::from(first - b'0');
        while let Some(b) = self.peek().filter(u8::is_ascii_digit) {
            if value == 0 {
                return None;
            }
            value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            self.at += 1;
        }
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What `serde_json` makes of `body`, for comparison.
    fn serde(body: &[u8]) -> Option<PlaceOrderRequest> {
        serde_json::from_slice(body).ok()
    }

    /// The one property: whenever the fast parser answers, `serde_json` accepts the body as
    /// the same value.
    fn agrees(body: &[u8]) -> bool {
        match parse(body) {
            None => false,
            Some(fast) => {
                assert_eq!(Some(&fast), serde(body).as_ref(), "{}", String::from_utf8_lossy(body));
                true
            }
        }
    }

    #[test]
    fn the_bench_order_is_taken_as_serde_reads_it() {
        let body =
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":1,"price":"10.00"}"#;
        assert!(agrees(body));
        let full = br#" { "instrument" : "ins1" ,"account":0,"side":"sell","quantity":18446744073709551615,"price":null,"time_in_force":"gtd","expires_at":"2030-01-01T00:00:00Z","post_only":true,"client_order_id":"c-1","self_trade":"cancel_both","retire":null}
 "#;
        assert!(agrees(full));
        assert!(agrees(
            "{\"instrument\":\"راشد\",\"account\":3,\"side\":\"buy\",\"quantity\":1}".as_bytes()
        ));
        assert!(agrees(
            br#"{"quantity":1,"side":"buy","account":3,"instrument":"BENCH-1","post_only":false}"#
        ));
    }

    /// Edge cases, each either punted or read as `serde_json` reads it (and the punted ones
    /// are checked to be punted, so the list documents what the fast path leaves alone).
    #[test]
    fn edge_cases_are_punted_or_agree() {
        let punted: &[&[u8]] = &[
            b"",
            b"{}",
            b"null",
            b"[]",
            br#"{"instrument":"BENCH-1","account":3,"account":3,"side":"buy","quantity":1}"#,
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":1,"price":null,"price":"1"}"#,
            br#"{"instrument":"BENCH\u002d1","account":3,"side":"buy","quantity":1}"#,
            br#"{"instrument":"BENCH\"1","account":3,"side":"buy","quantity":1}"#,
            br#"{"instrum\u0065nt":"BENCH-1","account":3,"side":"buy","quantity":1}"#,
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":18446744073709551616}"#,
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":100000000000000000000000}"#,
            br#"{"instrument":"BENCH-1","account":03,"side":"buy","quantity":1}"#,
            br#"{"instrument":"BENCH-1","account":00,"side":"buy","quantity":1}"#,
            br#"{"instrument":"BENCH-1","account":-3,"side":"buy","quantity":1}"#,
            br#"{"instrument":"BENCH-1","account":-0,"side":"buy","quantity":1}"#,
            br#"{"instrument":"BENCH-1","account":3.0,"side":"buy","quantity":1}"#,
            br#"{"instrument":"BENCH-1","account":3e0,"side":"buy","quantity":1}"#,
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":1E2}"#,
            br#"{"instrument":"BENCH-1","account":"3","side":"buy","quantity":1}"#,
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":1} x"#,
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":1}{}"#,
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":1,}"#,
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":1"#,
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":1,"colour":"red"}"#,
            br#"{"instrument":"BENCH-1","side":"buy","quantity":1}"#,
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":1,"post_only":null}"#,
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":1,"post_only":truex}"#,
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":1,"price":nul}"#,
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":1,"price":nullx}"#,
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":1,"price":10}"#,
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":1,"retire":{"beneficiary":"B","purpose":"voluntary"}}"#,
            br#"{"instrument":{"id":1},"account":3,"side":"buy","quantity":1}"#,
            br#"{"instrument":["BENCH-1"],"account":3,"side":"buy","quantity":1}"#,
            b"{\"instrument\":\"BENCH\xff\",\"account\":3,\"side\":\"buy\",\"quantity\":1}",
            b"{\"instrument\":\"BENCH\t1\",\"account\":3,\"side\":\"buy\",\"quantity\":1}",
            b"{\"instrument\":\"BENCH-1\",\"account\":3,\"side\":\"buy\",\"quantity\":1}\x0c",
            b"\xef\xbb\xbf{\"instrument\":\"BENCH-1\",\"account\":3,\"side\":\"buy\",\"quantity\":1}",
        ];
        for body in punted {
            assert!(parse(body).is_none(), "{}", String::from_utf8_lossy(body));
        }
        let taken: &[&[u8]] = &[
            br#"{"instrument":"","account":0,"side":"","quantity":0}"#,
            b"\r\n\t {\r\n\t\"instrument\"\r\n\t:\r\n\t\"x\"\r\n\t,\"account\":1,\"side\":\"b\",\"quantity\":2\r\n\t}\r\n\t",
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":1,"retire":null,"expires_at":null}"#,
            "{\"instrument\":\"\u{7f}\u{10ffff}\",\"account\":3,\"side\":\"buy\",\"quantity\":1}"
                .as_bytes(),
        ];
        for body in taken {
            assert!(agrees(body), "{}", String::from_utf8_lossy(body));
        }
    }

    /// A field value as a client might write it: right for its type or not.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            // Integers: plain, leading zeros, signed, fractions, exponents, at and past
            // `u64::MAX`.
            any::<u64>().prop_map(|n| n.to_string()),
            (0u64..20).prop_map(|n| n.to_string()),
            prop::sample::select(vec![
                "0",
                "00",
                "01",
                "-0",
                "-1",
                "1.0",
                "1.",
                "1e3",
                "1E3",
                "1e",
                "0.5",
                "18446744073709551615",
                "18446744073709551616",
                "99999999999999999999999",
                "true",
                "false",
                "null",
                "nul",
                "tru",
                "[]",
                "{}",
                "[1]",
                "\"\"",
                r#"{"beneficiary":"B","purpose":"voluntary"}"#,
                r#"{"beneficiary":"B","purpose":"voluntary","note":"n","using_entity":"u"}"#,
                r#"{"beneficiary":"B"}"#,
            ])
            .prop_map(str::to_owned),
            // Strings: plain ASCII, non-ASCII, escapes, control characters.
            "[a-zA-Z0-9 ._:-]{0,12}".prop_map(|s| format!("\"{s}\"")),
            "[a-z\u{7f}\u{e9}\u{631}\u{1f600}\\\\\"\t]{0,6}".prop_map(|s| format!("\"{s}\"")),
            prop::sample::select(vec![
                r#""\u0041""#,
                r#""\n""#,
                r#""\/""#,
                r#""a\"b""#,
                r#""\ud83d\ude00""#,
                "\"buy\"",
                "\"sell\"",
                "\"10.00\"",
                "\"gtc\"",
                "\"gtd\"",
                "\"2030-01-01T00:00:00Z\"",
            ])
            .prop_map(str::to_owned),
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "instrument",
            "account",
            "side",
            "quantity",
            "price",
            "time_in_force",
            "post_only",
            "client_order_id",
            "self_trade",
            "expires_at",
            "retire",
            "colour",
            "Account",
            "instrument ",
            r"\u0061ccount",
        ])
        .prop_map(str::to_owned)
    }

    /// White space between tokens: mostly none, sometimes JSON's, rarely bytes JSON refuses.
    fn space() -> impl Strategy<Value = String> {
        prop_oneof![
            80 => Just(String::new()),
            20 => "[ \t\r\n]{1,3}",
            1 => prop::sample::select(vec!["\x0c", "\u{a0}", "\x0b"]).prop_map(str::to_owned),
        ]
    }

    /// A body: mostly a well-formed order with every required field, otherwise an object of
    /// random keys and values; optionally mutated at one byte afterwards.
    fn body() -> impl Strategy<Value = Vec<u8>> {
        let valid = (
            "[A-Z0-9-]{1,8}",
            any::<u64>(),
            prop::sample::select(vec!["buy", "sell", "hold"]),
            0u64..1_000_000,
            prop::option::of("[0-9]{1,4}\\.[0-9]{2}"),
            prop::option::of(prop::sample::select(vec!["gtc", "ioc", "day"])),
            prop::option::of(any::<bool>()),
        )
            .prop_map(|(inst, account, side, quantity, price, tif, post_only)| {
                let mut fields = vec![
                    format!("\"instrument\":\"{inst}\""),
                    format!("\"account\":{account}"),
                    format!("\"side\":\"{side}\""),
                    format!("\"quantity\":{quantity}"),
                ];
                fields.extend(price.map(|p| format!("\"price\":\"{p}\"")));
                fields.extend(tif.map(|t| format!("\"time_in_force\":\"{t}\"")));
                fields.extend(post_only.map(|b| format!("\"post_only\":{b}")));
                fields
            });
        let random =
            prop::collection::vec((key(), value()).prop_map(|(k, v)| format!("\"{k}\":{v}")), 0..8);
        let fields = prop_oneof![3 => valid, 2 => random];
        (
            fields,
            prop::collection::vec(prop::collection::vec(space(), 4), 12),
            any::<bool>(),
            prop::option::weighted(0.3, (any::<prop::sample::Index>(), any::<u8>(), 0u8..3)),
        )
            .prop_map(|(mut fields, spaces, shuffle, mutation)| {
                if shuffle {
                    fields.reverse();
                }
                let mut s = format!("{}{{", spaces[0][0]);
                for (i, f) in fields.iter().enumerate() {
                    let sp = &spaces[i % spaces.len()];
                    let (k, v) = f.split_once(':').unwrap_or((f, ""));
                    if i > 0 {
                        s.push(',');
                    }
                    s.push_str(&format!("{}{k}{}:{}{v}{}", sp[0], sp[1], sp[2], sp[3]));
                }
                s.push('}');
                s.push_str(&spaces[1][1]);
                let mut bytes = s.into_bytes();
                if let Some((at, byte, kind)) = mutation {
                    let i = at.index(bytes.len() + 1);
                    match kind {
                        0 => bytes.insert(i, byte),
                        1 if i < bytes.len() => {
                            bytes.remove(i);
                        }
                        _ if i < bytes.len() => bytes[i] = byte,
                        _ => {}
                    }
                }
                bytes
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        /// For generated bodies, valid and not, the fast parser either punts or gives exactly
        /// the value `serde_json` gives.
        #[test]
        fn fast_parse_is_serde_or_nothing(body in body()) {
            agrees(&body);
        }
    }

    /// The generated corpus exercises the fast path, not only its punts: most well-formed
    /// orders without escapes are taken.
    #[test]
    fn generated_plain_orders_are_mostly_taken() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let mut runner = TestRunner::deterministic();
        let strategy = body();
        let (mut taken, mut serde_ok) = (0, 0);
        for _ in 0..5_000 {
            let body = strategy.new_tree(&mut runner).unwrap().current();
            if serde(&body).is_some() {
                serde_ok += 1;
            }
            if agrees(&body) {
                taken += 1;
            }
        }
        assert!(serde_ok > 1_000, "{serde_ok}");
        assert!(taken * 10 > serde_ok * 8, "{taken} of {serde_ok}");
    }
}
