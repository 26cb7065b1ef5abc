//! `GET /export/events`: one page query (on ClickHouse, for an offset page, a second one
//! when the first cannot tell the page: [`KeyOrderPage`]) and one count query over the same
//! conditions, plus the follow-up lookups for `includes=profile` and `includes=meta`.

use super::{Context, epoch_ms, filter_expr};
use crate::cursor::{self, Position};
use crate::error::{ParamError, RequestError};
use crate::event::{EventField, FieldKind};
use crate::request::{EventsRequest, ExportColumn, Include};
use crate::sql::ast::{
    Agg, Expr, Func, Item, Op, OrderBy, Params, Select, Source, Statement, TimeColumn,
};
use crate::sql::dialect::DialectRules;
use crate::sql::render::render;
use crate::sql::{CellType, Row, Value};
use crate::sql::{Dialect, Query};
use crate::time::{self, Ms};

/// How a page is chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum Paging {
    /// §5's pages: `page` (from 1) of `limit` rows, by offset.
    Offset { page: u64, limit: u64 },
    /// Keyset: up to `limit` rows after `after` (from the first row when `None`), plus one
    /// more row that only tells whether another page follows; only rows inside `span`.
    After {
        after: Option<Position>,
        limit: u64,
        span: Span,
    },
    /// Every row inside `span`, with no limit: a streamed export reads one such query per
    /// span. Where the sort key's day orders like the time over the whole span, the rows
    /// are ordered by that day first (the same order), so the engine reads them in the
    /// table's order and sorts one day at a time instead of the whole span.
    All { span: Span },
}

/// A slice of time that a keyset walk reads on its own, `[from, until)`, either end open:
/// see [`sort_day_spans`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    /// The earliest time, inclusive.
    pub from: Option<Ms>,
    /// The end, exclusive.
    pub until: Option<Ms>,
}

/// The spans a walk over every row reads one after the other, newest first. Where the sort
/// key's day orders like the time only inside a range
/// ([`DialectRules::sort_day_range`](crate::sql::DialectRules::sort_day_range)), the walk
/// reads the rows after that range, then the range itself (in the table's order, each
/// batch stopping after its rows), then the rows before it; elsewhere it reads everything
/// as one span. The last span is always open towards the past.
pub fn sort_day_spans(dialect: Dialect) -> Vec<Span> {
    let Some(range) = dialect.rules().sort_day_range() else {
        return vec![Span::default()];
    };
    vec![
        Span {
            from: Some(range.end),
            until: None,
        },
        Span {
            from: Some(range.start),
            until: Some(range.end),
        },
        Span {
            from: None,
            until: Some(range.start),
        },
    ]
}

/// The compiled events request.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsPlan {
    /// The page, in §5's order; on ClickHouse an offset page's rows in the table's order
    /// instead, with a margin ([`EventsPlan::key_order`]). In keyset paging, and in that
    /// ClickHouse statement, every row ends with two more cells, its position:
    /// `created_at` in ms and the id as text.
    pub page: Query,
    /// `count(*)` over the same conditions.
    pub count: Query,
    /// The columns of each page row, in order (also the JSON order).
    pub columns: Vec<ExportColumn>,
    /// Fields the `profile` and `meta` lookups need that `columns` lacks: cells after the
    /// columns, not part of the object.
    pub lookups: Vec<EventField>,
    /// Whether to attach profiles.
    pub profile: bool,
    /// Whether to attach event metadata.
    pub meta: bool,
    /// How the page was chosen.
    pub paging: Paging,
    /// The fingerprint of the conditions, which a cursor token carries: computed once, by
    /// [`compile_events`] for a request with `cursor`.
    pub fingerprint: Option<u64>,
    /// An offset page read in the table's order ([`KeyOrderPage`]): `page` then reads the
    /// sort key's order without the id tie-break, a row more on each side of the page.
    pub key_order: Option<KeyOrderPage>,
}

/// How an offset page is read in the table's order (ClickHouse, whose sort key starts with
/// the day and the time): one pass that stops after the page, like a hand-written query,
/// instead of finding the page's lower boundary first and then sorting with the tie-break.
///
/// The key order differs from §5's only among rows of the same time, and every order by
/// time puts the same times at the same positions. So the statement reads the page with
/// up to [`KEY_ORDER_MARGIN`] rows on each side: sorted by time and id, those rows hold
/// §5's page at its positions unless a page row shares its time with the first row read
/// (whose time may have rows before the margin) or with the last (rows after it). Only
/// then is [`KeyOrderPage::exact`] run; with the margin, that takes more than
/// [`KEY_ORDER_MARGIN`] rows of one millisecond at a border.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyOrderPage {
    /// §5's statement for the page (the lower boundary read in key order, then the page
    /// sorted with the tie-break).
    pub exact: Query,
    /// Rows the statement reads before the page (the margin, or fewer at the start).
    before: usize,
    /// Whether those are all the rows before the page.
    from_start: bool,
    /// The page's size.
    limit: usize,
}

/// Rows a [`KeyOrderPage`] reads on each side of the page, so that a time shared across
/// the page's border is seen whole.
pub const KEY_ORDER_MARGIN: u64 = 8;

impl KeyOrderPage {
    /// The page from the rows the statement read (each ending with its position: the time
    /// in ms and the id as text), in §5's order and without the position; `None` when a
    /// page row may share its time with rows the statement did not read (run
    /// [`KeyOrderPage::exact`]).
    pub fn page(&self, mut rows: Vec<Row>) -> Option<Vec<Row>> {
        let ms = |row: &Row| row.len().checked_sub(2).map(|i| row[i].as_i64());
        fn id(row: &Row) -> Option<&str> {
            match row.last() {
                Some(Value::Text(id)) => Some(id),
                _ => None,
            }
        }
        let asked = self.before + self.limit + KEY_ORDER_MARGIN as usize;
        let on_page = self.before.min(rows.len())..(self.before + self.limit).min(rows.len());
        let (first, last) = (rows.first().map(ms), rows.last().map(ms));
        let page_has =
            |t: Option<Option<i64>>| rows[on_page.clone()].iter().any(|r| Some(ms(r)) == t);
        if (!self.from_start && page_has(first)) || (rows.len() == asked && page_has(last)) {
            return None;
        }
        rows.sort_by(|a, b| ms(b).cmp(&ms(a)).then_with(|| id(a).cmp(&id(b))));
        let mut page: Vec<Row> = rows.drain(on_page).collect();
        for row in &mut page {
            row.truncate(row.len().saturating_sub(2));
        }
        Some(page)
    }
}

impl EventsPlan {
    /// Where the cell of this Event field is in a page row, if the page reads it.
    pub fn field_at(&self, field: EventField) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| *c == ExportColumn::Field(field))
            .or_else(|| {
                let at = self.lookups.iter().position(|f| *f == field)?;
                Some(self.columns.len() + at)
            })
    }
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
        _ if f == EventField::Id => id_text(),
        _ => Expr::Col(f.column()),
    }
}

fn id_text() -> Expr {
    Expr::call(Func::IdText, vec![Expr::Col("id")])
}

/// The columns of a page: `fields` as chosen, else §5's defaults; then the fields
/// `includes` adds that are not there yet (in §2.1's order).
fn columns_of(req: &EventsRequest) -> Vec<ExportColumn> {
    let mut columns: Vec<ExportColumn> = match &req.fields {
        Some(chosen) => chosen.clone(),
        None => EventField::DEFAULTS.map(ExportColumn::Field).to_vec(),
    };
    let mut extra: Vec<EventField> = req
        .includes
        .iter()
        .filter_map(|inc| match inc {
            Include::Field(f) if !columns.contains(&ExportColumn::Field(*f)) => Some(*f),
            _ => None,
        })
        .collect();
    extra.sort();
    extra.dedup();
    columns.extend(extra.into_iter().map(ExportColumn::Field));
    columns
}

/// `start` and `end` resolved in the request's timezone.
fn window(req: &EventsRequest, ctx: &Context) -> Result<(Option<Ms>, Option<Ms>), RequestError> {
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
    Ok((start, end))
}

/// The request's conditions: project, window, names, profile and filters.
fn conditions(
    req: &EventsRequest,
    ctx: &Context,
    (start, end): (Option<Ms>, Option<Ms>),
    params: &mut Params,
) -> Vec<Expr> {
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
        filter.push(filter_expr(f, params));
    }
    filter
}

/// `SELECT count(*)` over the conditions.
fn count_query(
    req: &EventsRequest,
    ctx: &Context,
    window: (Option<Ms>, Option<Ms>),
    dialect: Dialect,
) -> Query {
    let mut params = Params::default();
    let mut select = Select {
        from: Some(Source::table("events")),
        filter: conditions(req, ctx, window, &mut params),
        ..Select::default()
    };
    select.item(Expr::count_star(), "total");
    render(
        dialect.rules(),
        &Statement::select(select),
        params,
        vec![CellType::Int],
    )
}

/// Compile the page and count queries of an events request: §5's offset page, or a
/// keyset page when the request carries `cursor` (a token of another request's conditions
/// is a 400 naming `cursor`).
pub fn compile_events(
    req: &EventsRequest,
    ctx: &Context,
    dialect: Dialect,
) -> Result<EventsPlan, RequestError> {
    let Some(token) = &req.cursor else {
        let paging = Paging::Offset {
            page: req.page,
            limit: req.limit,
        };
        return compile_events_page(req, ctx, dialect, paging);
    };
    let fingerprint = conditions_fingerprint(req, ctx)?;
    let paging = Paging::After {
        after: cursor::decode(token, fingerprint)?,
        limit: req.limit,
        span: Span::default(),
    };
    Ok(EventsPlan {
        fingerprint: Some(fingerprint),
        ..compile_events_page(req, ctx, dialect, paging)?
    })
}

/// The fingerprint of the request's conditions: their SQL in one fixed dialect with its
/// parameters, so equal conditions give equal tokens on every backend.
pub fn conditions_fingerprint(req: &EventsRequest, ctx: &Context) -> Result<u64, RequestError> {
    let window = window(req, ctx)?;
    Ok(cursor::fingerprint(
        &count_query(req, ctx, window, Dialect::Sqlite).explain(),
    ))
}

/// Whether every row a page can read lies inside `range` (where the sort key's day orders
/// like the time): the request's `start` or the span bounds it from below, and its `end`,
/// the keyset position or the span from above. Pages without such bounds sort by the time
/// alone.
fn days_in_range(
    range: &std::ops::Range<Ms>,
    (start, end): (Option<Ms>, Option<Ms>),
    paging: &Paging,
) -> bool {
    let (position, span) = match paging {
        Paging::After { after, span, .. } => (after.as_ref().map(|a| a.created_at), *span),
        Paging::All { span } => (None, *span),
        Paging::Offset { .. } => (None, Span::default()),
    };
    let lower = [start, span.from].into_iter().flatten().max();
    let upper = [end, position, span.until.map(|u| u - 1)]
        .into_iter()
        .flatten()
        .min();
    lower.is_some_and(|l| l >= range.start) && upper.is_some_and(|u| u < range.end)
}

/// `(SELECT min(t) FROM (SELECT created_at AS t FROM events WHERE … ORDER BY
/// toDate(created_at) DESC, created_at DESC LIMIT n))`: the time of the `n`-th row in time
/// order, read in the sort key's order (exactly its prefix, so the engine stops after `n`
/// rows). Valid only where the day orders like the time ([`days_in_range`]).
fn boundary(filter: &[Expr], n: u64, params: &mut Params) -> Expr {
    let mut first = Select {
        from: Some(Source::table("events")),
        filter: filter.to_vec(),
        ..Select::default()
    };
    first.item(Expr::Col("created_at"), "t");
    first.order_by = vec![
        OrderBy::desc(Expr::call(Func::SortDay, vec![Expr::Col("created_at")])),
        OrderBy::desc(Expr::Col("created_at")),
    ];
    first.limit = Some(params.int(i64::try_from(n).unwrap_or(i64::MAX)));
    let mut min = Select {
        from: Some(Source::Subquery(
            Box::new(Statement::select(first)),
            "first_rows",
        )),
        ..Select::default()
    };
    min.item(Expr::agg(Agg::Min, Expr::Col("t")), "boundary");
    Expr::Subquery(Box::new(Statement::select(min)))
}

/// Compile one page of an events request, chosen by `paging`.
pub fn compile_events_page(
    req: &EventsRequest,
    ctx: &Context,
    dialect: Dialect,
    paging: Paging,
) -> Result<EventsPlan, RequestError> {
    let window = window(req, ctx)?;
    let columns = columns_of(req);
    let rules = dialect.rules();

    let mut params = Params::default();
    let mut filter = conditions(req, ctx, window, &mut params);
    let mut select = Select {
        from: Some(Source::table("events")),
        ..Select::default()
    };
    let mut types = Vec::with_capacity(columns.len() + 2);
    // Transformed columns get aliases that are not column names: ClickHouse would
    // otherwise substitute the alias for the column in WHERE.
    for c in &columns {
        let (expr, alias, ty) = match c {
            ExportColumn::Field(f) => {
                let alias = match f {
                    EventField::CreatedAt => Some("created_at_ms"),
                    EventField::ImportedAt => Some("imported_at_ms"),
                    EventField::Id => Some("id_text"),
                    _ => None,
                };
                (field_expr(*f), alias, column_type(f.kind()))
            }
            ExportColumn::Property(key) => (
                Expr::call(Func::Property, vec![params.text(key.clone())]),
                None,
                CellType::Text,
            ),
        };
        select.items.push(Item { expr, alias });
        types.push(ty);
    }
    // `includes=profile` and `meta` look up by the profile id and the name, chosen or not.
    let profile = req.includes.contains(&Include::Profile);
    let meta = req.includes.contains(&Include::Meta);
    let lookups: Vec<EventField> = [(profile, EventField::ProfileId), (meta, EventField::Name)]
        .into_iter()
        .filter(|(on, f)| *on && !columns.contains(&ExportColumn::Field(*f)))
        .map(|(_, f)| f)
        .collect();
    for f in &lookups {
        select.item(Expr::Col(f.column()), f.column());
        types.push(CellType::Text);
    }
    select.order_by.push(OrderBy::desc(Expr::Col("created_at")));
    select.order_by.push(OrderBy::asc(id_text()));
    let span_filter = |span: &Span, filter: &mut Vec<Expr>, params: &mut Params| {
        if let Some(from) = span.from {
            filter.push(Expr::Col("created_at").op(Op::GtEq, params.ts(from)));
        }
        if let Some(until) = span.until {
            filter.push(Expr::Col("created_at").op(Op::Lt, params.ts(until)));
        }
    };
    let in_order = rules.sort_day_range();
    let (limit, offset) = match &paging {
        Paging::Offset { page, limit } => {
            (Some(*limit), page.saturating_sub(1).saturating_mul(*limit))
        }
        Paging::All { span } => {
            span_filter(span, &mut filter, &mut params);
            if in_order
                .as_ref()
                .is_some_and(|range| days_in_range(range, window, &paging))
            {
                let day = Expr::call(Func::SortDay, vec![Expr::Col("created_at")]);
                select.order_by.insert(0, OrderBy::desc(day));
            }
            (None, 0)
        }
        Paging::After { after, limit, span } => {
            span_filter(span, &mut filter, &mut params);
            if let Some(at) = after {
                // Rows after the position in §5's order: earlier, or as early with a greater
                // id. The first conjunct alone bounds the index (or key) range.
                let ts = params.ts(at.created_at);
                let id = params.text(at.id.clone());
                filter.push(Expr::Col("created_at").op(Op::LtEq, ts.clone()));
                filter.push(Expr::or(vec![
                    Expr::Col("created_at").op(Op::Lt, ts),
                    id_text().op(Op::Gt, id),
                ]));
            }
            select.item(epoch_ms("created_at"), "position_ms");
            select.item(id_text(), "position_id");
            types.extend([CellType::Int, CellType::Text]);
            (Some(limit.saturating_add(1)), 0)
        }
    };
    let days = in_order.is_some_and(|range| days_in_range(&range, window, &paging));
    let key_order = match (&paging, limit) {
        (Paging::Offset { .. }, Some(limit)) if days && limit > 0 => Some(key_order_page(
            select.clone(),
            filter.clone(),
            params.clone(),
            types.clone(),
            rules,
            (limit, offset),
        )),
        _ => None,
    };
    if let Some(limit) = limit.filter(|_| days) {
        // The page's rows are among the first `offset + limit` rows in time order, so they
        // are no older than the last of those. The table reads that boundary in its own
        // order (the sort key's day, then the time), stopping after those rows; the page
        // then sorts only the rows at or after it.
        let boundary = boundary(&filter, offset.saturating_add(limit), &mut params);
        filter.push(Expr::Col("created_at").op(Op::GtEq, boundary));
    }
    select.filter = filter;
    select.limit = limit.map(|n| params.int(i64::try_from(n).unwrap_or(i64::MAX)));
    if let Paging::Offset { .. } = paging {
        select.offset = Some(params.int(i64::try_from(offset).unwrap_or(i64::MAX)));
    }
    let exact = render(rules, &Statement::select(select), params, types);
    let (page, key_order) = match key_order {
        Some((probe, key_order)) => (probe, Some(KeyOrderPage { exact, ..key_order })),
        None => (exact, None),
    };

    Ok(EventsPlan {
        page,
        count: count_query(req, ctx, window, dialect),
        columns,
        lookups,
        profile,
        meta,
        paging,
        fingerprint: None,
        key_order,
    })
}

/// The statement of a [`KeyOrderPage`] and the page (its `exact` statement still to be
/// set): the page's columns and its rows'
/// positions, in the sort key's order (the day, then the time: exactly its prefix, so the
/// engine stops after the rows it returns), from [`KEY_ORDER_MARGIN`] rows before the page
/// (or the first row) to as many after it.
fn key_order_page(
    mut select: Select,
    filter: Vec<Expr>,
    mut params: Params,
    mut types: Vec<CellType>,
    rules: &dyn DialectRules,
    (limit, offset): (u64, u64),
) -> (Query, KeyOrderPage) {
    select.item(epoch_ms("created_at"), "position_ms");
    select.item(id_text(), "position_id");
    types.extend([CellType::Int, CellType::Text]);
    select.order_by = vec![
        OrderBy::desc(Expr::call(Func::SortDay, vec![Expr::Col("created_at")])),
        OrderBy::desc(Expr::Col("created_at")),
    ];
    select.filter = filter;
    let before = offset.min(KEY_ORDER_MARGIN);
    let rows = before
        .saturating_add(limit)
        .saturating_add(KEY_ORDER_MARGIN);
    select.limit = Some(params.int(i64::try_from(rows).unwrap_or(i64::MAX)));
    if offset > before {
        select.offset = Some(params.int(i64::try_from(offset - before).unwrap_or(i64::MAX)));
    }
    let query = render(rules, &Statement::select(select), params, types);
    let page = KeyOrderPage {
        exact: Query::new("", Vec::new(), Vec::new()),
        before: usize::try_from(before).unwrap_or(usize::MAX),
        from_start: before == offset,
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
    };
    (query, page)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A key-order row: a cell of the page, then its position (time in ms, id as text).
    fn row(ms: i64, id: &str) -> Row {
        vec![
            Value::Text(format!("{id}@{ms}")),
            Value::Int(ms),
            Value::Text(id.into()),
        ]
    }

    /// The page of `rows` read with `before` rows before it (all there are, or not).
    fn page(before: usize, from_start: bool, limit: usize, rows: Vec<Row>) -> Option<Vec<String>> {
        let exact = Query::new("", Vec::new(), Vec::new());
        let key_order = KeyOrderPage {
            exact,
            before,
            from_start,
            limit,
        };
        key_order.page(rows).map(|rows| {
            rows.iter()
                .map(|r| {
                    assert_eq!(r.len(), 1, "the position is dropped");
                    match &r[0] {
                        Value::Text(t) => t.clone(),
                        other => panic!("{other:?}"),
                    }
                })
                .collect()
        })
    }

    /// Rows of these times (descending) and ids, in this order.
    fn rows(times: &[(i64, &str)]) -> Vec<Row> {
        times.iter().map(|(t, id)| row(*t, id)).collect()
    }

    const M: usize = KEY_ORDER_MARGIN as usize;

    #[test]
    fn a_key_order_page_is_sorted_by_time_then_id_within_its_borders() {
        // The first page (nothing before it): rows of several times, ties inside the page
        // and across its lower border, all read whole (the data ends within the margin).
        let read = rows(&[(9, "b"), (9, "a"), (8, "z"), (7, "d"), (7, "c"), (6, "x")]);
        assert_eq!(
            page(0, true, 4, read),
            Some(vec!["a@9".into(), "b@9".into(), "z@8".into(), "c@7".into()])
        );
        // A later page: two rows before it; a tie across its upper border, read whole.
        let read = rows(&[(6, "w"), (5, "y"), (5, "x"), (4, "z"), (3, "a")]);
        assert_eq!(
            page(2, false, 2, read),
            Some(vec!["y@5".into(), "z@4".into()])
        );
        // Past the end: the rows before only, or nothing.
        assert_eq!(page(1, false, 2, rows(&[(5, "x")])), Some(vec![]));
        assert_eq!(page(1, false, 2, vec![]), Some(vec![]));
    }

    #[test]
    fn a_time_that_may_go_on_past_the_rows_read_needs_the_exact_statement() {
        // The first row read (the margin's first) shares its time with the page's first:
        // rows of that time may come before it.
        let read = rows(&[(4, "x"), (4, "b"), (3, "a")]);
        assert_eq!(page(1, false, 2, read), None);
        // The same rows read from the start of the data are whole.
        let read = rows(&[(4, "x"), (4, "b"), (3, "a")]);
        assert_eq!(
            page(1, true, 2, read),
            Some(vec!["x@4".into(), "a@3".into()])
        );
        // The last row of a full read shares its time with the page's last.
        let mut read = rows(&[(9, "p"), (8, "a")]);
        read.extend((0..M).map(|i| row(8, &format!("t{i:02}"))));
        assert_eq!(page(0, true, 2, read), None);
        // One row fewer than asked: the data ended, so that time was read whole.
        let mut read = rows(&[(9, "p"), (8, "a")]);
        read.extend((0..M - 1).map(|i| row(8, &format!("t{i:02}"))));
        assert_eq!(
            page(0, true, 2, read),
            Some(vec!["p@9".into(), "a@8".into()])
        );
    }
}
