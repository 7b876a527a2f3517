//! The UI's routes through axum: pages answer index.html, assets their files with content
//! type, ETag, cache and security headers; conditional requests get 304; unknown files 404.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

async fn get(path: &str, etag: Option<&str>) -> axum::response::Response {
    let router: Router = rasid_web::router();
    let mut req = Request::get(path);
    if let Some(tag) = etag {
        req = req.header("if-none-match", tag);
    }
    router.oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
}

async fn body(res: axum::response::Response) -> String {
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn pages_answer_the_application_with_a_strict_policy() {
    for path in ["/", "/markets", "/trade/RSD-KZ-0001-2023", "/certificate/1", "/registry/serials"]
    {
        let res = get(path, None).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let h = res.headers();
        assert_eq!(h["content-type"], "text/html; charset=utf-8");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["cache-control"], "no-cache");
        assert!(body(res).await.contains(r#"<script type="module" src="/assets/app.js">"#));
    }
}

#[tokio::test]
async fn assets_have_types_and_revalidate_with_etags() {
    let res = get("/assets/app.js", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/javascript; charset=utf-8");
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    assert!(body(res).await.contains("function route"));

    let again = get("/assets/app.js", Some(&etag)).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert!(body(again).await.is_empty());

    let stale = get("/assets/app.js", Some("\"0000\"")).await;
    assert_eq!(stale.status(), StatusCode::OK);

    let css = get("/assets/style.css", None).await;
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    let ar = get("/assets/ar.json", None).await;
    assert_eq!(ar.headers()["content-type"], "application/json; charset=utf-8");
    assert!(body(ar).await.contains("راصد"));
}

#[tokio::test]
async fn unknown_assets_and_paths_are_not_found() {
    for path in ["/assets/nope.js", "/assets/../Cargo.toml", "/assets/pages/../../src/lib.rs"] {
        assert_eq!(get(path, None).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // Paths that are not pages are left to the router the UI is merged into (the API's 404).
    assert_eq!(get("/v1/anything", None).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(get("/no-such-page", None).await.status(), StatusCode::NOT_FOUND);
}
