//! `GET /export/events`: one page query and one count query over the same conditions,
//! plus the follow-up lookups for `includes=profile` and `includes=meta`.

use super::{Context, epoch_ms, filter_expr};
use crate::error::{ParamError, RequestError};
use crate::event::{EventField, FieldKind};
use crate::request::{EventsRequest, Include};
use crate::sql::CellType;
use crate::sql::ast::{
    Expr, Func, Item, Op, OrderBy, Params, Select, Source, Statement, TimeColumn,
};
use crate::sql::render::render;
use crate::sql::{Dialect, Query};
use crate::time;

/// The compiled events request.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsPlan {
    /// The page, ordered `created_at DESC, id ASC`.
    pub page: Query,
    /// `count(*)` over the same conditions.
    pub count: Query,
    /// The fields of each page row, in column order (also the JSON order).
    pub fields: Vec<EventField>,
    /// Whether to attach profiles.
    pub profile: bool,
    /// Whether to attach event metadata.
    pub meta: bool,
    /// Page number.
    pub page_number: u64,
    /// Page size.
    pub page_size: u64,
}

fn column_type(kind: FieldKind) -> CellType {
    match kind {
        FieldKind::Text => CellType::Text,
        FieldKind::Int | FieldKind::Timestamp | FieldKind::NullableTimestamp => CellType::Int,
        FieldKind::NullableFloat => CellType::Float,
        FieldKind::Map => CellType::Map,
    }
}

fn field_expr(f: EventField) -> Expr {
    match f.kind() {
        FieldKind::Timestamp => epoch_ms(f.column()),
        FieldKind::NullableTimestamp => Expr::EpochMs(TimeColumn::nullable(f.column())),
        _ if f == EventField::Id => Expr::call(Func::IdText, vec![Expr::Col("id")]),
        _ => Expr::Col(f.column()),
    }
}

/// Compile the page and count queries of an events request.
pub fn compile_events(
    req: &EventsRequest,
    ctx: &Context,
    dialect: Dialect,
) -> Result<EventsPlan, RequestError> {
    let start = req
        .start
        .as_deref()
        .map(|s| time::parse_instant(s, ctx.tz, false))
        .transpose()
        .map_err(|e| ParamError::invalid("start", e.to_string()))?;
    let end = req
        .end
        .as_deref()
        .map(|s| time::parse_instant(s, ctx.tz, true))
        .transpose()
        .map_err(|e| ParamError::invalid("end", e.to_string()))?;
    if let (Some(s), Some(e)) = (start, end) {
        if s > e {
            return Err(ParamError::invalid("start", "start must not be after end").into());
        }
    }

    let mut fields: Vec<EventField> = EventField::DEFAULTS.to_vec();
    for inc in &req.includes {
        if let Include::Field(f) = inc {
            if !fields.contains(f) {
                fields.push(*f);
            }
        }
    }
    // Defaults keep the order of §5; extras follow in the order of §2.1.
    let extra_start = EventField::DEFAULTS.len();
    fields[extra_start..].sort();

    let build = |count: bool| {
        let mut params = Params::default();
        let mut filter = vec![Expr::Col("project_id").eq(params.text(ctx.project_id.clone()))];
        if let Some(s) = start {
            filter.push(Expr::Col("created_at").op(Op::GtEq, params.ts(s)));
        }
        if let Some(e) = end {
            filter.push(Expr::Col("created_at").op(Op::LtEq, params.ts(e)));
        }
        match req.events.as_slice() {
            [] => {}
            [one] => filter.push(Expr::Col("name").eq(params.text(one.clone()))),
            many => {
                let names = many.iter().map(|n| params.text(n.clone())).collect();
                filter.push(Expr::InList(Box::new(Expr::Col("name")), names, false));
            }
        }
        if let Some(p) = &req.profile_id {
            filter.push(Expr::Col("profile_id").eq(params.text(p.clone())));
        }
        for f in &req.filters {
            filter.push(filter_expr(f, &mut params));
        }
        let mut select = Select {
            from: Some(Source::table("events")),
            filter,
            ..Select::default()
        };
        let columns = if count {
            select.item(Expr::count_star(), "total");
            vec![CellType::Int]
        } else {
            // Transformed columns get aliases that are not column names: ClickHouse would
            // otherwise substitute the alias for the column in WHERE.
            for f in &fields {
                let alias = match f {
                    EventField::CreatedAt => Some("created_at_ms"),
                    EventField::ImportedAt => Some("imported_at_ms"),
                    EventField::Id => Some("id_text"),
                    _ => None,
                };
                select.items.push(Item {
                    expr: field_expr(*f),
                    alias,
                });
            }
            select.order_by = vec![
                OrderBy::desc(Expr::Col("created_at")),
                OrderBy::asc(Expr::call(Func::IdText, vec![Expr::Col("id")])),
            ];
            let offset = req.page.saturating_sub(1).saturating_mul(req.limit);
            select.limit = Some(params.int(i64::try_from(req.limit).unwrap_or(i64::MAX)));
            select.offset = Some(params.int(i64::try_from(offset).unwrap_or(i64::MAX)));
            fields.iter().map(|f| column_type(f.kind())).collect()
        };
        render(dialect.rules(), &Statement::select(select), params, columns)
    };

    Ok(EventsPlan {
        page: build(false),
        count: build(true),
        fields,
        profile: req.includes.contains(&Include::Profile),
        meta: req.includes.contains(&Include::Meta),
        page_number: req.page,
        page_size: req.limit,
    })
}

/// The profiles with these ids (columns: id, first_name, last_name, email, avatar,
/// is_external, properties, created_at).
pub fn compile_profiles(project_id: &str, ids: &[String], dialect: Dialect) -> Query {
    let mut params = Params::default();
    let project = params.text(project_id);
    let ids: Vec<Expr> = ids.iter().map(|i| params.text(i.clone())).collect();
    let mut select = Select {
        from: Some(Source::Table {
            name: "profiles",
            final_: true,
        }),
        filter: vec![
            Expr::Col("project_id").eq(project),
            Expr::InList(
                Box::new(Expr::call(Func::IdText, vec![Expr::Col("id")])),
                ids,
                false,
            ),
        ],
        ..Select::default()
    };
    select
        .item(Expr::call(Func::IdText, vec![Expr::Col("id")]), "id")
        .item(Expr::Col("first_name"), "first_name")
        .item(Expr::Col("last_name"), "last_name")
        .item(Expr::Col("email"), "email")
        .item(Expr::Col("avatar"), "avatar")
        .item(Expr::Col("is_external"), "is_external")
        .item(Expr::Col("properties"), "properties")
        .item(epoch_ms("created_at"), "created_at");
    use CellType::*;
    let columns = vec![Text, Text, Text, Text, Text, Bool, Map, Int];
    render(dialect.rules(), &Statement::select(select), params, columns)
}

/// The event metadata rows of these names (columns: id, name, conversion, color, icon,
/// projectId, createdAt, updatedAt). The table uses OpenPanel's quoted camelCase columns.
pub fn compile_event_meta(project_id: &str, names: &[String], dialect: Dialect) -> Query {
    let mut params = Params::default();
    let project = params.text(project_id);
    let names: Vec<Expr> = names.iter().map(|n| params.text(n.clone())).collect();
    let mut select = Select {
        from: Some(Source::table("event_meta")),
        filter: vec![
            Expr::Col("\"projectId\"").eq(project),
            Expr::InList(Box::new(Expr::Col("name")), names, false),
        ],
        ..Select::default()
    };
    select
        .item(Expr::Col("id"), "id")
        .item(Expr::Col("name"), "name")
        .item(Expr::Col("conversion"), "conversion")
        .item(Expr::Col("color"), "color")
        .item(Expr::Col("icon"), "icon")
        .item(Expr::Col("\"projectId\""), "project_id")
        .item(epoch_ms("\"createdAt\""), "created_at")
        .item(epoch_ms("\"updatedAt\""), "updated_at");
    use CellType::*;
    let columns = vec![Text, Text, Bool, Text, Text, Text, Int, Int];
    render(dialect.rules(), &Statement::select(select), params, columns)
}
