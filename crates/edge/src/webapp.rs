//! The web app: built by `web/` (`npm run build`) into `crates/edge/webapp/`, committed and
//! embedded here, so `cargo build` alone serves a working app on a machine without npm.
//! `--web-dir` serves a directory instead, for working on the app without rebuilding.

use std::path::{Path, PathBuf};

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};

/// The bundle's files, by path under `/`.
const EMBEDDED: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../webapp/index.html"),
    ),
    (
        "assets/app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../webapp/assets/app.js"),
    ),
    (
        "assets/app.css",
        "text/css; charset=utf-8",
        include_bytes!("../webapp/assets/app.css"),
    ),
];

/// The app talks only to its own origin, and nothing frames it.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data: https:; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Where the app's files come from.
#[derive(Clone, Debug)]
pub struct WebApp {
    dir: Option<PathBuf>,
}

impl WebApp {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }

    /// The file for a request path (`/` is `index.html`), if it is one of the app's. The
    /// links in emails (`/verify`, `/elections/{id}`) open the app, which routes them itself.
    pub async fn serve(&self, path: &str) -> Option<Response> {
        let name = match path.trim_start_matches('/') {
            "" | "index.html" | "verify" => "index.html",
            link if link.starts_with("elections/") && !link.contains("..") => "index.html",
            other => other,
        };
        let (_, media_type, embedded) = EMBEDDED.iter().find(|(file, _, _)| *file == name)?;
        let body = match &self.dir {
            Some(dir) => read(dir, name).await?,
            None => embedded.to_vec(),
        };
        Some(respond(media_type, body))
    }
}

async fn read(dir: &Path, name: &str) -> Option<Vec<u8>> {
    tokio::fs::read(dir.join(name)).await.ok()
}

fn respond(media_type: &'static str, body: Vec<u8>) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    let set = [
        (header::CONTENT_TYPE, media_type),
        // Names carry no hash, so browsers revalidate instead of keeping an old app.
        (header::CACHE_CONTROL, "no-cache"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_embedded_app_is_served_at_the_root_and_nothing_else_is() {
        let app = WebApp::new(None);
        let index = app.serve("/").await.expect("index");
        assert_eq!(
            index.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert!(index
            .headers()
            .contains_key(header::CONTENT_SECURITY_POLICY));
        assert!(app.serve("/assets/app.js").await.is_some());
        assert!(app.serve("/v1/elections").await.is_none());
        for link in ["/verify", "/elections/0b7e"] {
            let page = app.serve(link).await.expect("a mail's link opens the app");
            assert_eq!(
                page.headers()[header::CONTENT_TYPE],
                "text/html; charset=utf-8"
            );
        }
        assert!(app.serve("/../Cargo.toml").await.is_none());
    }
}
