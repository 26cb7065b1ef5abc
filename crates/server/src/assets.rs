//! The files the server itself serves besides the API: the explorer page (`/`, its script
//! and styles under `/explorer/`) and the OpenAPI document (`/openapi.json`).
//!
//! Every file is compiled into the binary, so the page needs nothing from the network. A
//! debug build reads them from `crates/server/assets/` when that directory is there, so
//! the page can be edited and reloaded without rebuilding.

use actix_web::HttpResponse;
use actix_web::http::header;

/// One served file: its name under `assets/`, its media type and its embedded text.
#[derive(Debug)]
pub struct Asset {
    /// The file name under `crates/server/assets/`.
    pub name: &'static str,
    /// Its `Content-Type`.
    pub media_type: &'static str,
    embedded: &'static str,
}

macro_rules! asset {
    ($name:literal, $media:literal) => {
        Asset {
            name: $name,
            media_type: $media,
            embedded: include_str!(concat!("../assets/", $name)),
        }
    };
}

/// The explorer page.
pub const INDEX: Asset = asset!("index.html", "text/html; charset=utf-8");
/// The explorer's script and styles, served under `/explorer/<name>`.
pub const EXPLORER: [Asset; 2] = [
    asset!("explorer.js", "text/javascript; charset=utf-8"),
    asset!("explorer.css", "text/css; charset=utf-8"),
];
/// The OpenAPI document.
pub const OPENAPI: Asset = asset!("openapi.json", "application/json");

impl Asset {
    /// The file's text: the embedded copy, or in a debug build the file on disk.
    pub fn text(&self) -> std::borrow::Cow<'static, str> {
        #[cfg(debug_assertions)]
        {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("assets")
                .join(self.name);
            if let Ok(text) = std::fs::read_to_string(path) {
                return text.into();
            }
        }
        self.embedded.into()
    }

    /// The file as a response. The page holds no secret and changes only with the binary,
    /// yet a stale copy after an upgrade would confuse: caches revalidate.
    pub fn respond(&self) -> HttpResponse {
        HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, self.media_type))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .insert_header(("x-content-type-options", "nosniff"))
            // Only the server's own files and API: no inline script, no other origin.
            .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
            .body(self.text().into_owned())
    }
}

/// The page runs only its own script and styles and talks only to this server.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The explorer file named `name`, if it is one.
pub fn explorer_file(name: &str) -> Option<&'static Asset> {
    EXPLORER.iter().find(|a| a.name == name)
}
