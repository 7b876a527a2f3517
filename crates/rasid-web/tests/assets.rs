//! The embedded UI as files: both translation files carry the same keys, every key the code
//! uses exists, every module the code imports is served, and the HTML loads no inline script.

use rasid_web::{ASSETS, find};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

fn text(path: &str) -> &'static str {
    std::str::from_utf8(find(path).unwrap_or_else(|| panic!("{path} is not an asset")).bytes)
        .unwrap()
}

fn dictionary(path: &str) -> Map<String, Value> {
    match serde_json::from_str(text(path)).unwrap() {
        Value::Object(m) => m,
        other => panic!("{path} is not an object: {other}"),
    }
}

fn scripts() -> impl Iterator<Item = (&'static str, &'static str)> {
    ASSETS.iter().filter(|a| a.path.ends_with(".js")).map(|a| (a.path, text(a.path)))
}

/// Every quoted literal in the scripts that looks like a translation key (`'ns.name'`) of a
/// namespace the dictionaries use.
fn keys_in_code(namespaces: &BTreeSet<String>) -> BTreeSet<(String, &'static str)> {
    let mut out = BTreeSet::new();
    for (path, source) in scripts() {
        let bytes = source.as_bytes();
        for (start, &q) in bytes.iter().enumerate() {
            if q != b'\'' && q != b'`' {
                continue;
            }
            let body: String = source[start + 1..]
                .chars()
                .take_while(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '.'
                })
                .collect();
            let closes = bytes.get(start + 1 + body.len()) == Some(&q);
            let Some((ns, name)) = body.split_once('.') else { continue };
            if closes && !name.is_empty() && !name.contains('.') && namespaces.contains(ns) {
                out.insert((body.clone(), path));
            }
        }
    }
    out
}

#[test]
fn english_and_arabic_have_the_same_keys_and_no_empty_string() {
    let en = dictionary("en.json");
    let ar = dictionary("ar.json");
    let en_keys: BTreeSet<&String> = en.keys().collect();
    let ar_keys: BTreeSet<&String> = ar.keys().collect();
    assert_eq!(
        en_keys.symmetric_difference(&ar_keys).collect::<Vec<_>>(),
        Vec::<&&String>::new(),
        "keys in one language only"
    );
    for (lang, d) in [("en", &en), ("ar", &ar)] {
        for (k, v) in d {
            let v = v.as_str().unwrap_or_else(|| panic!("{lang} {k}: not a string"));
            assert!(!v.trim().is_empty(), "{lang} {k} is empty");
        }
    }
    // Placeholders must match, or a translation would show a raw "{id}" or drop a value.
    let placeholders = |s: &str| -> BTreeSet<String> {
        s.split('{').skip(1).filter_map(|p| p.split_once('}').map(|(n, _)| n.to_owned())).collect()
    };
    for (k, v) in &en {
        assert_eq!(
            placeholders(v.as_str().unwrap()),
            placeholders(ar[k].as_str().unwrap()),
            "placeholders of {k}"
        );
    }
}

#[test]
fn arabic_strings_are_arabic() {
    // A copied English string left in ar.json would pass the key check; most Arabic strings
    // must contain Arabic letters (codes, numbers and the language switch's "English" aside).
    let ar = dictionary("ar.json");
    let latin_only: Vec<&String> = ar
        .iter()
        .filter(|(_, v)| {
            !v.as_str().unwrap().chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c))
        })
        .map(|(k, _)| k)
        .collect();
    assert_eq!(latin_only, vec!["lang.other"], "Arabic strings without Arabic letters");
}

#[test]
fn every_key_the_code_uses_is_translated() {
    let en = dictionary("en.json");
    let namespaces: BTreeSet<String> =
        en.keys().filter_map(|k| k.split_once('.').map(|(ns, _)| ns.to_owned())).collect();
    let used = keys_in_code(&namespaces);
    assert!(used.len() > 200, "the key scanner found only {} keys", used.len());
    let missing: Vec<_> = used.into_iter().filter(|(k, _)| !en.contains_key(k)).collect();
    assert!(missing.is_empty(), "keys used but not translated: {missing:?}");
    // Keys built at run time from API values: every value the API can send has a string.
    let families: &[(&str, &[&str])] = &[
        ("status", &["open", "halted", "closed"]),
        ("side", &["buy", "sell"]),
        ("tif", &["gtc", "day", "gtd", "ioc", "fok"]),
        ("role", &["operator", "registrar", "member", "auditor"]),
        ("purpose", &["voluntary", "corsia", "ndc", "other"]),
        ("serial", &["not_issued", "held", "retired", "cancelled"]),
        ("auction_status", &["open", "closed"]),
        ("auction_rule", &["uniform_price", "pay_as_bid"]),
        ("registry", &["projects", "issuances", "serials", "retirements", "totals"]),
        ("admin", &["members", "instruments", "baskets", "auctions", "registry", "halt", "resume"]),
    ];
    for (family, values) in families {
        for v in *values {
            assert!(en.contains_key(&format!("{family}.{v}")), "{family}.{v} is not translated");
        }
    }
}

#[test]
fn every_imported_module_is_served() {
    for (path, source) in scripts() {
        for line in source.lines().filter(|l| l.starts_with("import ")) {
            let spec = line.rsplit(" from ").next().unwrap().trim_end_matches(';');
            let spec = spec.trim_matches('\'');
            let base = path.rsplit_once('/').map_or("", |(dir, _)| dir);
            let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
            for seg in spec.split('/') {
                match seg {
                    "." => {}
                    ".." => {
                        parts.pop();
                    }
                    s => parts.push(s),
                }
            }
            let target = parts.join("/");
            assert!(find(&target).is_some(), "{path} imports {spec}, which is not an asset");
        }
    }
}

#[test]
fn html_loads_no_inline_script_or_style() {
    let html = std::str::from_utf8(include_bytes!("../assets/index.html")).unwrap();
    for tag in html.split("<script").skip(1) {
        let (attrs, rest) = tag.split_once('>').unwrap();
        assert!(attrs.contains("src="), "inline script: <script{attrs}>");
        assert!(rest.trim_start().starts_with("</script>"), "script with a body");
    }
    assert!(!html.contains("<style"), "inline <style>");
    assert!(!html.contains(" style="), "style attribute");
    assert!(!html.contains(" onclick=") && !html.contains(" onload="), "inline handler");
    // The scripts may not build markup from strings: data goes in as text nodes (dom.js).
    for (path, source) in scripts() {
        assert!(!source.contains("innerHTML") && !source.contains("eval("), "{path}");
    }
}
