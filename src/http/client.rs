//! The `reqwest` client every API client uses, and the checks on where it may send a token.
//!
//! - TLS is rustls with the webpki roots, so the binary needs no system OpenSSL.
//! - Plain `http://` is accepted only for loopback hosts (the simulators); anywhere else a token
//!   would cross the network in clear, so such a base URL is refused before any request.
//! - Redirects of reads are followed only within the origin of the request (scheme, host and
//!   port) and at most [`MAX_REDIRECTS`] times. The requests carry an `Authorization` header, and
//!   an API has no business sending it elsewhere; a redirect out of the origin is an error, not a
//!   silent stop, so that a misconfigured base URL is noticed.
//! - Writes follow no redirect at all ([`build_write_client`]): on a 301, 302 or 303 an HTTP
//!   client re-sends a POST as a GET without its body, so a create would "succeed" with the
//!   answer of a read and nothing created. The redirect comes back as an error instead.
//! - The user agent is `segbridge/<version>`, so that the API owners can tell who is calling.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::redirect;
use url::{Host, Url};

/// `segbridge/<version>`.
pub const USER_AGENT: &str = concat!("segbridge/", env!("CARGO_PKG_VERSION"));

/// Redirects followed per request. An API redirects once or twice (a trailing slash, a moved
/// path); more is a loop.
pub const MAX_REDIRECTS: usize = 5;

/// Timeouts of the HTTP client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// Time to establish a connection (TCP and TLS). Ten seconds is far beyond any healthy
    /// handshake and short enough to retry a dead route quickly.
    pub connect_timeout: Duration,
    /// Time for a whole request, body included. The largest Config API answers (a catalog page
    /// of 100 destinations, a tracking plan of up to 2 MB) arrive in well under a minute.
    pub timeout: Duration,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
        }
    }
}

/// Why a redirect was not followed.
#[derive(Debug, thiserror::Error)]
pub enum RedirectRefused {
    #[error(
        "refusing to follow a redirect from `{from}` to another origin, `{to}`: the request \
         carries an API token; check the base URL"
    )]
    CrossOrigin { from: String, to: String },
    #[error("stopped after {MAX_REDIRECTS} redirects")]
    TooMany,
}

fn same_origin_redirects() -> redirect::Policy {
    redirect::Policy::custom(|attempt| {
        // `previous` holds the original URL and every hop so far.
        let Some(first) = attempt.previous().first() else {
            return attempt.follow();
        };
        if first.origin() != attempt.url().origin() {
            let error = RedirectRefused::CrossOrigin {
                from: origin_text(first),
                to: origin_text(attempt.url()),
            };
            return attempt.error(error);
        }
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(RedirectRefused::TooMany);
        }
        attempt.follow()
    })
}

fn origin_text(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Builds the shared client. Fails only if TLS cannot be initialised.
pub fn build_client(settings: &ClientSettings) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(USER_AGENT)
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.timeout)
        .redirect(same_origin_redirects())
        .build()
}

/// Builds the client for writes: as [`build_client`], but a redirect is returned, never followed.
pub fn build_write_client(settings: &ClientSettings) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(USER_AGENT)
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.timeout)
        .redirect(redirect::Policy::none())
        .build()
}

/// Why a base URL was refused. Messages never show a password embedded in the URL.
#[derive(Debug, thiserror::Error)]
pub enum BaseUrlError {
    #[error("`{text}` is not a valid URL")]
    Invalid {
        text: String,
        #[source]
        source: url::ParseError,
    },
    #[error(
        "refusing the plain-HTTP base URL `{0}`: the API token would cross the network \
         unencrypted; use `https://`, or `http://` only for a loopback host (127.0.0.1, ::1, \
         localhost) such as a local simulator"
    )]
    PlainHttp(String),
    #[error("the base URL `{0}` must start with `https://` (or `http://` for a loopback host)")]
    Scheme(String),
    #[error(
        "the base URL `{0}` must not contain a user name, a password, a query or a fragment; \
         give the API's root, such as `https://platform.segmentapis.com`"
    )]
    Extra(String),
}

/// A URL for messages: the user name and password, if any, left out.
fn shown(url: &Url) -> String {
    let mut clean = url.clone();
    // Only fails for URLs that cannot have credentials, which then have none to hide.
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    clean.to_string()
}

/// True for `localhost`, 127.0.0.0/8 and `::1` (also IPv4-mapped).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => {
            let domain = domain.strip_suffix('.').unwrap_or(domain);
            domain.eq_ignore_ascii_case("localhost")
        }
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).to_canonical().is_loopback(),
        None => false,
    }
}

/// Checks that a base URL may receive a token: `https://`, or `http://` on a loopback host; no
/// credentials, query or fragment.
pub fn validate_base_url(url: &Url) -> Result<(), BaseUrlError> {
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(url) => {}
        "http" => return Err(BaseUrlError::PlainHttp(shown(url))),
        _ => return Err(BaseUrlError::Scheme(shown(url))),
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(BaseUrlError::Scheme(shown(url)));
    }
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(BaseUrlError::Extra(shown(url)));
    }
    Ok(())
}

/// Parses and validates a base URL given as text (a flag or an environment variable).
pub fn parse_base_url(text: &str) -> Result<Url, BaseUrlError> {
    let url = Url::parse(text.trim()).map_err(|source| BaseUrlError::Invalid {
        text: text.to_owned(),
        source,
    })?;
    validate_base_url(&url)?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_http_only_on_loopback() {
        for ok in [
            "https://platform.segmentapis.com",
            "https://eu1.api.segmentapis.com/",
            "http://127.0.0.1:8080",
            "http://127.8.9.10",
            "http://localhost:3000",
            "http://LOCALHOST.",
            "http://[::1]:9000",
            "http://[::ffff:127.0.0.1]",
        ] {
            assert!(parse_base_url(ok).is_ok(), "{ok}");
        }
        let err = parse_base_url("http://platform.segmentapis.com").unwrap_err();
        assert!(matches!(err, BaseUrlError::PlainHttp(_)));
        let text = err.to_string();
        assert!(
            text.contains("`http://platform.segmentapis.com/`"),
            "{text}"
        );
        assert!(
            text.contains("https://") && text.contains("loopback"),
            "{text}"
        );
        for refused in [
            "http://10.0.0.1",
            "http://[::2]",
            "http://localhost.example.com",
            "http://128.0.0.1",
        ] {
            assert!(
                matches!(parse_base_url(refused), Err(BaseUrlError::PlainHttp(_))),
                "{refused}"
            );
        }
    }

    #[test]
    fn other_schemes_extras_and_garbage_are_refused_without_showing_passwords() {
        assert!(matches!(
            parse_base_url("ftp://example.com"),
            Err(BaseUrlError::Scheme(_))
        ));
        let err = parse_base_url("platform.segmentapis.com").unwrap_err();
        assert!(matches!(err, BaseUrlError::Invalid { .. }));
        // The parser's reason is the source, on a line of its own in reports: not repeated.
        let reason = std::error::Error::source(&err).map(ToString::to_string);
        assert!(
            reason.is_some_and(|r| !err.to_string().contains(&r)),
            "{err}"
        );
        let err = parse_base_url("https://user:hunter2@example.com").unwrap_err();
        assert!(matches!(err, BaseUrlError::Extra(_)));
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(matches!(
            parse_base_url("https://example.com/?page=1"),
            Err(BaseUrlError::Extra(_))
        ));
    }

    #[test]
    fn the_user_agent_names_the_version() {
        assert_eq!(
            USER_AGENT,
            format!("segbridge/{}", env!("CARGO_PKG_VERSION"))
        );
    }
}
