//! Query string → JSON tree (contract §4.1).
//!
//! OpenPanel clients send the same parameters in several shapes: repeated keys
//! (`event=a&event=b`), JSON values (URL-encoded or raw, as curl sends them) and the bracket
//! notation of the JavaScript `qs` library (`events[0][filters][0][name]=country`). This
//! module folds all of them into one `serde_json` object so that request decoding only has
//! to deal with a single representation. Leaves that are not JSON stay strings; converting
//! them to numbers or booleans is the caller's job.

use std::collections::HashMap;

use serde_json::{Map, Value};

/// Why a query string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QsError {
    /// A value that starts with `[` or `{` is not valid JSON. `param` is the top-level key as
    /// written, e.g. "events".
    #[error("{param}: not valid JSON ({reason})")]
    InvalidJson { param: String, reason: String },
    /// Bracket keys that conflict (e.g. `a=1&a[x]=2`) or an index over 1000.
    #[error("{param}: conflicting or invalid bracket notation")]
    Brackets { param: String },
    /// A value whose percent-decoded bytes are not UTF-8 (`name=%FF`): replacing them with
    /// U+FFFD would change what a filter compares, so the value is refused instead.
    #[error("{param}: not valid UTF-8")]
    InvalidUtf8 { param: String },
}

/// Largest array index accepted in bracket notation (`a[1000]`); larger ones are rejected.
const MAX_INDEX: usize = 1000;

/// Bracket segments parsed per key; anything deeper is kept as one literal segment, as `qs`
/// does, so nesting stays bounded whatever the input.
const MAX_DEPTH: usize = 20;

/// Decode a raw query string (without '?') into an object: top-level key -> value.
pub fn parse(query: &str) -> Result<Map<String, Value>, QsError> {
    let (map, mut errors) = parse_lenient(query);
    match errors.is_empty() {
        true => Ok(map),
        false => Err(errors.remove(0)),
    }
}

/// Decode a query string, keeping going past bad values: a value that fails is left out of
/// the map and reported with its top-level key, so a caller can ignore failures of
/// parameters it does not know (§4.1: unknown parameters are ignored).
pub fn parse_lenient(query: &str) -> (Map<String, Value>, Vec<QsError>) {
    let mut root = Branch::default();
    let mut errors = Vec::new();
    // `parse` decodes lossily: bytes that are not UTF-8 become U+FFFD. Its pairs are the
    // non-empty `&`-separated parts of the query, so a value showing U+FFFD is decoded
    // again from its own part to tell such bytes from U+FFFD sent as itself.
    let raw = query.split('&').filter(|pair| !pair.is_empty());
    for ((key, value), raw) in form_urlencoded::parse(query.as_bytes()).zip(raw) {
        let Some((name, segments)) = split_key(&key) else {
            continue;
        };
        if value.contains(char::REPLACEMENT_CHARACTER) && !utf8_value(raw) {
            errors.push(QsError::InvalidUtf8 {
                param: name.to_owned(),
            });
            continue;
        }
        let leaf = match sniff(&value) {
            Ok(leaf) => leaf,
            Err(reason) => {
                errors.push(QsError::InvalidJson {
                    param: name.to_owned(),
                    reason,
                });
                continue;
            }
        };
        let child = root.child(name, segments.is_empty());
        if insert(child, &segments, leaf).is_err() {
            errors.push(QsError::Brackets {
                param: name.to_owned(),
            });
        }
    }
    let mut out = Map::new();
    for (key, node) in root.entries {
        out.insert(key, node.finish());
    }
    (out, errors)
}

impl QsError {
    /// The top-level parameter the error belongs to.
    pub fn param(&self) -> &str {
        match self {
            QsError::InvalidJson { param, .. }
            | QsError::Brackets { param }
            | QsError::InvalidUtf8 { param } => param,
        }
    }
}

/// Whether the value of one `key=value` part of a query is UTF-8 once percent-decoded.
fn utf8_value(pair: &str) -> bool {
    let value = pair.split_once('=').map_or("", |(_, v)| v);
    percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .is_ok()
}

/// A value whose first non-whitespace character is `[` or `{` is JSON; anything else is a
/// string.
fn sniff(value: &str) -> Result<Value, String> {
    match value.trim_start().chars().next() {
        Some('[' | '{') => serde_json::from_str(value).map_err(|e| e.to_string()),
        _ => Ok(Value::String(value.to_owned())),
    }
}

/// One bracket segment of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment<'a> {
    /// `[]`: append a new element.
    Push,
    /// `[name]` (including integer indexes).
    Named(&'a str),
}

/// Split a decoded key into its root name and bracket segments, following the `qs` library:
/// the root ends at the first complete `[...]` segment (one without nested brackets); a key
/// without one is a plain key. Text left after the last complete segment becomes one more
/// segment. Returns `None` for an empty root name.
fn split_key(key: &str) -> Option<(&str, Vec<Segment<'_>>)> {
    let Some(start) = first_segment(key) else {
        return (!key.is_empty()).then(|| (key, Vec::new()));
    };
    let name = &key[..start];
    if name.is_empty() {
        return None;
    }
    let mut segments = Vec::new();
    let mut rest = &key[start..];
    while !rest.is_empty() {
        if segments.len() >= MAX_DEPTH {
            segments.push(Segment::Named(rest));
            break;
        }
        match segment_at_start(rest) {
            Some(inner) => {
                segments.push(if inner.is_empty() {
                    Segment::Push
                } else {
                    Segment::Named(inner)
                });
                // `[` + inner + `]`, all ASCII delimiters.
                rest = &rest[inner.len() + 2..];
            }
            None => {
                segments.push(Segment::Named(rest));
                break;
            }
        }
    }
    Some((name, segments))
}

/// Byte offset of the first `[` that is closed by `]` with no other bracket in between.
fn first_segment(key: &str) -> Option<usize> {
    let bytes = key.as_bytes();
    let mut open = None;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'[' => open = Some(i),
            b']' => {
                if let Some(start) = open {
                    return Some(start);
                }
            }
            _ => {}
        }
    }
    None
}

/// If `s` starts with a complete `[...]` segment, its inner text.
fn segment_at_start(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('[')?;
    let end = inner.find(['[', ']'])?;
    inner[end..].starts_with(']').then(|| &inner[..end])
}

/// Two keys disagree about the shape of a path (a value and children at the same place), or an
/// index is out of range.
#[derive(Debug)]
struct Conflict;

/// The tree under construction.
#[derive(Debug)]
enum Node {
    /// Values given for exactly this path, in order of appearance.
    Leaf(Vec<Value>),
    /// Children by key, in order of first appearance.
    Branch(Branch),
}

#[derive(Debug, Default)]
struct Branch {
    entries: Vec<(String, Node)>,
    index: HashMap<String, usize>,
    /// One past the largest integer key so far: the index `[]` appends at.
    next_index: usize,
}

impl Branch {
    /// The child under `key`, created as a leaf or a branch if missing.
    fn child(&mut self, key: &str, leaf: bool) -> &mut Node {
        let pos = match self.index.get(key) {
            Some(&pos) => pos,
            None => {
                let pos = self.entries.len();
                let node = if leaf {
                    Node::Leaf(Vec::new())
                } else {
                    Node::Branch(Branch::default())
                };
                self.entries.push((key.to_owned(), node));
                self.index.insert(key.to_owned(), pos);
                pos
            }
        };
        &mut self.entries[pos].1
    }

    /// Resolve a segment to a key, checking and recording integer indexes.
    fn key_for(&mut self, segment: &Segment<'_>) -> Result<String, Conflict> {
        let index = match segment {
            Segment::Push => self.next_index,
            Segment::Named(name) => match array_index(name) {
                Index::No => return Ok((*name).to_owned()),
                Index::TooLarge => return Err(Conflict),
                Index::Yes(i) => i,
            },
        };
        if index > MAX_INDEX {
            return Err(Conflict);
        }
        self.next_index = self.next_index.max(index + 1);
        Ok(index.to_string())
    }

    fn finish(self) -> Value {
        let all_indexes = self
            .entries
            .iter()
            .all(|(key, _)| matches!(array_index(key), Index::Yes(_)));
        if all_indexes && !self.entries.is_empty() {
            let mut items: Vec<(usize, Node)> = self
                .entries
                .into_iter()
                .map(|(key, node)| match array_index(&key) {
                    Index::Yes(i) => (i, node),
                    Index::No | Index::TooLarge => (usize::MAX, node),
                })
                .collect();
            items.sort_by_key(|(i, _)| *i);
            Value::Array(items.into_iter().map(|(_, node)| node.finish()).collect())
        } else {
            let mut map = Map::new();
            for (key, node) in self.entries {
                map.insert(key, node.finish());
            }
            Value::Object(map)
        }
    }
}

impl Node {
    fn finish(self) -> Value {
        match self {
            Node::Leaf(mut values) if values.len() == 1 => values.pop().unwrap_or(Value::Null),
            Node::Leaf(values) => {
                let mut out = Vec::with_capacity(values.len());
                for value in values {
                    match value {
                        Value::Array(items) => out.extend(items),
                        other => out.push(other),
                    }
                }
                Value::Array(out)
            }
            Node::Branch(branch) => branch.finish(),
        }
    }
}

enum Index {
    /// Not written as a canonical decimal integer: an object key.
    No,
    /// A canonical decimal integer above [`MAX_INDEX`].
    TooLarge,
    Yes(usize),
}

/// Whether a key is a canonical decimal integer (`0`, `12`, not `012` or `-1`), as `qs` reads
/// array indexes.
fn array_index(key: &str) -> Index {
    let canonical = !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_digit())
        && (key.len() == 1 || !key.starts_with('0'));
    if !canonical {
        return Index::No;
    }
    match key.parse::<usize>() {
        Ok(i) if i <= MAX_INDEX => Index::Yes(i),
        _ => Index::TooLarge,
    }
}

/// Store `value` at `segments` below `node`.
fn insert(mut node: &mut Node, segments: &[Segment<'_>], value: Value) -> Result<(), Conflict> {
    for (depth, segment) in segments.iter().enumerate() {
        let Node::Branch(branch) = node else {
            return Err(Conflict);
        };
        let key = branch.key_for(segment)?;
        node = branch.child(&key, depth + 1 == segments.len());
    }
    match node {
        Node::Leaf(values) => {
            values.push(value);
            Ok(())
        }
        Node::Branch(_) => Err(Conflict),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(query: &str) -> Value {
        Value::Object(parse(query).unwrap())
    }

    #[test]
    fn empty_query() {
        assert_eq!(p(""), json!({}));
        assert_eq!(p("&&"), json!({}));
    }

    #[test]
    fn plain_values_are_strings() {
        assert_eq!(
            p("limit=10&includes=profile,meta&flag=true"),
            json!({"limit": "10", "includes": "profile,meta", "flag": "true"})
        );
        assert_eq!(p("a=&b"), json!({"a": "", "b": ""}));
    }

    #[test]
    fn values_that_are_not_utf8_are_refused_by_name() {
        let (map, errors) = parse_lenient("a=%FF&b=%C3&c=%EF%BF%BD&d=%C3%A9&e=%ZZ%41&f=\u{FFFD}");
        assert_eq!(
            errors,
            vec![
                QsError::InvalidUtf8 { param: "a".into() },
                QsError::InvalidUtf8 { param: "b".into() }
            ]
        );
        // U+FFFD sent as itself, é, and a `%` that starts no escape are kept.
        assert_eq!(
            Value::Object(map),
            json!({"c": "\u{FFFD}", "d": "é", "e": "%ZZA", "f": "\u{FFFD}"})
        );
        assert_eq!(
            parse("&&x=1&y[0]=%80"),
            Err(QsError::InvalidUtf8 { param: "y".into() })
        );
    }

    #[test]
    fn plus_and_percent_decoding() {
        assert_eq!(
            p("q=hello+world&r=a%2Bb&s=%C3%A9"),
            json!({"q": "hello world", "r": "a+b", "s": "é"})
        );
    }

    #[test]
    fn repeated_keys_form_arrays() {
        assert_eq!(p("event=a&event=b"), json!({"event": ["a", "b"]}));
        assert_eq!(
            p("event=a&x=1&event=b&event=c"),
            json!({"event": ["a", "b", "c"], "x": "1"})
        );
        assert_eq!(p(r#"event=["a"]&event=b"#), json!({"event": ["a", "b"]}));
        assert_eq!(
            p(r#"event=["a","b"]&event=["c"]"#),
            json!({"event": ["a", "b", "c"]})
        );
        assert_eq!(
            p(r#"e={"n":1}&e={"n":2}"#),
            json!({"e": [{"n": 1}, {"n": 2}]})
        );
    }

    #[test]
    fn single_json_array_stays_array() {
        assert_eq!(p(r#"event=["a","b"]"#), json!({"event": ["a", "b"]}));
        assert_eq!(p("event=[]"), json!({"event": []}));
    }

    #[test]
    fn curl_style_raw_json() {
        assert_eq!(
            p(r#"events=[{"name":"screen_view"}]&range=7d"#),
            json!({"events": [{"name": "screen_view"}], "range": "7d"})
        );
        assert_eq!(
            p(
                r#"events= [{"name":"x","filters":[{"name":"country","operator":"is","value":["SE"]}]}]"#
            ),
            json!({"events": [{"name": "x", "filters": [{"name": "country", "operator": "is", "value": ["SE"]}]}]})
        );
    }

    #[test]
    fn url_encoded_json() {
        assert_eq!(
            p("events=%5B%7B%22name%22%3A%22screen_view%22%2C%22segment%22%3A%22user%22%7D%5D"),
            json!({"events": [{"name": "screen_view", "segment": "user"}]})
        );
        // A space inside encoded JSON arrives as '+'.
        assert_eq!(
            p("events=%5B%7B%22name%22%3A+%22a+b%22%7D%5D"),
            json!({"events": [{"name": "a b"}]})
        );
    }

    #[test]
    fn json_scalars_are_not_sniffed() {
        assert_eq!(
            p("a=1.5&b=null&c=\"x\""),
            json!({"a": "1.5", "b": "null", "c": "\"x\""})
        );
    }

    #[test]
    fn invalid_json() {
        assert_eq!(
            parse("events=[{\"name\":").unwrap_err(),
            QsError::InvalidJson {
                param: "events".into(),
                reason: serde_json::from_str::<Value>("[{\"name\":")
                    .unwrap_err()
                    .to_string(),
            }
        );
        assert!(matches!(
            parse("x=1&events[0][filters]={nope").unwrap_err(),
            QsError::InvalidJson { param, .. } if param == "events"
        ));
        let err = parse("e=[1,]").unwrap_err();
        assert!(err.to_string().starts_with("e: not valid JSON ("), "{err}");
    }

    #[test]
    fn bracket_notation() {
        assert_eq!(
            p(
                "events[0][name]=x&events[0][filters][0][name]=country&events[0][filters][0][value][0]=SE"
            ),
            json!({"events": [{"name": "x", "filters": [{"name": "country", "value": ["SE"]}]}]})
        );
    }

    #[test]
    fn percent_encoded_brackets() {
        assert_eq!(
            p("events%5B0%5D%5Bname%5D=x&events%5B1%5D%5Bname%5D=y"),
            json!({"events": [{"name": "x"}, {"name": "y"}]})
        );
    }

    #[test]
    fn empty_brackets_append() {
        assert_eq!(p("a[]=1&a[]=2"), json!({"a": ["1", "2"]}));
        assert_eq!(p("a[0]=1&a[]=2"), json!({"a": ["1", "2"]}));
        assert_eq!(
            p("e[0][v][]=SE&e[0][v][]=DK"),
            json!({"e": [{"v": ["SE", "DK"]}]})
        );
    }

    #[test]
    fn bracket_arrays_ordered_and_compacted() {
        assert_eq!(p("a[2]=c&a[0]=a&a[1]=b"), json!({"a": ["a", "b", "c"]}));
        assert_eq!(p("a[5]=y&a[1]=x&a[1000]=z"), json!({"a": ["x", "y", "z"]}));
        assert_eq!(
            p("events[3][name]=b&events[1][name]=a"),
            json!({"events": [{"name": "a"}, {"name": "b"}]})
        );
    }

    #[test]
    fn mixed_or_non_canonical_keys_stay_objects() {
        assert_eq!(p("a[0]=x&a[b]=y"), json!({"a": {"0": "x", "b": "y"}}));
        assert_eq!(p("a[01]=x"), json!({"a": {"01": "x"}}));
        assert_eq!(p("a[-1]=x"), json!({"a": {"-1": "x"}}));
        assert_eq!(p("p[b]=2&p[a]=1"), json!({"p": {"b": "2", "a": "1"}}));
    }

    #[test]
    fn index_over_limit() {
        assert_eq!(
            parse("a[1001]=x").unwrap_err(),
            QsError::Brackets { param: "a".into() }
        );
        assert!(parse("a[b][99999999999999999999999]=x").is_err());
        let many: Vec<String> = (0..1002).map(|i| format!("a[]={i}")).collect();
        assert_eq!(
            parse(&many.join("&")).unwrap_err(),
            QsError::Brackets { param: "a".into() }
        );
    }

    #[test]
    fn conflicts() {
        let brackets = |param: &str| QsError::Brackets {
            param: param.into(),
        };
        assert_eq!(parse("a=1&a[x]=2").unwrap_err(), brackets("a"));
        assert_eq!(parse("a[x]=2&a=1").unwrap_err(), brackets("a"));
        assert_eq!(parse("a[x]=1&a[x][y]=2").unwrap_err(), brackets("a"));
        assert_eq!(parse("a[x][y]=2&a[x]=1").unwrap_err(), brackets("a"));
        assert_eq!(
            parse("events[0][filters][0]=a&events[0][filters][0][name]=b").unwrap_err(),
            brackets("events")
        );
    }

    #[test]
    fn repeated_bracket_leaves_form_arrays() {
        assert_eq!(p("a[x]=1&a[x]=2"), json!({"a": {"x": ["1", "2"]}}));
    }

    #[test]
    fn json_leaf_inside_brackets() {
        assert_eq!(
            p(r#"events[0][name]=x&events[0][filters]=[{"name":"country","value":["SE"]}]"#),
            json!({"events": [{"name": "x", "filters": [{"name": "country", "value": ["SE"]}]}]})
        );
    }

    #[test]
    fn empty_names_ignored() {
        assert_eq!(p("=x&a=1&=y&[b]=2"), json!({"a": "1"}));
    }

    #[test]
    fn top_level_order_is_first_appearance() {
        let map = parse("z=1&a[0]=2&m=3&z=4").unwrap();
        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn unbalanced_brackets() {
        // No complete segment: a plain key.
        assert_eq!(p("a[b=1"), json!({"a[b": "1"}));
        assert_eq!(p("a]b=1"), json!({"a]b": "1"}));
        // Trailing text after the segments becomes one more segment, like `qs`.
        assert_eq!(p("a[b]c=1"), json!({"a": {"b": {"c": "1"}}}));
    }

    #[test]
    fn depth_is_bounded() {
        let key = format!("a{}", "[x]".repeat(100));
        let map = parse(&format!("{key}=1")).unwrap();
        let mut value = &map["a"];
        for _ in 0..MAX_DEPTH {
            value = &value["x"];
        }
        let rest = "[x]".repeat(100 - MAX_DEPTH);
        assert_eq!(value, &json!({ rest: "1" }));
    }
}
