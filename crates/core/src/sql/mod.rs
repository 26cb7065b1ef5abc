//! The small SQL AST, its bound parameters, and one renderer per dialect.
//!
//! The compiler builds [`ast`] values; [`render`] prints them through a [`DialectRules`]
//! whose default methods are the shared SQL and whose implementations (one file each in
//! [`dialect`]) hold only what differs. Values are never inlined: every user value is a
//! [`Param`] and is printed as the dialect's placeholder.

pub mod ast;
pub mod dialect;
pub mod render;
pub mod row;

pub use ast::Param;
pub use dialect::DialectRules;
pub use row::{CellType, Row, Value};

/// The three SQL engines Quarry compiles for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// ClickHouse (HTTP, server-side parameters `{p1:String}`).
    ClickHouse,
    /// PostgreSQL (`$1`).
    Postgres,
    /// SQLite (`?1`).
    Sqlite,
}

impl Dialect {
    /// All dialects, for tests and examples.
    pub const ALL: [Dialect; 3] = [Dialect::ClickHouse, Dialect::Postgres, Dialect::Sqlite];

    /// The lowercase name used on the command line and in snapshot names.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::ClickHouse => "clickhouse",
            Dialect::Postgres => "postgres",
            Dialect::Sqlite => "sqlite",
        }
    }

    /// Parse a name as [`Dialect::name`] prints it.
    pub fn parse(s: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.name() == s)
    }

    /// The rules object that renders this dialect.
    pub fn rules(self) -> &'static dyn DialectRules {
        match self {
            Dialect::ClickHouse => &dialect::clickhouse::ClickHouse,
            Dialect::Postgres => &dialect::postgres::Postgres,
            Dialect::Sqlite => &dialect::sqlite::Sqlite,
        }
    }
}

/// A compiled statement: SQL text, its parameters in placeholder order, and how to decode
/// each result column.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The SQL text, pretty-printed.
    pub sql: String,
    /// Parameters; placeholder `n` refers to `params[n - 1]`.
    pub params: Vec<Param>,
    /// Result columns, in order.
    pub columns: Vec<CellType>,
}

impl Query {
    /// A statement, its parameters and how to decode its columns.
    pub fn new(sql: impl Into<String>, params: Vec<Param>, columns: Vec<CellType>) -> Query {
        Query {
            sql: sql.into(),
            params,
            columns,
        }
    }

    /// The SQL followed by its parameters, one per line: the snapshot format.
    pub fn explain(&self) -> String {
        let mut out = self.sql.clone();
        out.push_str("\n-- params\n");
        for (i, p) in self.params.iter().enumerate() {
            out.push_str(&format!("-- {}: {}\n", i + 1, p.describe()));
        }
        out
    }
}
