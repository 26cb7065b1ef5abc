//! Rows into responses: gap filling, labels, metrics, rounding, ordering and paging.
//! Pure functions over core's row types, so every backend answers byte for byte alike.

mod chart;
mod events;
mod funnel;

pub use chart::shape_chart;
pub use events::{
    column_names, row_position, shape_cursor_page, shape_meta, shape_page, shape_profile,
    shape_rows, visit_row,
};
pub use funnel::shape_funnel;
