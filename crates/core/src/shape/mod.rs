//! Rows into responses: gap filling, labels, metrics, rounding, ordering and paging.
//! Pure functions over core's row types, so every backend answers byte for byte alike.

mod chart;
mod events;
mod funnel;

pub use chart::shape_chart;
pub use events::{
    FieldOut, column_names, row_position, shape_cursor_page, shape_meta, shape_page, shape_profile,
    shape_rows, visit_row,
};
pub use funnel::shape_funnel;

/// A §6.4 comparison of `current` with `previous` (charts' points and metrics, funnels'
/// steps).
fn comparison(current: f64, previous: f64) -> crate::response::Comparison {
    let (diff, state) = crate::format::compare(current, previous);
    crate::response::Comparison {
        value: crate::format::Num(previous),
        diff: diff.map(crate::format::Num),
        state,
    }
}
