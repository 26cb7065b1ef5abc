//! Request errors: the user's mistakes, kept apart from storage faults and bugs.
//!
//! Every rejection names the offending parameter by its path
//! (`events[1].filters[0].operator`) so the server can answer 400 with `details`.

use std::fmt;

/// Whether a parameter was absent or present but wrong (§4.2 codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamErrorKind {
    /// `missing_parameter`
    Missing,
    /// `invalid_parameter`
    Invalid,
}

impl ParamErrorKind {
    /// The contract's error code.
    pub fn code(self) -> &'static str {
        match self {
            ParamErrorKind::Missing => "missing_parameter",
            ParamErrorKind::Invalid => "invalid_parameter",
        }
    }
}

/// One offending parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// Path of the parameter as the request wrote it, e.g. `events[1].filters[0].operator`.
    pub param: String,
    /// What was wrong and what was expected.
    pub message: String,
    /// Missing or invalid.
    pub kind: ParamErrorKind,
}

impl ParamError {
    /// A parameter with a value that is not acceptable.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        ParamError {
            param: param.into(),
            message: message.into(),
            kind: ParamErrorKind::Invalid,
        }
    }

    /// A required parameter that is absent.
    pub fn missing(param: impl Into<String>, message: impl Into<String>) -> Self {
        ParamError {
            param: param.into(),
            message: message.into(),
            kind: ParamErrorKind::Missing,
        }
    }
}

/// A rejected request: one or more offending parameters (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    /// Every offending parameter, in the order they were found.
    pub details: Vec<ParamError>,
}

impl RequestError {
    /// The §4.2 code of the whole error: `missing_parameter` only when every detail is
    /// a missing parameter.
    pub fn code(&self) -> &'static str {
        if self
            .details
            .iter()
            .all(|d| d.kind == ParamErrorKind::Missing)
        {
            ParamErrorKind::Missing.code()
        } else {
            ParamErrorKind::Invalid.code()
        }
    }

    /// A one-sentence summary for the `message` field.
    pub fn message(&self) -> String {
        match self.details.as_slice() {
            // A message that already names its parameter is not prefixed again.
            [one] if one.message.starts_with(&one.param) => one.message.clone(),
            [one] => format!("{}: {}", one.param, one.message),
            many => {
                let names: Vec<&str> = many.iter().map(|d| d.param.as_str()).collect();
                format!("Invalid parameters: {}", names.join(", "))
            }
        }
    }
}

impl From<ParamError> for RequestError {
    fn from(e: ParamError) -> Self {
        RequestError { details: vec![e] }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for RequestError {}
