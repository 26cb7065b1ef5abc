//! Examples of embedding Quarry; see `compile.rs`.
