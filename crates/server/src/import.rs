//! Newline-delimited JSON import.
