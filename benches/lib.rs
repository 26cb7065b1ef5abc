//! Criterion benchmarks and load scripts for Quarry; see `compile.rs` and docs/performance.md.
