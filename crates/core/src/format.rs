//! Number and id formatting shared by every backend (contract §6.3, §6.4, §7).
//!
//! ClickHouse, PostgreSQL and SQLite must produce byte-identical responses, so rounding,
//! integer-vs-decimal printing, textual forms of numbers and series ids are all computed
//! here, in Rust, from the rows a database returns — never in SQL.

use std::collections::{HashMap, HashSet};

use serde::{Serialize, Serializer};

/// Round to 2 decimals, halves away from zero, on the DECIMAL value as printed by Rust's
/// shortest round-trip `{}` formatting (so 2.675 → 2.68 and 1.005 → 1.01, -2.5 → -2.5,
/// -0.125 → -0.13). NaN/inf → 0.
pub fn round2(x: f64) -> f64 {
    round_decimal(x, 2)
}

/// Same as [`round2`], to 1 decimal (for `diff`).
pub fn round1(x: f64) -> f64 {
    round_decimal(x, 1)
}

/// Significant digits a value keeps before it is rounded to decimals: a float sum carries
/// binary noise in its last digits, and that noise depends on the order the engine added
/// the values in (PostgreSQL sums in plan order, SQLite with compensated summation), so a
/// sum on a rounding boundary (135.395) could print 135.39 on one backend and 135.4 on
/// another. Fifteen digits are what a double holds faithfully (`f64::DIGITS`: decimal →
/// double → decimal gives them back); past them is representation noise.
const SIGNIFICANT: usize = f64::DIGITS as usize;

/// Round the shortest decimal text of `x` to `places` fractional digits, halves away from
/// zero, using digit arithmetic so the result does not depend on binary representation
/// error (after [`SIGNIFICANT`] digits, which removes the error a sum accumulated).
fn round_decimal(x: f64, places: usize) -> f64 {
    if !x.is_finite() {
        return 0.0;
    }
    let x: f64 = format!("{:.*e}", SIGNIFICANT - 1, x).parse().unwrap_or(x);
    // `{}` on f64 never uses exponent notation.
    let text = format!("{}", x.abs());
    let (int_part, frac_part) = text.split_once('.').unwrap_or((&text, ""));
    if frac_part.len() <= places {
        return if x == 0.0 { 0.0 } else { x };
    }
    let mut digits: Vec<u8> = int_part
        .bytes()
        .chain(frac_part.bytes().take(places))
        .collect();
    let round_up = frac_part.as_bytes().get(places).is_some_and(|&d| d >= b'5');
    if round_up && !increment(&mut digits) {
        digits.insert(0, b'1');
    }
    let split = digits.len() - places;
    let mut rounded = String::with_capacity(digits.len() + 2);
    rounded.extend(digits[..split].iter().map(|&d| char::from(d)));
    rounded.push('.');
    rounded.extend(digits[split..].iter().map(|&d| char::from(d)));
    let magnitude: f64 = rounded.parse().unwrap_or(0.0);
    if magnitude == 0.0 {
        0.0
    } else if x < 0.0 {
        -magnitude
    } else {
        magnitude
    }
}

/// Add one to a string of ASCII decimal digits in place; `false` when it overflowed (all
/// nines became zeros and a leading `1` is needed).
fn increment(digits: &mut [u8]) -> bool {
    for d in digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return true;
        }
    }
    false
}

/// A JSON number that prints as an integer when it is integral (7.0 → 7, -0.0 → 0) and
/// otherwise as the shortest decimal (7.5).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Num(pub f64);

/// 2^53: integral values below this magnitude convert to i64 exactly.
const EXACT_INT_LIMIT: f64 = 9_007_199_254_740_992.0;

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_finite() && v.fract() == 0.0 && v.abs() < EXACT_INT_LIMIT {
            // Exact: integral and within ±2^53.
            serializer.serialize_i64(v as i64)
        } else {
            serializer.serialize_f64(v)
        }
    }
}

/// Shortest decimal text of a number as filters and breakdown labels use it: integers
/// without ".0" ("1", "-3"), others shortest round-trip ("19.99", "0.1"); never exponent
/// notation (1e21 → "1000000000000000000000", 1e-7 → "0.0000001"). `-0` prints as "0";
/// NaN and infinities print as Rust does ("NaN", "inf", "-inf").
pub fn decimal_text(x: f64) -> String {
    if x == 0.0 {
        return "0".to_owned();
    }
    // `Display` for f64 is the shortest round-trip form without exponent and without a
    // trailing ".0" for integral values.
    format!("{x}")
}

/// Series id (§6.3): names joined with single spaces, transliterated to ASCII with
/// deunicode (`München` → `Munchen`), lowercased, every run of characters other than a-z0-9
/// replaced by one '-', trimmed of '-'; empty → "series".
pub fn series_id(names: &[String]) -> String {
    let ascii = deunicode::deunicode(&names.join(" ")).to_ascii_lowercase();
    let mut id = String::with_capacity(ascii.len());
    let mut pending_dash = false;
    for c in ascii.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if pending_dash && !id.is_empty() {
                id.push('-');
            }
            pending_dash = false;
            id.push(c);
        } else {
            pending_dash = true;
        }
    }
    if id.is_empty() {
        "series".to_owned()
    } else {
        id
    }
}

/// Make ids unique in order: the first occurrence keeps its id, later collisions get "-2",
/// "-3", … (skipping any suffix already taken by an earlier id, e.g. ["a","a-2","a"] →
/// ["a","a-2","a-3"]).
pub fn uniquify(ids: &mut [String]) {
    let mut taken: HashSet<String> = HashSet::with_capacity(ids.len());
    // Next suffix worth trying per base id, so long runs of one id stay linear.
    let mut next_suffix: HashMap<String, u64> = HashMap::new();
    for id in ids.iter_mut() {
        if !taken.contains(id.as_str()) {
            taken.insert(id.clone());
            continue;
        }
        let mut n = next_suffix.get(id.as_str()).copied().unwrap_or(2);
        let mut candidate = format!("{id}-{n}");
        while taken.contains(&candidate) {
            n += 1;
            candidate = format!("{id}-{n}");
        }
        next_suffix.insert(id.clone(), n + 1);
        taken.insert(candidate.clone());
        *id = candidate;
    }
}

/// §6.4 comparison: state "positive" if current > previous, "negative" if <, else
/// "neutral"; diff = (current − previous) / previous × 100 rounded to 1 decimal, None when
/// previous == 0.
pub fn compare(current: f64, previous: f64) -> (Option<f64>, &'static str) {
    let state = if current > previous {
        "positive"
    } else if current < previous {
        "negative"
    } else {
        "neutral"
    };
    let diff = (previous != 0.0).then(|| round1((current - previous) / previous * 100.0));
    (diff, state)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn round2_halves_away_from_zero_on_decimal_text() {
        assert_eq!(round2(0.125), 0.13);
        assert_eq!(round2(-0.125), -0.13);
        assert_eq!(round2(2.675), 2.68);
        assert_eq!(round2(1.005), 1.01);
        assert_eq!(round2(-2.5), -2.5);
        assert_eq!(round2(33.333333), 33.33);
        assert_eq!(round2(66.666666), 66.67);
        assert_eq!(round2(0.124999), 0.12);
        assert_eq!(round2(7.0), 7.0);
        assert_eq!(round2(1.0 / 3.0), 0.33);
        assert_eq!(round2(2.0 / 3.0), 0.67);
    }

    #[test]
    fn round2_ignores_the_noise_of_a_float_sum() {
        // 135.395 summed in two orders: the same digits either way.
        let values = [35.395, 0.1, 99.9];
        let forward: f64 = values.iter().sum();
        let backward: f64 = values.iter().rev().sum();
        assert_eq!(round2(forward), 135.4);
        assert_eq!(round2(backward), 135.4);
        // The doubles either side of 135.395.
        let below = f64::from_bits(135.395_f64.to_bits() - 1);
        let above = f64::from_bits(135.395_f64.to_bits() + 1);
        assert_eq!(round2(below), 135.4);
        assert_eq!(round2(above), 135.4);
        assert_eq!(round2(-below), -135.4);
        assert_eq!(round2(0.1 + 0.2), 0.3);
        // A real difference below a cent still counts.
        assert_eq!(round2(135.3949), 135.39);
        assert_eq!(round2(1e-13), 0.0);
        assert_eq!(round2(123_456_789_012.345), 123_456_789_012.35);
    }

    #[test]
    fn round2_carries() {
        assert_eq!(round2(9.995), 10.0);
        assert_eq!(round2(99.999), 100.0);
        assert_eq!(round2(-0.995), -1.0);
        assert_eq!(round2(0.005), 0.01);
    }

    #[test]
    fn round2_edge_values() {
        assert_eq!(round2(f64::NAN), 0.0);
        assert_eq!(round2(f64::INFINITY), 0.0);
        assert_eq!(round2(f64::NEG_INFINITY), 0.0);
        assert_eq!(round2(0.0), 0.0);
        assert!(round2(-0.0).is_sign_positive());
        assert!(round2(-0.001).is_sign_positive());
        assert_eq!(round2(1e-7), 0.0);
        assert_eq!(round2(1e21), 1e21);
        assert_eq!(round2(123_456_789.125), 123_456_789.13);
    }

    #[test]
    fn round1_values() {
        assert_eq!(round1(-66.66666666666667), -66.7);
        assert_eq!(round1(0.25), 0.3);
        assert_eq!(round1(-0.25), -0.3);
        assert_eq!(round1(0.05), 0.1);
        assert_eq!(round1(12.34), 12.3);
        assert_eq!(round1(9.96), 10.0);
    }

    #[test]
    fn num_serializes_integral_as_integer() {
        assert_eq!(serde_json::to_string(&Num(7.0)).unwrap(), "7");
        assert_eq!(serde_json::to_string(&Num(-0.0)).unwrap(), "0");
        assert_eq!(serde_json::to_string(&Num(-3.0)).unwrap(), "-3");
        assert_eq!(serde_json::to_string(&Num(7.5)).unwrap(), "7.5");
        assert_eq!(serde_json::to_string(&Num(0.1)).unwrap(), "0.1");
        assert_eq!(serde_json::to_string(&Num(33.33)).unwrap(), "33.33");
        assert_eq!(
            serde_json::to_string(&Num(9_007_199_254_740_991.0)).unwrap(),
            "9007199254740991"
        );
        assert_eq!(
            serde_json::to_string(&vec![Num(1.0), Num(2.25)]).unwrap(),
            "[1,2.25]"
        );
        assert_eq!(Num::default(), Num(0.0));
    }

    #[test]
    fn decimal_text_values() {
        assert_eq!(decimal_text(1.0), "1");
        assert_eq!(decimal_text(-3.0), "-3");
        assert_eq!(decimal_text(19.99), "19.99");
        assert_eq!(decimal_text(0.1), "0.1");
        assert_eq!(decimal_text(0.0), "0");
        assert_eq!(decimal_text(-0.0), "0");
        assert_eq!(decimal_text(1e21), "1000000000000000000000");
        assert_eq!(decimal_text(1e-7), "0.0000001");
        assert_eq!(decimal_text(-2.5e-8), "-0.000000025");
        assert_eq!(decimal_text(123_456_789_012.0), "123456789012");
    }

    #[test]
    fn series_id_values() {
        assert_eq!(series_id(&names(&["screen_view", "SE"])), "screen-view-se");
        assert_eq!(series_id(&names(&["München"])), "munchen");
        assert_eq!(series_id(&names(&["(not set)"])), "not-set");
        assert_eq!(series_id(&names(&[""])), "series");
        assert_eq!(series_id(&[]), "series");
        assert_eq!(series_id(&names(&["--", "!!"])), "series");
        assert_eq!(series_id(&names(&["A  B", "c"])), "a-b-c");
        assert_eq!(
            series_id(&names(&["page_view", "/docs/", "19.99"])),
            "page-view-docs-19-99"
        );
        assert_eq!(series_id(&names(&["Łódź", "Ærø"])), "lodz-aero");
    }

    #[test]
    fn uniquify_values() {
        let mut ids = names(&["a", "a-2", "a"]);
        uniquify(&mut ids);
        assert_eq!(ids, names(&["a", "a-2", "a-3"]));

        let mut ids = names(&["a", "b", "a", "a", "b"]);
        uniquify(&mut ids);
        assert_eq!(ids, names(&["a", "b", "a-2", "a-3", "b-2"]));

        // A later literal id that equals an earlier generated one is itself suffixed.
        let mut ids = names(&["a", "a", "a-2"]);
        uniquify(&mut ids);
        assert_eq!(ids, names(&["a", "a-2", "a-2-2"]));

        let mut ids: Vec<String> = Vec::new();
        uniquify(&mut ids);
        assert!(ids.is_empty());
    }

    #[test]
    fn compare_values() {
        assert_eq!(compare(15.0, 10.0), (Some(50.0), "positive"));
        assert_eq!(compare(1.0, 3.0), (Some(-66.7), "negative"));
        assert_eq!(compare(5.0, 0.0), (None, "positive"));
        assert_eq!(compare(0.0, 0.0), (None, "neutral"));
        assert_eq!(compare(0.0, 4.0), (Some(-100.0), "negative"));
        assert_eq!(compare(4.0, 4.0), (Some(0.0), "neutral"));
        assert_eq!(compare(-1.0, 0.0), (None, "negative"));
        assert_eq!(compare(2.0, 3.0), (Some(-33.3), "negative"));
    }
}
