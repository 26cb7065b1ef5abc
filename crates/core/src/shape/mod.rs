//! Rows into responses: gap filling, labels, metrics, rounding, ordering and paging.
//! Pure functions over core's row types, so every backend answers byte for byte alike.

mod chart;
mod events;
mod funnel;

pub use chart::shape_chart;
pub use events::{shape_events, shape_meta, shape_profile};
pub use funnel::shape_funnel;
