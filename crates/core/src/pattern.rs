//! Regex filters (§4.5) in one dialect all three engines read alike.
//!
//! Users write RE2 syntax. SQLite runs the Rust `regex` crate (Unicode-aware `\d`, `\w`,
//! `\s`), PostgreSQL its own ARE engine (where `\b` is a backspace and `.` matches a
//! newline), ClickHouse RE2. To keep answers identical, a pattern is parsed and printed
//! back in a common subset: perl classes become explicit ASCII classes, `.` becomes
//! "any character but a newline", and constructs one engine would read differently
//! (flags, Unicode classes, word boundaries, `\A`/`\z`, nested or huge repetitions) are
//! rejected with a message instead of silently meaning something else.

use regex_syntax::ast::{
    self, AssertionKind, Ast, ClassPerlKind, ClassSet, ClassSetItem, GroupKind, RepetitionKind,
    RepetitionRange,
};

/// The largest repetition bound every engine accepts (PostgreSQL's limit).
pub const MAX_REPEAT: u32 = 255;

/// Parse an RE2-style pattern and print it in the common subset, or say why not (the
/// reason completes "invalid regular expression: …"). Parsing is linear in the pattern's
/// length (nesting is capped); see [`check_size`] for what it compiles to.
pub fn normalize(pattern: &str) -> Result<String, String> {
    let parsed = ast::parse::ParserBuilder::new()
        .nest_limit(100)
        .build()
        .parse(pattern)
        .map_err(|e| e.kind().to_string())?;
    let mut out = String::with_capacity(pattern.len() + 8);
    // A leading `(?i)` is the one flag all three engines read alike (PostgreSQL accepts
    // embedded options only at the start of the pattern).
    match &parsed {
        Ast::Concat(c) if c.asts.first().is_some_and(leading_case_insensitive) => {
            out.push_str("(?i)");
            for a in &c.asts[1..] {
                print(a, &mut out)?;
            }
        }
        a if leading_case_insensitive(a) => out.push_str("(?i)"),
        a => print(a, &mut out)?,
    }
    // An escape such as `\x00` or `\u0000` prints a NUL, which PostgreSQL cannot take in
    // text and no stored text holds: refused like a NUL anywhere else in a request.
    if out.contains('\0') {
        return Err(
            "the pattern matches the NUL character (\\x00), which no stored text holds".into(),
        );
    }
    Ok(out)
}

/// Whether a normalized pattern compiles within `size_limit` bytes (the `regex` crate's
/// limit on its compiled program, the engine SQLite runs). Compilation stops as soon as the
/// limit is exceeded, so a hostile pattern such as `(a{1,255}){1,255}`, which expands to
/// 65 025 copies of its atom, costs at most the limit's worth of work.
pub fn check_size(normalized: &str, size_limit: usize) -> Result<(), String> {
    regex::RegexBuilder::new(normalized)
        .size_limit(size_limit)
        .dfa_size_limit(size_limit)
        .build()
        .map(drop)
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => format!(
                "the pattern compiles to more than {size_limit} bytes; simplify it (fewer or smaller repetitions)"
            ),
            other => other.to_string(),
        })
}

fn leading_case_insensitive(a: &Ast) -> bool {
    match a {
        Ast::Flags(f) => matches!(
            f.flags.items.as_slice(),
            [ast::FlagsItem {
                kind: ast::FlagsItemKind::Flag(ast::Flag::CaseInsensitive),
                ..
            }]
        ),
        _ => false,
    }
}

const META: &str = r"\.+*?()|[]{}^$";

fn literal(c: char, out: &mut String) {
    if META.contains(c) {
        out.push('\\');
    }
    out.push(c);
}

fn class_literal(c: char, out: &mut String) {
    if r"\]-[^".contains(c) {
        out.push('\\');
    }
    out.push(c);
}

/// ASCII members of a perl class, as bracket-class content.
fn perl_members(kind: &ClassPerlKind) -> &'static str {
    match kind {
        ClassPerlKind::Digit => "0-9",
        ClassPerlKind::Word => "0-9A-Za-z_",
        ClassPerlKind::Space => "\t\n\u{c}\r ",
    }
}

fn print(a: &Ast, out: &mut String) -> Result<(), String> {
    match a {
        Ast::Empty(_) => {}
        Ast::Flags(_) => {
            return Err("inline flags are supported only as a leading (?i)".into());
        }
        Ast::Literal(l) => literal(l.c, out),
        Ast::Dot(_) => out.push_str("[^\n]"),
        Ast::Assertion(x) => match x.kind {
            AssertionKind::StartLine => out.push('^'),
            AssertionKind::EndLine => out.push('$'),
            _ => {
                return Err(
                    "only the anchors ^ and $ are supported (not \\b, \\B, \\A, \\z)".into(),
                );
            }
        },
        Ast::ClassUnicode(_) => {
            return Err("Unicode classes like \\pL are not supported".into());
        }
        Ast::ClassPerl(p) => {
            out.push('[');
            if p.negated {
                out.push('^');
            }
            out.push_str(perl_members(&p.kind));
            out.push(']');
        }
        Ast::ClassBracketed(b) => {
            out.push('[');
            if b.negated {
                out.push('^');
            }
            match &b.kind {
                ClassSet::Item(item) => class_item(item, out)?,
                ClassSet::BinaryOp(_) => {
                    return Err("class set operations (&&, --, ~~) are not supported".into());
                }
            }
            out.push(']');
        }
        Ast::Repetition(r) => {
            if matches!(*r.ast, Ast::Repetition(_)) {
                return Err("nested quantifiers like a** are not supported".into());
            }
            print(&r.ast, out)?;
            match &r.op.kind {
                RepetitionKind::ZeroOrOne => out.push('?'),
                RepetitionKind::ZeroOrMore => out.push('*'),
                RepetitionKind::OneOrMore => out.push('+'),
                RepetitionKind::Range(range) => {
                    let (lo, hi) = match range {
                        RepetitionRange::Exactly(n) => (*n, Some(*n)),
                        RepetitionRange::AtLeast(n) => (*n, None),
                        RepetitionRange::Bounded(a, b) => (*a, Some(*b)),
                    };
                    if lo > MAX_REPEAT || hi.is_some_and(|h| h > MAX_REPEAT) {
                        return Err(format!(
                            "repetition counts above {MAX_REPEAT} are not supported"
                        ));
                    }
                    match range {
                        RepetitionRange::Exactly(n) => out.push_str(&format!("{{{n}}}")),
                        RepetitionRange::AtLeast(n) => out.push_str(&format!("{{{n},}}")),
                        RepetitionRange::Bounded(a, b) => out.push_str(&format!("{{{a},{b}}}")),
                    }
                }
            }
            if !r.greedy {
                out.push('?');
            }
        }
        Ast::Group(g) => {
            match &g.kind {
                // Names do not change what matches.
                GroupKind::CaptureIndex(_) | GroupKind::CaptureName { .. } => out.push('('),
                GroupKind::NonCapturing(flags) if flags.items.is_empty() => out.push_str("(?:"),
                GroupKind::NonCapturing(_) => {
                    return Err("inline flags like (?i:…) are not supported".into());
                }
            }
            print(&g.ast, out)?;
            out.push(')');
        }
        Ast::Alternation(alt) => {
            for (i, a) in alt.asts.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                print(a, out)?;
            }
        }
        Ast::Concat(c) => {
            for a in &c.asts {
                print(a, out)?;
            }
        }
    }
    Ok(())
}

fn class_item(item: &ClassSetItem, out: &mut String) -> Result<(), String> {
    match item {
        ClassSetItem::Empty(_) => {}
        ClassSetItem::Literal(l) => class_literal(l.c, out),
        ClassSetItem::Range(r) => {
            class_literal(r.start.c, out);
            out.push('-');
            class_literal(r.end.c, out);
        }
        ClassSetItem::Ascii(a) => {
            if a.negated {
                return Err("negated POSIX classes like [[:^alpha:]] are not supported".into());
            }
            out.push_str("[:");
            out.push_str(ascii_name(&a.kind));
            out.push_str(":]");
        }
        ClassSetItem::Unicode(_) => {
            return Err("Unicode classes like \\pL are not supported".into());
        }
        ClassSetItem::Perl(p) => {
            if p.negated {
                return Err("negated classes like \\D inside brackets are not supported".into());
            }
            out.push_str(perl_members(&p.kind));
        }
        ClassSetItem::Bracketed(_) => {
            return Err("nested bracket classes are not supported".into());
        }
        ClassSetItem::Union(u) => {
            for i in &u.items {
                class_item(i, out)?;
            }
        }
    }
    Ok(())
}

fn ascii_name(kind: &ast::ClassAsciiKind) -> &'static str {
    use ast::ClassAsciiKind::*;
    match kind {
        Alnum => "alnum",
        Alpha => "alpha",
        Ascii => "ascii",
        Blank => "blank",
        Cntrl => "cntrl",
        Digit => "digit",
        Graph => "graph",
        Lower => "lower",
        Print => "print",
        Punct => "punct",
        Space => "space",
        Upper => "upper",
        Word => "word",
        Xdigit => "xdigit",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{check_size, normalize};

    #[test]
    fn common_subset_is_printed_back() {
        assert_eq!(normalize("^/docs/.+$").unwrap(), "^/docs/[^\n]+$");
        assert_eq!(
            normalize(r"\d{2,4}-\w+\s").unwrap(),
            "[0-9]{2,4}-[0-9A-Za-z_]+[\t\n\u{c}\r ]"
        );
        assert_eq!(normalize(r"[\d.]+").unwrap(), "[0-9.]+");
        assert_eq!(normalize(r"(?P<x>a|b)(?:c)*?").unwrap(), "(a|b)(?:c)*?");
        assert_eq!(normalize(r"a\.b\+c").unwrap(), r"a\.b\+c");
        assert_eq!(normalize("[[:alpha:]_-]").unwrap(), r"[[:alpha:]_\-]");
        assert_eq!(normalize("").unwrap(), "");
        assert_eq!(normalize("(?i)^se$").unwrap(), "(?i)^se$");
    }

    #[test]
    fn engine_specific_constructs_are_rejected() {
        for p in [
            "a(?i)bc", "(?s)abc", "(?i:a)", r"\bword", r"\Aa", r"a\z", r"\pL", r"[\pL]", "a**",
            "a{256}", "(?x)a b", "[a&&b]", "(",
        ] {
            assert!(normalize(p).is_err(), "{p} should be rejected");
        }
        assert!(normalize("a{255}").is_ok());
    }

    #[test]
    fn nul_is_refused_however_it_is_written() {
        for p in [
            r"\x00",
            r"a\x{0}b",
            r"\u0000",
            r"[\x00-\x1f]",
            r"[^\x00]",
            r"(?i)\x00",
        ] {
            let err = normalize(p).unwrap_err();
            assert!(err.contains("NUL"), "{p}: {err}");
        }
        assert_eq!(normalize(r"[\x01-\x1f]").unwrap(), "[\u{1}-\u{1f}]");
    }

    #[test]
    fn compiled_size_is_bounded() {
        let hostile = normalize("(a{1,255}){1,255}").unwrap();
        let err = check_size(&hostile, 1 << 20).unwrap_err();
        assert!(err.contains("compiles to more than 1048576 bytes"), "{err}");
        assert!(check_size(&normalize("^.{0,255}$").unwrap(), 1 << 20).is_ok());
        assert!(check_size(&normalize("^/docs/").unwrap(), 1 << 10).is_ok());
    }
}
