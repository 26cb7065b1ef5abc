//! The budgets one request's filters may spend (filters, values, bytes, patterns), and
//! each distinct pattern compiled once.

use super::params::Params;

/// What the filters of one request have used of the budgets so far.
#[derive(Debug, Default)]
pub(super) struct Spent {
    filters: usize,
    values: usize,
    bytes: usize,
    patterns: usize,
    /// A budget was exceeded and reported: later values are still checked for shape, but
    /// nothing expensive (no pattern is compiled) and no second budget error.
    over: bool,
    /// Normalized patterns already compiled for this request, and whether they compiled:
    /// a pattern repeated in several filters is compiled once.
    compiled: Vec<(String, Result<(), String>)>,
}

impl Params {
    /// Count one filter against the budget; false once a budget is exceeded.
    pub(super) fn spend_filter(&mut self, path: &str) -> bool {
        self.spent.filters += 1;
        if self.spent.filters > self.limits.max_filters {
            let max = self.limits.max_filters;
            self.over_budget(
                path,
                format!("a request may have at most {max} filters in all"),
            );
        }
        !self.spent.over
    }

    /// Count one value of `bytes` bytes against the budget; false once a budget is
    /// exceeded.
    pub(super) fn spend_value(&mut self, path: &str, bytes: usize) -> bool {
        self.spent.values += 1;
        self.spent.bytes = self.spent.bytes.saturating_add(bytes);
        if self.spent.values > self.limits.max_values {
            let max = self.limits.max_values;
            self.over_budget(
                path,
                format!("a request may have at most {max} filter values in all"),
            );
        } else if self.spent.bytes > self.limits.max_value_bytes {
            let max = self.limits.max_value_bytes;
            self.over_budget(
                path,
                format!("a request's filter values may hold at most {max} bytes in all"),
            );
        }
        !self.spent.over
    }

    /// Report the first budget exceeded (once per request: the rest are not checked).
    pub(super) fn over_budget(&mut self, path: &str, message: String) {
        if !self.spent.over {
            self.spent.over = true;
            self.invalid(path, format!("{message} (see docs/limits.md)"));
        }
    }

    /// Check a regular expression value against the budgets and compile it, once per
    /// distinct pattern; returns the pattern in the common dialect or the reason (which
    /// completes "invalid regular expression: …"), or `None` when a budget was exceeded
    /// (already reported).
    pub(super) fn pattern(&mut self, path: &str, written: &str) -> Option<Result<String, String>> {
        let limits = self.limits;
        if written.len() > limits.max_pattern_bytes {
            return Some(Err(format!(
                "a pattern may be at most {} bytes long",
                limits.max_pattern_bytes
            )));
        }
        self.spent.patterns += 1;
        if self.spent.patterns > limits.max_patterns {
            self.over_budget(
                path,
                format!(
                    "a request may have at most {} regular expressions in all",
                    limits.max_patterns
                ),
            );
            return None;
        }
        if self.spent.over {
            return None;
        }
        let normalized = match crate::pattern::normalize(written) {
            Ok(n) => n,
            Err(reason) => return Some(Err(reason)),
        };
        let known = self.spent.compiled.iter().find(|(p, _)| *p == normalized);
        let compiled = match known {
            Some((_, done)) => done.clone(),
            None => {
                let done = crate::pattern::check_size(&normalized, limits.max_pattern_size);
                self.spent.compiled.push((normalized.clone(), done.clone()));
                done
            }
        };
        Some(compiled.map(|()| normalized))
    }
}
