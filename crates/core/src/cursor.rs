//! Keyset positions of `/export/events` (cursor pages and streamed exports).
//!
//! A position is the last row sent, in §5's order (`createdAt` descending, then `id`
//! ascending): the next page is every matching row after it. A token carries the position
//! and a fingerprint of the request's conditions, so a cursor cannot be carried over to a
//! request with other filters. Tokens are opaque to clients: base64url of
//! `1|<fingerprint>|<ms>|<id>`. A client that forges one learns nothing: the position only
//! bounds the page, and every value is bound as a parameter.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ParamError;
use crate::time::Ms;

/// The last row of a page, in §5's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// `createdAt`, in ms since the epoch.
    pub created_at: Ms,
    /// `id`, as text.
    pub id: String,
}

/// The token version, first in every token.
const VERSION: &str = "1";

/// Ids longer than this are not ids this server issued positions for.
const MAX_ID_BYTES: usize = 256;

/// Times a position may hold: years 0000 to 9999, as dates in requests (a forged token
/// must not reach a database with a time its types cannot hold).
const TIMES: std::ops::RangeInclusive<Ms> = -62_167_219_200_000..=253_402_300_799_999;

/// A 64-bit FNV-1a hash: the fingerprint of a request's conditions. Not a secret and not a
/// signature (see the module documentation): it only tells two requests apart.
pub fn fingerprint(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The token of a position.
pub fn encode(fingerprint: u64, at: &Position) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{VERSION}|{fingerprint:016x}|{}|{}",
        at.created_at, at.id
    ))
}

fn malformed() -> ParamError {
    ParamError::invalid(
        "cursor",
        "not a cursor this server issued; send cursor= (empty) for the first page, then each \
         page's meta.next",
    )
}

/// The position a token holds: `None` for the empty token (the first page). A token of a
/// request with other conditions, or one that is not a token, is a 400 naming `cursor`.
pub fn decode(token: &str, fingerprint: u64) -> Result<Option<Position>, ParamError> {
    if token.is_empty() {
        return Ok(None);
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    let mut parts = text.splitn(4, '|');
    let (Some(VERSION), Some(fp), Some(ms), Some(id)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let fp = u64::from_str_radix(fp, 16).map_err(|_| malformed())?;
    let created_at: Ms = ms.parse().map_err(|_| malformed())?;
    if !TIMES.contains(&created_at) {
        return Err(malformed());
    }
    if id.len() > MAX_ID_BYTES || id.contains('\0') {
        return Err(malformed());
    }
    if fp != fingerprint {
        return Err(ParamError::invalid(
            "cursor",
            "this cursor belongs to a request with other conditions (event, start, end, \
             filters, profileId, project or timezone); start again with cursor= (empty)",
        ));
    }
    Ok(Some(Position {
        created_at,
        id: id.to_string(),
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_token_gives_back_its_position_only_to_the_same_conditions() {
        let at = Position {
            created_at: 1_713_184_496_789,
            id: "a|b|c".into(),
        };
        let token = encode(7, &at);
        assert_eq!(decode(&token, 7).ok(), Some(Some(at)));
        assert_eq!(decode("", 7).ok(), Some(None));
        let other = decode(&token, 8).unwrap_err();
        assert_eq!(other.param, "cursor");
        assert!(
            other.message.contains("other conditions"),
            "{}",
            other.message
        );
    }

    #[test]
    fn anything_else_is_malformed() {
        for bad in [
            "x",
            "!!!",
            &URL_SAFE_NO_PAD.encode("2|0|1|a"),
            &URL_SAFE_NO_PAD.encode("1|zz|1|a"),
            &URL_SAFE_NO_PAD.encode("1|07|notanumber|a"),
            &URL_SAFE_NO_PAD.encode("1|0000000000000007|9223372036854775807|a"),
            &URL_SAFE_NO_PAD.encode("1|07|5"),
        ] {
            let e = decode(bad, 7).unwrap_err();
            assert!(e.message.contains("not a cursor"), "{bad}: {}", e.message);
        }
    }
}
