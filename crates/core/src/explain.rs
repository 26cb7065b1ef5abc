//! `explain=true`: what a request compiles to and how the engine would run it.
//!
//! [`plan_query`] wraps a compiled statement in the engine's own `EXPLAIN` (PostgreSQL's
//! `EXPLAIN`, SQLite's `EXPLAIN QUERY PLAN`, ClickHouse's `EXPLAIN indexes = 1`; each
//! dialect's [`plan_statement`](crate::sql::DialectRules::plan_statement)) with the same
//! parameters, so the plan shown is the plan of the very statement and values the
//! request would run; [`plan_text`] turns the rows it returns into text. The statements
//! themselves are sequenced in [`crate::exec`].

use serde::Serialize;

use crate::sql::{Dialect, Param, Query, Row, Value};

/// The answer to `explain=true`: every statement the request runs, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The engine: `clickhouse`, `postgres` or `sqlite`.
    pub dialect: &'static str,
    /// The statements.
    pub statements: Vec<Statement>,
}

/// One compiled statement with its parameters and the engine's plan of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statement {
    /// What it answers: `first_event` (the start of `range=all`, looked up before the
    /// chart or funnel is compiled), `chart`, `funnel`, `page` or `count`.
    pub purpose: &'static str,
    /// The SQL text, exactly as sent.
    pub sql: String,
    /// Its parameters, in placeholder order.
    pub params: Vec<ParamValue>,
    /// The engine's plan, one line per step.
    pub plan: String,
}

/// A bound parameter as JSON: its type and value (timestamps as UTC text).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamValue {
    /// `text`, `int`, `float` or `timestamp`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The value.
    pub value: serde_json::Value,
}

impl From<&Param> for ParamValue {
    fn from(p: &Param) -> ParamValue {
        let (kind, value) = match p {
            Param::Text(s) => ("text", serde_json::Value::from(s.as_str())),
            Param::Int(i) => ("int", serde_json::Value::from(*i)),
            // A NaN or infinity is never bound (decoding refuses them); JSON has no such
            // number, so it would read as null.
            Param::Float(f) => ("float", serde_json::Value::from(*f)),
            Param::Timestamp(ms) => (
                "timestamp",
                serde_json::Value::from(crate::time::format_utc_millis(*ms)),
            ),
        };
        ParamValue { kind, value }
    }
}

/// The statement that asks the engine for `query`'s plan, with `query`'s parameters.
pub fn plan_query(query: &Query, dialect: Dialect) -> Query {
    let plan = dialect.rules().plan_statement();
    Query {
        sql: format!("{}{}", plan.prefix, query.sql),
        params: query.params.clone(),
        columns: plan.columns.to_vec(),
    }
}

/// The plan's rows as text: a line per row, or a tree of `(id, parent, _, detail)` rows
/// drawn as SQLite's shell draws it.
pub fn plan_text(rows: &[Row], dialect: Dialect) -> String {
    let text = |v: Option<&Value>| match v {
        Some(Value::Text(s)) => s.clone(),
        _ => String::new(),
    };
    if !dialect.rules().plan_statement().tree {
        return rows
            .iter()
            .map(|r| text(r.first()))
            .collect::<Vec<_>>()
            .join("\n");
    }
    let int = |v: Option<&Value>| match v {
        Some(Value::Int(i)) => *i,
        _ => 0,
    };
    let nodes: Vec<(i64, i64, String)> = rows
        .iter()
        .map(|r| (int(r.first()), int(r.get(1)), text(r.get(3))))
        .collect();
    let mut out = vec!["QUERY PLAN".to_string()];
    draw_tree(&nodes, 0, "", &mut out, 0);
    out.join("\n")
}

/// The children of `parent`, in the engine's order, each under its ancestors' rails.
/// Depth is bounded by the rows (a node is drawn once, under its first parent).
fn draw_tree(
    nodes: &[(i64, i64, String)],
    parent: i64,
    indent: &str,
    out: &mut Vec<String>,
    depth: usize,
) {
    if depth > nodes.len() {
        return;
    }
    let children: Vec<&(i64, i64, String)> = nodes
        .iter()
        .filter(|(id, p, _)| *p == parent && *id != parent)
        .collect();
    for (i, (id, _, detail)) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        out.push(format!(
            "{indent}{}{detail}",
            if last { "`--" } else { "|--" }
        ));
        let deeper = format!("{indent}{}", if last { "   " } else { "|  " });
        draw_tree(nodes, *id, &deeper, out, depth + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::CellType;

    #[test]
    fn sqlite_plans_draw_as_the_shell_draws_them() {
        let row = |id, parent, detail: &str| {
            vec![
                Value::Int(id),
                Value::Int(parent),
                Value::Int(0),
                Value::Text(detail.into()),
            ]
        };
        let rows = vec![
            row(2, 0, "CO-ROUTINE e"),
            row(5, 2, "SEARCH events USING COVERING INDEX x (project_id=?)"),
            row(30, 0, "SCAN e"),
            row(40, 0, "USE TEMP B-TREE FOR GROUP BY"),
        ];
        assert_eq!(
            plan_text(&rows, Dialect::Sqlite),
            "QUERY PLAN\n\
             |--CO-ROUTINE e\n\
             |  `--SEARCH events USING COVERING INDEX x (project_id=?)\n\
             |--SCAN e\n\
             `--USE TEMP B-TREE FOR GROUP BY"
        );
    }

    #[test]
    fn plans_keep_the_statement_and_its_parameters() {
        let q = Query {
            sql: "SELECT 1 WHERE a = $1".into(),
            params: vec![Param::Timestamp(0), Param::Text("x".into())],
            columns: vec![CellType::Int],
        };
        let p = plan_query(&q, Dialect::Postgres);
        assert_eq!(p.sql, "EXPLAIN SELECT 1 WHERE a = $1");
        assert_eq!(p.params, q.params);
        let values: Vec<ParamValue> = q.params.iter().map(ParamValue::from).collect();
        assert_eq!(
            serde_json::to_string(&values).ok().as_deref(),
            Some(
                r#"[{"type":"timestamp","value":"1970-01-01T00:00:00.000Z"},{"type":"text","value":"x"}]"#
            )
        );
    }
}
