//! The `quarry` command line (see main.rs).
