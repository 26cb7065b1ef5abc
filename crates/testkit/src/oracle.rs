//! The SQL oracle: every statement the compiler renders must parse back with `sqlparser`
//! for its dialect as exactly one statement.
//!
//! Used by quarry-core's snapshot test (every fixture, every dialect) and by the `request`
//! fuzz target in `fuzz/` (every request the fuzzer finds that decodes and compiles).

use quarry_core::Dialect;
use sqlparser::dialect::{ClickHouseDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

/// sqlparser's nesting budget for one statement (its default is 50).
///
/// What the renderer prints is bounded by design, not by this limit: a funnel nests one
/// subquery per step (at most 20), long `IN` lists stay flat, and runs of `OR`/`AND` longer
/// than 16 are printed as parenthesized halves, so filter values add depth only with the
/// logarithm of their number. A 20-step PostgreSQL funnel already needs more than 50 (every
/// seed of `fuzz/` parses with 80); 256 leaves room and stays cheap, since sqlparser grows
/// its stack on the heap for deep recursion (the `recursive` crate).
pub const RECURSION_LIMIT: usize = 256;

/// Parse `sql` (as rendered for `dialect`) with sqlparser 0.64: `Ok` if it is exactly one
/// statement, else why not (the parser's error followed by the text it read).
pub fn parses_back(sql: &str, dialect: Dialect) -> Result<(), String> {
    let text = parseable(sql, dialect)?;
    let parser = match dialect {
        Dialect::ClickHouse => Parser::new(&ClickHouseDialect {}),
        Dialect::Postgres => Parser::new(&PostgreSqlDialect {}),
        Dialect::Sqlite => Parser::new(&SQLiteDialect {}),
    };
    let parsed = parser
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(&text)
        .and_then(|mut p| p.parse_statements());
    match parsed {
        Ok(statements) if statements.len() == 1 => Ok(()),
        Ok(statements) => Err(format!(
            "expected exactly one statement, got {}\n{text}",
            statements.len()
        )),
        Err(e) => Err(format!("sqlparser: {e}\n{text}")),
    }
}

/// The SQL as sqlparser 0.64 can read it: two constructs that are valid for the engine
/// but unknown to sqlparser's dialect are rewritten, and nothing else.
///
/// - ClickHouse's server-side parameters `{pN:Type}` are valid ClickHouse (the server
///   substitutes them, typed, before parsing), but sqlparser's ClickHouse dialect does not
///   know them; each is replaced by a literal of its type so the rest of the statement is
///   still checked.
/// - SQLite accepts `WITH name AS MATERIALIZED (…)` since 3.35 (2021), but sqlparser's
///   SQLite dialect only accepts the keyword for PostgreSQL-like dialects
///   (`supports_cte_materialization`); it is dropped before parsing.
///
/// PostgreSQL's `$n::type` and SQLite's `?n` are parsed as they are. A malformed
/// ClickHouse placeholder is an error, not a panic, so the fuzzer reports it as a failure
/// of the oracle.
pub fn parseable(sql: &str, dialect: Dialect) -> Result<String, String> {
    match dialect {
        Dialect::Postgres => return Ok(sql.to_string()),
        Dialect::Sqlite => return Ok(sql.replace(" AS MATERIALIZED (", " AS (")),
        Dialect::ClickHouse => {}
    }
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(open) = rest.find("{p") {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("unclosed placeholder in {sql}"))?;
        let inner = &after[2..close];
        let (n, ty) = inner
            .split_once(':')
            .ok_or_else(|| format!("placeholder without a type: {{{inner}}}"))?;
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("placeholder name is not pN: {{{inner}}}"));
        }
        out.push_str(match ty {
            "String" => "'p'",
            "Int64" => "1",
            "Float64" => "1.5",
            other => return Err(format!("unexpected placeholder type {other}")),
        });
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clickhouse_placeholders_become_typed_literals() {
        assert_eq!(
            parseable(
                "SELECT {p1:String}, {p2:Int64}, {p3:Float64}",
                Dialect::ClickHouse
            ),
            Ok("SELECT 'p', 1, 1.5".to_string())
        );
        assert!(parseable("SELECT {p1:UInt8}", Dialect::ClickHouse).is_err());
        assert!(parseable("SELECT {px:String}", Dialect::ClickHouse).is_err());
        assert!(parses_back("SELECT {p1:String}", Dialect::ClickHouse).is_ok());
    }

    #[test]
    fn sqlite_materialized_ctes_are_read() {
        let sql = "WITH a AS MATERIALIZED (SELECT 1) SELECT * FROM a";
        assert!(parses_back(sql, Dialect::Sqlite).is_ok());
        assert!(parses_back(sql, Dialect::Postgres).is_ok());
    }

    #[test]
    fn exactly_one_statement() {
        assert!(parses_back("SELECT 1; SELECT 2", Dialect::Postgres).is_err());
        assert!(parses_back("", Dialect::Postgres).is_err());
        assert!(parses_back("SELECT FROM WHERE", Dialect::Sqlite).is_err());
    }

    #[test]
    fn deep_but_bounded_nesting_parses() {
        // Deeper than sqlparser's default limit of 50, as a long filter list may render.
        let sql = format!("SELECT {}1{}", "(".repeat(60), ")".repeat(60));
        assert!(parses_back(&sql, Dialect::Postgres).is_ok());
    }
}
