//! The general funnel (docs/funnels.md) as arrays, for an engine with array functions
//! ([`DialectRules::funnel_arrays`](crate::sql::DialectRules::funnel_arrays): ClickHouse).
//!
//! The window form ([`super::funnel`]'s `general`) carries, per event and step, the latest
//! start of a valid chain ending there, with one window pass per step; ClickHouse sorts
//! the rows again for each pass (3.5x a hand-written `windowFunnel`, docs/performance.md).
//! Here each entrant's events are gathered once into an array sorted by time, and each
//! step is one `arrayMap` over it, fed by the previous step's array:
//!
//! - The latest start is the start of the *latest* valid end of the previous step (the
//!   starts of valid ends never decrease along the time order: a later end's predecessor
//!   is at least as late), so a forward fill (`arrayFill`) finds it, and every condition
//!   that fails for the latest end (the funnel window, a step window, an exclusion since
//!   then) fails for every earlier one too.
//! - Events of one millisecond never follow each other: each event reads the fill as it
//!   stood before the first event of its millisecond. When every event is at most one
//!   step or exclusion, the events of a millisecond are sorted instead so that later steps
//!   come first and exclusions before them, and a plain fill reads only earlier
//!   milliseconds' steps (the order `windowFunnel`'s tie rule gives, docs/funnels.md).
//! - An exclusion between two steps: the number of exclusion events up to and including
//!   the current millisecond must equal the number before the previous step's millisecond.
//! - Strict order reads the previous event alone, and both must be alone at their
//!   millisecond.
//!
//! Times are relative to the window's start plus one, so that 0 means "no chain".

use super::funnel::{
    BIN_ALIASES, CHAIN_ALIASES, FIRST_ALIASES, OPEN_ALIASES, Output, STEP_ALIASES, Scan,
    VALUE_ALIASES, by_level_open_bucket, in_bin, layer, names_tell_groups, nearest_ranks,
    open_by_level, rank_combinations, scan,
};
use super::{Context, epoch_ms};
use crate::request::{Attribution, FunnelOrder, FunnelRange, FunnelRequest};
use crate::sql::ast::{Body, Cte, Expr, Op, OrderBy, Params, Select, Source, Statement};
use crate::time::Window;

/// Per transition `q` (into step `q`) with exclusions: exclusion events up to and
/// including each event's millisecond.
const UPTO_ALIASES: [&str; 20] = [
    "xu1", "xu2", "xu3", "xu4", "xu5", "xu6", "xu7", "xu8", "xu9", "xu10", "xu11", "xu12", "xu13",
    "xu14", "xu15", "xu16", "xu17", "xu18", "xu19", "xu20",
];
/// … and before each event's millisecond.
const BEFORE_ALIASES: [&str; 20] = [
    "xb1", "xb2", "xb3", "xb4", "xb5", "xb6", "xb7", "xb8", "xb9", "xb10", "xb11", "xb12", "xb13",
    "xb14", "xb15", "xb16", "xb17", "xb18", "xb19", "xb20",
];

/// … or, with one step or exclusion per event, the latest exclusion event's time at or
/// before each event's millisecond.
const LATEST_ALIASES: [&str; 20] = [
    "xe1", "xe2", "xe3", "xe4", "xe5", "xe6", "xe7", "xe8", "xe9", "xe10", "xe11", "xe12", "xe13",
    "xe14", "xe15", "xe16", "xe17", "xe18", "xe19", "xe20",
];

/// Per step `q >= 2`: the durations from step `q - 1`'s first completion.
const DURATION_ALIASES: [&str; 19] = [
    "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15",
    "d16", "d17", "d18", "d19", "d20",
];

/// Per step, with `funnelOrder=any`: the step's first time from each event's millisecond on.
const NEXT_ALIASES: [&str; 20] = [
    "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "n10", "n11", "n12", "n13", "n14", "n15",
    "n16", "n17", "n18", "n19", "n20",
];

fn f(name: &'static str, args: Vec<Expr>) -> Expr {
    Expr::engine(name, args)
}

fn col(c: &'static str) -> Expr {
    Expr::Col(c)
}

/// `arrayMap((params) -> body, arrays…)`.
fn map(params: &[&'static str], body: Expr, arrays: Vec<Expr>) -> Expr {
    let mut args = vec![Expr::lambda(params, body)];
    args.extend(arrays);
    f("arrayMap", args)
}

/// The array moved one place later (`pad` first, the last element dropped).
fn shift_later(a: Expr, pad: i64) -> Expr {
    f("arrayShiftRight", vec![a, Expr::Int(1), Expr::Int(pad)])
}

/// The array moved one place earlier (the first element dropped, `pad` last).
fn shift_earlier(a: Expr, pad: i64) -> Expr {
    f("arrayShiftLeft", vec![a, Expr::Int(1), Expr::Int(pad)])
}

/// Whether the entrant has an event of step `i + 1`: bit `i` of the gate's `bits`.
fn has_step(i: i64) -> Expr {
    f("bitTest", vec![col("bits"), Expr::Int(i)]).op(Op::NotEq, Expr::Int(0))
}

fn positive() -> Expr {
    Expr::lambda(&["x"], col("x").op(Op::Gt, Expr::Int(0)))
}

/// Each element replaced by the latest positive one at or before it.
fn fill(a: Expr) -> Expr {
    f("arrayFill", vec![positive(), a])
}

/// Each element replaced by the earliest positive one at or after it.
fn fill_back(a: Expr) -> Expr {
    f("arrayReverseFill", vec![positive(), a])
}

/// Each element replaced by the one at the first event of its millisecond (`st`).
fn at_millisecond_start(a: Expr) -> Expr {
    let starts = Expr::lambda(&["x", "s"], col("s"));
    f("arrayFill", vec![starts, a, col("st")])
}

/// Each element replaced by the element before the first event of its millisecond (0
/// for the first millisecond).
fn before_millisecond(a: Expr) -> Expr {
    at_millisecond_start(shift_later(a, 0))
}

/// `v > 0 ? x : 0` over two arrays: `x` where the chain array holds a chain.
fn where_chain(chains: Expr, x: Expr, plus: i64) -> Expr {
    let x_plus = if plus == 0 {
        col("x")
    } else {
        col("x").op(Op::Add, Expr::Int(plus))
    };
    let body = Expr::if_then(col("v").op(Op::Gt, Expr::Int(0)), x_plus, Expr::Int(0));
    map(&["v", "x"], body, vec![chains, x])
}

/// What the low bits of an event's packed sort key (`m` in the lambdas) hold.
#[derive(Clone, Copy)]
enum Marks {
    /// A bit per step (bit `k - 1`) and per exclusion (bit `n + i`).
    Mask,
    /// With one step or exclusion per event, one code: exclusion `i` is `i + 1`, step `k`
    /// is `exclusions + steps - k + 1`, anything else 0; so within a millisecond the
    /// exclusions come first and later steps before earlier ones.
    Code { steps: i64, exclusions: i64 },
}

impl Marks {
    /// Step `k`'s code (with [`Marks::Code`]).
    fn step_code(steps: i64, exclusions: i64, k: usize) -> i64 {
        exclusions + steps - k as i64 + 1
    }

    /// An event's code from the steps' and exclusions' conditions (at most one holds).
    fn code(self, step_conds: &[Expr], excl_conds: &[Expr]) -> Expr {
        let Marks::Code { steps, exclusions } = self else {
            return Expr::Int(0);
        };
        let excl = (1..).zip(excl_conds);
        let step = (1..).map(|k| Marks::step_code(steps, exclusions, k));
        excl.chain(step.zip(step_conds))
            .map(|(v, c)| Expr::if_then(c.clone(), Expr::Int(v), Expr::Int(0)))
            .reduce(|a, b| a.op(Op::Add, b))
            .unwrap_or(Expr::Int(0))
    }

    /// Whether event `m` is step `k`.
    fn step(self, k: usize) -> Expr {
        match self {
            Marks::Mask => f("bitTest", vec![col("m"), Expr::Int(k as i64 - 1)]),
            Marks::Code { steps, exclusions } => {
                col("m").eq(Expr::Int(Marks::step_code(steps, exclusions, k)))
            }
        }
    }

    /// Whether event `m` is one of the exclusions whose mask bits (`n + i`) `mask` has.
    fn excluded(self, mask: i64) -> Expr {
        match self {
            Marks::Mask => f("bitAnd", vec![col("m"), Expr::Int(mask)]).op(Op::NotEq, Expr::Int(0)),
            Marks::Code { steps, exclusions } => {
                let codes: i64 = (0..exclusions)
                    .filter(|i| mask & (1 << (steps + i)) != 0)
                    .map(|i| 1 << (i + 1))
                    .sum();
                // As UInt64: a literal's own type (UInt8 for small ones) would refuse
                // codes past its bits.
                f(
                    "bitTest",
                    vec![f("toUInt64", vec![Expr::Int(codes)]), col("m")],
                )
            }
        }
    }
}

/// Array columns of one `SELECT`, in order: each may name the ones before it (ClickHouse
/// reads an alias of the same `SELECT`). One `SELECT` instead of one subquery per column
/// costs ClickHouse less to plan: 6 ms a statement here (docs/performance.md).
type Columns = Vec<(Expr, &'static str)>;

/// `c_k` of the ordered modes: per event, the latest start of a valid chain whose step `k`
/// it is (0: none), one column per step.
fn ordered(
    req: &FunnelRequest,
    columns: &mut Columns,
    w: &Expr,
    end_rel: Option<Expr>,
    exclusion_columns: &dyn Fn(usize) -> Option<usize>,
    marks: Marks,
    params: &mut Params,
) {
    let n = req.steps.len().min(STEP_ALIASES.len());
    let by_step = matches!(marks, Marks::Code { .. });
    let strict = req.order == FunnelOrder::Strict;
    // The previous steps' ends before this event's millisecond: with the events of a
    // millisecond sorted by step (`by_step`), those before it in the array.
    let before = |a: Expr| {
        if by_step {
            fill(a)
        } else {
            before_millisecond(fill(a))
        }
    };
    // Step 1: every step-1 event (in the range, with funnelRange=entry) starts a chain.
    let mut first = vec![marks.step(1)];
    first.extend(end_rel.map(|end| col("t").op(Op::LtEq, end)));
    let c1 = map(
        &["t", "m"],
        Expr::if_then(Expr::and(first), col("t"), Expr::Int(0)),
        vec![col("ts"), col("ms")],
    );
    columns.push((c1, CHAIN_ALIASES[0]));
    for q in 2..=n {
        let prev = || col(CHAIN_ALIASES[q - 2]);
        let mut names = vec!["t", "m", "p"];
        let mut arrays = vec![col("ts"), col("ms")];
        let mut all = vec![marks.step(q)];
        // p: the previous step's latest valid end before this event; pt its time; pc the
        // exclusion events before its millisecond, plus one.
        let step_window = req.step_window(&req.steps[q - 1]);
        let excluded = exclusion_columns(q);
        if strict {
            arrays.push(shift_later(prev(), 0));
            names.extend(["u", "pu"]);
            arrays.extend([col("u"), shift_later(col("u"), 0)]);
            all.extend([col("u"), col("pu")]);
        } else {
            arrays.push(before(prev()));
        }
        all.push(col("p").op(Op::Gt, Expr::Int(0)));
        all.push(col("p").op(Op::GtEq, col("t").op(Op::Sub, w.clone())));
        // With the code order, an exclusion compares times (pt) rather than counts.
        let by_time = by_step && excluded.is_some();
        if step_window.is_some() || by_time {
            let times = where_chain(prev(), col("ts"), 0);
            names.push("pt");
            arrays.push(if strict {
                shift_later(col("ts"), 0)
            } else {
                before(times)
            });
        }
        if let Some(sw) = step_window {
            all.push(col("pt").op(Op::GtEq, col("t").op(Op::Sub, params.int(sw))));
        }
        match (excluded, by_step) {
            (None, _) => {}
            (Some(r), true) => {
                // No exclusion event from the previous end's time to this millisecond:
                // the latest one up to here (the millisecond's come first) is before it.
                names.push("xe");
                arrays.push(col(LATEST_ALIASES[r - 1]));
                all.push(col("xe").op(Op::Lt, col("pt")));
            }
            (Some(r), false) => {
                let counts = where_chain(prev(), col(BEFORE_ALIASES[r - 1]), 1);
                names.extend(["pc", "xu"]);
                arrays.push(if strict {
                    shift_later(counts, 0)
                } else {
                    before_millisecond(fill(counts))
                });
                arrays.push(col(UPTO_ALIASES[r - 1]));
                all.push(col("pc").op(Op::Eq, col("xu").op(Op::Add, Expr::Int(1))));
            }
        }
        let body = Expr::if_then(Expr::And(all), col("p"), Expr::Int(0));
        let chains = map(&names, body, arrays);
        columns.push((chains, CHAIN_ALIASES[q - 1]));
    }
}

/// `c_q` of `funnelOrder=any`: per event, its time if it is the earliest event of a set
/// of steps `1..=q` (it is one of them, each occurs from its millisecond to a window
/// later, and with `funnelRange=entry` it is in the range), else 0. Per step, the next
/// occurrence from each event's millisecond on is a backward fill (`arrayReverseFill`)
/// read at the millisecond's first event.
fn any_order(columns: &mut Columns, n: usize, w: &Expr, end_rel: Option<Expr>) {
    let next: Columns = (1..=n)
        .map(|k| {
            let at = map(
                &["t", "m"],
                Expr::if_then(
                    f("bitTest", vec![col("m"), Expr::Int(k as i64 - 1)]),
                    col("t"),
                    Expr::Int(0),
                ),
                vec![col("ts"), col("ms")],
            );
            (at_millisecond_start(fill_back(at)), NEXT_ALIASES[k - 1])
        })
        .collect();
    columns.extend(next);
    let sets: Columns = (1..=n)
        .map(|q| {
            let mut names = vec!["t", "m"];
            names.extend(&NEXT_ALIASES[..q]);
            let mut arrays = vec![col("ts"), col("ms")];
            arrays.extend(NEXT_ALIASES[..q].iter().map(|a| col(a)));
            let steps = (1_i64 << q) - 1;
            let mut all =
                vec![f("bitAnd", vec![col("m"), Expr::Int(steps)]).op(Op::NotEq, Expr::Int(0))];
            for a in &NEXT_ALIASES[..q] {
                all.push(col(a).op(Op::Gt, Expr::Int(0)));
                all.push(col(a).op(Op::LtEq, col("t").op(Op::Add, w.clone())));
            }
            all.extend(end_rel.clone().map(|end| col("t").op(Op::LtEq, end)));
            let body = Expr::if_then(Expr::And(all), col("t"), Expr::Int(0));
            (map(&names, body, arrays), CHAIN_ALIASES[q - 1])
        })
        .collect();
    columns.extend(sets);
}

/// The time to convert (the window form's `time_to_convert`, with its columns) from the
/// per-entrant rows `p` and their first completions `f_q`: each step's durations gathered
/// as one array in a single row (`groupArrayIf`), one row per step (`arrayJoin`), then
/// sorted once and read at the nearest ranks, summed and counted per bin by array
/// functions. ClickHouse inlines a CTE at each reference, so `p` is read once; ranking
/// with windows over every duration, and one row per duration and step, cost 1.15x
/// (docs/performance.md).
fn time_to_convert_sorted(
    per_entrant: Select,
    n: usize,
    edges: &[i64],
    params: &mut Params,
) -> Statement {
    let d_cols = &DURATION_ALIASES[..n - 1];
    let mut gathered = Select {
        from: Some(Source::Named("p")),
        ..Select::default()
    };
    for q in 2..=n {
        let (at, before) = (col(FIRST_ALIASES[q - 1]), col(FIRST_ALIASES[q - 2]));
        let reached = Expr::IsNull(Box::new(at.clone()), true);
        gathered.item(
            f("groupArrayIf", vec![at.op(Op::Sub, before), reached]),
            d_cols[q - 2],
        );
    }
    let pairs = (2..=n)
        .map(|q| f("tuple", vec![Expr::Int(q as i64), col(d_cols[q - 2])]))
        .collect();
    let mut joined = Select {
        from: Some(Source::subquery(gathered, "g")),
        ..Select::default()
    };
    joined.item(f("arrayJoin", vec![f("array", pairs)]), "y");
    let part = |i: i64| f("tupleElement", vec![col("y"), Expr::Int(i)]);
    let mut per_step = Select {
        from: Some(Source::subquery(joined, "j")),
        filter: vec![f("length", vec![part(2)]).op(Op::Gt, Expr::Int(0))],
        ..Select::default()
    };
    per_step
        .item(part(1), "step")
        .item(f("arraySort", vec![part(2)]), "ds");
    let n_ds = || f("length", vec![col("ds")]);
    let at_rank = |rank: Expr| f("arrayElement", vec![col("ds"), rank]);
    let (median, p90) = nearest_ranks(n_ds);
    let float = |e: Expr| f("toFloat64", vec![e]);
    let mut out = Select {
        from: Some(Source::subquery(per_step, "s")),
        order_by: vec![OrderBy::asc(col("step"))],
        ..Select::default()
    };
    out.item(col("step"), "step")
        .item(float(n_ds()), "entrants")
        .item(float(f("arraySum", vec![col("ds")])), "total")
        .item(at_rank(median), "median")
        .item(at_rank(p90), "p90");
    for (b, &alias) in BIN_ALIASES.iter().enumerate().take(edges.len() + 1) {
        let within = Expr::lambda(&["d"], in_bin(col("d"), edges, b, params));
        out.item(float(f("arrayCount", vec![within, col("ds")])), alias);
    }
    let mut stmt = Statement::select(out);
    stmt.ctes = vec![Cte {
        name: "p",
        body: Body::Select(Box::new(per_entrant)),
    }];
    stmt
}

/// With `funnelRange=entry`, the columns `o_q` (a chain of level `q` still open at now:
/// its latest start is at most a window ago) and the entrant's flag at its level; `0`
/// otherwise.
fn open_flags(
    out: &mut Select,
    req: &FunnelRequest,
    ctx: &Context,
    n: usize,
    rel: impl Fn(i64) -> i64,
    params: &mut Params,
) -> Expr {
    if req.range != FunnelRange::Entry {
        return Expr::Int(0);
    }
    let since = params.int(rel(ctx.now.saturating_sub(req.window_ms)));
    for q in 1..n {
        let latest = f("arrayMax", vec![col(CHAIN_ALIASES[q - 1])]);
        let open = Expr::if_then(
            latest.op(Op::GtEq, since.clone()),
            Expr::Int(1),
            Expr::Int(0),
        );
        out.item(open, OPEN_ALIASES[q - 1]);
    }
    open_by_level(n)
}

/// The general funnel of `req` over `window` as arrays: [`Output::Levels`] or
/// [`Output::TimeToConvert`] or [`Output::Breakdowns`], with the columns of the window
/// form's statement.
pub(super) fn general_arrays(
    req: &FunnelRequest,
    ctx: &Context,
    window: &Window,
    output: Output,
    params: &mut Params,
) -> Statement {
    let group = req.group.column().sql();
    let n = req.steps.len().min(STEP_ALIASES.len());
    let strict = req.order == FunnelOrder::Strict;
    let entry = req.range == FunnelRange::Entry;
    let Scan {
        filter,
        step_conds,
        excl_conds,
    } = scan(req, ctx, window, params);
    let exclusions = &req.exclusions[..excl_conds.len()];
    // Relative times: t - start + 1 >= 1.
    let start = window.start;
    let rel = |ms: i64| ms.saturating_sub(start).saturating_add(1);

    // Per entrant: its events as (time, bit mask of the steps and exclusions they match),
    // sorted by time, and its entry (the earliest step-1 event in the range).
    let bit = |i: usize| 1_i64 << i;
    let mask = step_conds
        .iter()
        .chain(&excl_conds)
        .enumerate()
        .map(|(i, c)| Expr::if_then(c.clone(), Expr::Int(bit(i)), Expr::Int(0)))
        .reduce(|a, b| a.op(Op::Add, b))
        .unwrap_or(Expr::Int(0));
    let offset = params.int(start.saturating_sub(1));
    let time = epoch_ms("created_at").op(Op::Sub, offset.clone());
    // With breakdowns, each event's values come between: sorted by time, then by them,
    // the first event of a millisecond to end a chain has the smallest values.
    let mut fields = vec![time.clone()];
    if let Output::Breakdowns(bd) = output {
        let labels = bd.fields.iter().take(VALUE_ALIASES.len());
        fields.extend(labels.map(|b| super::chart::exprs::label_expr(&b.field, params)));
    }
    let values = fields.len() as i64 - 1;
    let latest = rel(window.end.saturating_add(req.window_ms)).max(1);
    let fits = |bits: u32| (64 - latest.leading_zeros()) + bits <= 63;
    // With one step or exclusion per event, ordered chains sort by a code instead of the
    // mask, so that within a millisecond exclusions come first and later steps before
    // earlier ones: a step's fill then reads only earlier milliseconds' ends, and the
    // millisecond-start arrays are not needed.
    let (n_steps, n_excl) = (step_conds.len() as i64, excl_conds.len() as i64);
    let code_bits = 64 - (n_steps + n_excl).leading_zeros();
    let one_kind = names_tell_groups(
        req.steps
            .iter()
            .map(|s| s.matches.iter().map(|m| &m.name).collect())
            .chain(exclusions.iter().map(|x| vec![&x.matcher.name])),
    );
    let marks = if req.order == FunnelOrder::Ordered && one_kind && fits(code_bits) {
        Marks::Code {
            steps: n_steps,
            exclusions: n_excl,
        }
    } else {
        Marks::Mask
    };
    let by_step = matches!(marks, Marks::Code { .. });
    // The low bits of each event's sort key, and how many there are.
    let (low, width) = match marks {
        Marks::Mask => (mask.clone(), (n_steps + n_excl) as u32),
        Marks::Code { .. } => (marks.code(&step_conds, &excl_conds), code_bits),
    };
    // Without values, (time, low bits) packed into one UInt64 when both fit (`time <<
    // width | low` sorts as the pair does): gathering and sorting one number costs less
    // than a tuple (docs/performance.md). With the code and values, the key leads a tuple
    // `(key, values…)`: a millisecond's events by step, then by values, so that the first
    // to end a chain at a step has the smallest values of its millisecond.
    let packed = values == 0 && fits(width);
    let keyed = packed || by_step;
    // The gate. Over the plain range, in every order mode a chain past step 1 needs a
    // step-1 and a step-2 event: an entrant without both is level 1 if it has a step-1
    // event (else 0), has no time to convert, and its entry is its earliest step-1 event
    // (kept by the aggregate). Its events are neither sorted nor passed through the
    // arrays. Breakdowns are not gated: their attributed event, kept as the least `(t,
    // values…, mask)` of the step-1 events, cost more than the arrays it spared
    // (docs/performance.md).
    let gated = !entry && n >= 2 && !matches!(output, Output::Breakdowns(_));
    let gathered = if keyed {
        let time = f("toUInt64", vec![fields.remove(0)]);
        let key = f("bitShiftLeft", vec![time, Expr::Int(width as i64)]).op(Op::Add, low);
        if packed {
            f("groupArray", vec![key])
        } else {
            fields.insert(0, key);
            f("groupArray", vec![f("tuple", fields)])
        }
    } else {
        fields.push(mask.clone());
        f("groupArray", vec![f("tuple", fields)])
    };
    let mut per_entrant = Select {
        from: Some(Source::table("events")),
        filter,
        group_by: vec![col(group)],
        ..Select::default()
    };
    let sorted = f("arraySort", vec![gathered]);
    per_entrant.item(col(group), "k");
    if gated {
        // `bits` is read by the array's own test (an alias of the same `SELECT`).
        let steps_1_and_2 = f("bitAnd", vec![col("bits"), Expr::Int(3)]).eq(Expr::Int(3));
        per_entrant
            .item(f("groupBitOr", vec![mask.clone()]), "bits")
            .item(
                Expr::if_then(steps_1_and_2, sorted, f("array", vec![])),
                "a",
            );
        if matches!(output, Output::Levels(Some(_))) {
            let earliest = f("minIf", vec![time, f("bitTest", vec![mask, Expr::Int(0)])]);
            per_entrant.item(earliest, "t_1");
        }
    } else {
        per_entrant.item(sorted, "a");
    }
    let end_ms = entry.then_some(window.end);
    let source = Source::subquery(per_entrant, "a0");
    let element = |i: i64| {
        map(
            &["x"],
            f("tupleElement", vec![col("x"), Expr::Int(i)]),
            vec![col("a")],
        )
    };
    let (ts, ms) = if keyed {
        let low = (1_i64 << width) - 1;
        let key = if packed {
            col("x")
        } else {
            f("tupleElement", vec![col("x"), Expr::Int(1)])
        };
        let time = f("bitShiftRight", vec![key.clone(), Expr::Int(width as i64)]);
        (
            map(&["x"], f("toInt64", vec![time]), vec![col("a")]),
            map(
                &["x"],
                f("bitAnd", vec![key, Expr::Int(low)]),
                vec![col("a")],
            ),
        )
    } else {
        (element(1), element(2 + values))
    };
    let mut columns: Columns = vec![(ts, "ts"), (ms, "ms")];
    let starts = map(
        &["t", "p"],
        col("t").op(Op::NotEq, col("p")),
        vec![col("ts"), shift_later(col("ts"), 0)],
    );
    if !by_step {
        columns.push((starts, "st"));
    }

    // Per transition q with exclusions, the exclusion events up to each millisecond and
    // before it.
    let covering = |q: usize| -> i64 {
        (0..exclusions.len())
            .filter(|&i| exclusions[i].from < q && q <= exclusions[i].to)
            .map(|i| bit(n + i))
            .sum()
    };
    // The transition whose exclusion columns transition q reads: the first one spanned by
    // the same exclusions (an exclusion from 1 to 3 spans 2 and 3 alike), so that equal
    // columns are computed once; `None` without exclusions.
    let exclusion_columns = |q: usize| -> Option<usize> {
        let mask = covering(q);
        match mask {
            0 => None,
            _ => (2..=q).find(|&r| covering(r) == mask),
        }
    };
    let owns_columns = |q: usize| exclusion_columns(q) == Some(q);
    let mut derived = Vec::new();
    if strict {
        // Alone at its millisecond: it starts one and the next event starts another.
        let alone = map(
            &["s", "x"],
            Expr::And(vec![col("s"), col("x")]),
            vec![col("st"), shift_earlier(col("st"), 1)],
        );
        derived.push((alone, "u"));
    }
    for q in (2..=n).filter(|&q| owns_columns(q)) {
        let excluded = marks.excluded(covering(q));
        if by_step {
            // The latest exclusion event's time at or before each event's millisecond.
            let times = map(
                &["t", "m"],
                Expr::if_then(excluded, col("t"), Expr::Int(0)),
                vec![col("ts"), col("ms")],
            );
            derived.push((fill(times), LATEST_ALIASES[q - 1]));
        } else {
            let hit = map(&["m"], excluded, vec![col("ms")]);
            let ends = Expr::lambda(&["c", "e"], col("e"));
            let upto = f(
                "arrayReverseFill",
                vec![
                    ends,
                    f("arrayCumSum", vec![hit]),
                    shift_earlier(col("st"), 1),
                ],
            );
            derived.push((upto, UPTO_ALIASES[q - 1]));
        }
    }
    columns.extend(derived);
    let befores: Vec<(Expr, &'static str)> = (2..=n)
        .filter(|&q| !by_step && owns_columns(q))
        .map(|q| {
            (
                before_millisecond(col(UPTO_ALIASES[q - 1])),
                BEFORE_ALIASES[q - 1],
            )
        })
        .collect();
    columns.extend(befores);

    let end_rel = end_ms.map(|end| params.int(rel(end)));
    let w = params.int(req.window_ms);
    if req.order == FunnelOrder::Any {
        any_order(&mut columns, n, &w, end_rel);
    } else {
        ordered(
            req,
            &mut columns,
            &w,
            end_rel,
            &exclusion_columns,
            marks,
            params,
        );
    }
    // Levels: the array columns, the level, entry and open flags in one `SELECT` over the
    // aggregate, which ClickHouse plans and runs in about 0.94x the time of a layer for the
    // columns. Time to convert and breakdowns read the columns from a layer: in the same
    // `SELECT` they took 1.05-1.08x and 1.23x the time (docs/performance.md).
    let mut out = Select::default();
    if matches!(output, Output::Levels(_)) {
        out.from = Some(source);
        for (e, a) in columns {
            out.item(e, a);
        }
    } else {
        out.from = Some(layer(source, "c", columns));
    }

    let has_chain =
        |q: usize| f("arrayMax", vec![col(CHAIN_ALIASES[q - 1])]).op(Op::Gt, Expr::Int(0));
    let grid = match output {
        Output::Levels(grid) => grid,
        Output::TimeToConvert(edges) => {
            // The first completion of each step: the earliest event ending a valid chain.
            for q in 1..=n {
                // The times are sorted: the first with a chain (0, none: times are >= 1).
                let time = f(
                    "arrayFirst",
                    vec![
                        Expr::lambda(&["t", "v"], col("v").op(Op::Gt, Expr::Int(0))),
                        col("ts"),
                        col(CHAIN_ALIASES[q - 1]),
                    ],
                );
                let first = f("nullIf", vec![time, Expr::Int(0)]);
                out.item(first, FIRST_ALIASES[q - 1]);
            }
            return time_to_convert_sorted(out, n, edges, params);
        }
        Output::Breakdowns(_) => None,
    };
    let reached = (1..=n)
        .rev()
        .map(|q| {
            let reached = if gated && q == 1 {
                // An entrant whose arrays are empty has a chain of level 1 if it has a
                // step-1 event.
                has_step(0)
            } else {
                has_chain(q)
            };
            (reached, Expr::Int(q as i64))
        })
        .collect();
    let level = Expr::Case(reached, Some(Box::new(Expr::Int(0))));
    if let Output::Breakdowns(bd) = output {
        // The attributed event: the first to end a chain at the attributed step (the
        // entry; the level; step N, or the level below it).
        out.from = out
            .from
            .take()
            .map(|from| layer(from, "lv", vec![(level, "level")]));
        out.item(col("level"), "level");
        let first_at = |q: usize| {
            f(
                "arrayFirstIndex",
                vec![positive(), col(CHAIN_ALIASES[q - 1])],
            )
        };
        let last = match bd.attribution {
            Attribution::First => 1,
            Attribution::Last => n,
            Attribution::Step(s) => s.min(n),
        };
        let mut whens: Vec<(Expr, Expr)> = (1..last)
            .map(|q| (col("level").eq(Expr::Int(q as i64)), first_at(q)))
            .collect();
        whens.push((
            col("level").op(Op::GtEq, Expr::Int(last as i64)),
            first_at(last),
        ));
        let at = f(
            "arrayElement",
            vec![col("a"), Expr::Case(whens, Some(Box::new(Expr::Int(1))))],
        );
        for (j, v) in VALUE_ALIASES[..values as usize].iter().enumerate() {
            out.item(
                f("tupleElement", vec![at.clone(), Expr::Int(j as i64 + 2)]),
                v,
            );
        }
        let open = open_flags(&mut out, req, ctx, n, rel, params);
        return rank_combinations(Source::subquery(out, "p"), open, bd, params);
    }
    out.item(level, "level");
    if grid.is_some() {
        // The entry: the earliest step-1 event in the range (the first element of c_1),
        // back in epoch milliseconds; NULL without one (`any` may reach a level from an
        // earlier step 2).
        let entry = if gated {
            let first = col("t_1").op(Op::Add, offset);
            Expr::if_then(has_step(0), first, Expr::Null)
        } else {
            let first = f("arrayFirst", vec![positive(), col(CHAIN_ALIASES[0])]);
            Expr::if_then(has_chain(1), first.op(Op::Add, offset), Expr::Null)
        };
        out.item(entry, "entry");
    }
    let open = open_flags(&mut out, req, ctx, n, rel, params);
    let bucket = match grid {
        Some(g) => super::chart::exprs::bucket_expr(g, col("entry"), params),
        None => Expr::Int(0),
    };
    by_level_open_bucket(Source::subquery(out, "p"), open, bucket)
}
