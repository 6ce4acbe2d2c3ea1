//! The admin token a browser presents to the dashboard: `Authorization: Bearer <token>` (scripts, tests) or
//! the cookie the login form sets. The dashboard never checks it itself: it forwards it to the services,
//! whose guard does.

use actix_web::HttpRequest;
use actix_web::http::header::{AUTHORIZATION, COOKIE};

/// The cookie that carries the admin token (hex-encoded, so any token fits a cookie value).
pub(super) const COOKIE_NAME: &str = "fortimock_admin";

/// The header the page's script sends with every action: a cross-site form cannot set it, and a cross-site
/// script cannot send it without a CORS preflight the dashboard never grants.
pub(super) const ACTION_HEADER: &str = "x-fortimock-dashboard";

/// The admin token `request` presents, if any: its bearer token first, else the login cookie.
pub(super) fn presented_token(request: &HttpRequest) -> Option<String> {
    let bearer = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(|token| token.trim().to_owned())
        .filter(|token| !token.is_empty());
    bearer.or_else(|| cookie_token(request))
}

fn cookie_token(request: &HttpRequest) -> Option<String> {
    request
        .headers()
        .get_all(COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .and_then(|(_, value)| hex::decode(value).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|token| !token.is_empty())
}

/// The `Set-Cookie` value that keeps `token` for this browser: HTTP only (no script reads it), sent only to
/// the dashboard itself (`SameSite=Strict`), and only over HTTPS when the dashboard is served so.
pub(super) fn set_cookie(token: &str, secure: bool) -> String {
    format!(
        "{COOKIE_NAME}={}; Path=/; HttpOnly; SameSite=Strict{}",
        hex::encode(token.as_bytes()),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that forgets the token.
pub(super) fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn the_bearer_token_wins_over_the_cookie() {
        let cookie = set_cookie("from-cookie", true);
        let pair = cookie.split(';').next().unwrap().to_owned();
        let request = TestRequest::default()
            .insert_header((COOKIE, format!("other=1; {pair}")))
            .to_http_request();
        assert_eq!(presented_token(&request).as_deref(), Some("from-cookie"));
        let request = TestRequest::default()
            .insert_header((COOKIE, pair))
            .insert_header((AUTHORIZATION, "Bearer from-header"))
            .to_http_request();
        assert_eq!(presented_token(&request).as_deref(), Some("from-header"));
        let request = TestRequest::default()
            .insert_header((COOKIE, "fortimock_admin=zz"))
            .to_http_request();
        assert_eq!(presented_token(&request), None);
    }

    #[test]
    fn the_cookie_is_http_only_and_strict() {
        let cookie = set_cookie("t", true);
        assert!(cookie.contains("HttpOnly"));
        assert!(cookie.contains("SameSite=Strict"));
        assert!(cookie.ends_with("; Secure"));
        assert!(!set_cookie("t", false).contains("Secure"));
    }
}
