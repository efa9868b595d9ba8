//! Hostile and malformed answers from the network, against both API clients and the binary:
//! bodies that are not JSON, cut off, HTML gateway pages, wrong types, missing fields, unknown
//! values, bodies and arrays too large to hold, pagination that loops or never ends, and names
//! or ids that would escape a path or reach the terminal with control characters. Each case
//! asserts the error (variant and message, or the binary's `error:` lines and exit code) and
//! that no token appears in it. Every server here is a small axum app on 127.0.0.1 that
//! answers what the case needs; where the simulators can produce the fault, they are used.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, RawQuery};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use url::Url;

use segbridge::config_api::{ConfigApiError, ConfigClient, ConfigClientSettings, WireError};
use segbridge::http::pages::Runaway;
use segbridge::http::{Secret, SecretSource};
use segbridge::public_api::{
    PublicApiError, PublicClient, PublicClientSettings, WireError as PublicWireError,
};

const CONFIG_TOKEN: &str = "cfgtokencfgtokencfgtokencfgtoken.cfgtokencfgtokencfgtoken0";
const PUBLIC_TOKEN: &str = "sgp_pubtokenpubtokenpubtokenpubtokenpubtokenpubtokenpubtoken";

/// Serves `app` on 127.0.0.1 and returns its base URL.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

fn secret(token: &str) -> Secret {
    Secret::new(token, SecretSource::EnvVar("TEST_TOKEN".into())).unwrap()
}

/// A Config client with no pacing, quick retries and a short page limit.
fn config_client(base: &str) -> ConfigClient {
    let mut settings = ConfigClientSettings::new(secret(CONFIG_TOKEN));
    settings.base_url = Url::parse(base).unwrap();
    settings.requests_per_minute = 0;
    settings.retry.base_delay = Duration::from_millis(1);
    settings.retry.max_delay = Duration::from_millis(5);
    settings.max_pages = 20;
    ConfigClient::new(settings).unwrap()
}

fn public_client(base: &str) -> PublicClient {
    let mut settings = PublicClientSettings::new(secret(PUBLIC_TOKEN));
    settings.base_url = Url::parse(base).unwrap();
    settings.default_requests_per_minute = 0;
    settings.retry.base_delay = Duration::from_millis(1);
    settings.retry.max_delay = Duration::from_millis(5);
    settings.max_pages = 20;
    PublicClient::new(settings).unwrap()
}

/// The error and its whole chain, as one string: what a user would read.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let text = segbridge::diagnostics::chain(err);
    assert!(
        !text.contains(CONFIG_TOKEN) && !text.contains(PUBLIC_TOKEN),
        "a token in {text}"
    );
    text
}

/// A Config server whose `/v1beta/workspaces` answers `answer` every time.
async fn config_answering(answer: fn() -> Response) -> String {
    serve(Router::new().route("/v1beta/workspaces", get(move || async move { answer() }))).await
}

/// Lists the workspaces of a server answering `answer`.
async fn list_workspaces(answer: fn() -> Response) -> ConfigApiError {
    let base = config_answering(answer).await;
    config_client(&base)
        .list_workspaces()
        .all()
        .await
        .expect_err("a malformed answer is an error")
}

fn ok_text(body: &'static str) -> Response {
    (StatusCode::OK, body).into_response()
}

fn ok_json(value: Value) -> Response {
    axum::Json(value).into_response()
}

fn decode_source(err: &ConfigApiError) -> &WireError {
    match err {
        ConfigApiError::Decode { source, .. } => source,
        other => panic!("not a decode error: {other:?}"),
    }
}

// ---- bodies that are not what a 2xx promises ------------------------------------------------

#[tokio::test]
async fn a_body_that_is_not_json_is_quoted_and_not_retried() {
    let err = list_workspaces(|| ok_text("Service temporarily moved, try again")).await;
    assert!(matches!(decode_source(&err), WireError::NotJson { .. }));
    assert_eq!(
        chain(&err),
        "GET /v1beta/workspaces for `workspaces` answered with something other than expected: \
         the body is not JSON: `Service temporarily moved, try again`: expected value at line 1 \
         column 1"
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn a_json_body_cut_off_midway_is_a_decode_error() {
    let err =
        list_workspaces(|| ok_text(r#"{"workspaces": [{"name": "workspaces/a"}, {"na"#)).await;
    assert!(matches!(decode_source(&err), WireError::NotJson { .. }));
    assert!(
        chain(&err).contains("the body is not JSON: `{\"workspaces\": [{\"name\"")
            && chain(&err).contains("EOF while parsing"),
        "{}",
        chain(&err)
    );
}

#[tokio::test]
async fn a_truncated_transfer_is_retried_then_reported_as_a_transport_failure() {
    // The status and a Content-Length, then the connection closes after half the body.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            counted.fetch_add(1, Ordering::SeqCst);
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let _ = socket
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 400\r\n\r\n{\"workspaces\": [",
                )
                .await;
            drop(socket);
        }
    });
    let err = config_client(&base)
        .list_workspaces()
        .all()
        .await
        .unwrap_err();
    assert!(matches!(err, ConfigApiError::Transport { .. }), "{err:?}");
    let text = chain(&err);
    assert!(
        text.starts_with(
            "GET /v1beta/workspaces for `workspaces` failed: request failed after 9 attempts"
        ),
        "{text}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 9);
}

#[tokio::test]
async fn a_gateway_html_page_is_retried_then_quoted_as_text() {
    let err = list_workspaces(|| {
        (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html")],
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><center><h1>502 Bad \
             Gateway</h1></center><hr><center>nginx</center></body></html>",
        )
            .into_response()
    })
    .await;
    assert!(matches!(err, ConfigApiError::Api { .. }), "{err:?}");
    assert_eq!(err.attempts(), 9);
    assert!(err.is_transient());
    let text = chain(&err);
    assert!(
        text.starts_with(
            "GET /v1beta/workspaces for `workspaces` failed (HTTP 502: <html> <head><title>502 \
             Bad Gateway</title></head>"
        ) && text.contains("request failed after 9 attempts"),
        "{text}"
    );
}

#[tokio::test]
async fn a_200_html_page_from_a_portal_is_not_json_for_the_public_api_too() {
    let base = serve(Router::new().route(
        "/",
        get(|| async { ok_text("<!DOCTYPE html><html><title>Sign in to Wi-Fi</title></html>") }),
    ))
    .await;
    let err = public_client(&base).get_workspace().await.unwrap_err();
    assert!(
        matches!(
            err,
            PublicApiError::Decode {
                source: PublicWireError::NotJson { .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        chain(&err).starts_with(
            "getWorkspace (GET /) for `the token's workspace` answered with something other \
             than expected: the body is not JSON: `<!DOCTYPE html><html><title>Sign in to Wi-Fi"
        ),
        "{}",
        chain(&err)
    );
}

#[tokio::test]
async fn control_characters_in_a_server_message_never_reach_the_terminal() {
    let err = list_workspaces(|| {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(
                json!({"error": "bad\u{1b}]0;pwned\u{7}request\u{0}\n\nsecond line", "code": 3}),
            ),
        )
            .into_response()
    })
    .await;
    let text = chain(&err);
    assert!(
        text.contains("(HTTP 400, code 3: bad\u{fffd}]0;pwned\u{fffd}request\u{fffd} second line)"),
        "{text:?}"
    );
    assert!(!text.chars().any(char::is_control), "{text:?}");
}

// ---- wrong types and missing fields ------------------------------------------------------------

#[tokio::test]
async fn a_name_of_the_wrong_type_is_a_missing_key_not_an_empty_name() {
    let err = list_workspaces(|| ok_json(json!({"workspaces": [{"name": 42, "id": "w"}]}))).await;
    assert!(matches!(
        decode_source(&err),
        WireError::MissingKey { field: "name" }
    ));
    assert_eq!(
        chain(&err),
        "GET /v1beta/workspaces for `workspaces` answered with something other than expected: \
         an object has no `name` to name it by"
    );
}

#[tokio::test]
async fn a_page_token_of_the_wrong_type_is_refused() {
    let err = list_workspaces(|| {
        ok_json(json!({"workspaces": [{"name": "workspaces/a"}], "next_page_token": {"v": 2}}))
    })
    .await;
    assert!(matches!(decode_source(&err), WireError::Page(_)));
    assert!(
        chain(&err).contains(
            "the list page does not have the expected shape: invalid type: map, expected a string"
        ),
        "{}",
        chain(&err)
    );
}

#[tokio::test]
async fn a_list_item_that_is_not_an_object_is_refused() {
    let err = list_workspaces(|| ok_json(json!({"workspaces": ["workspaces/a"]}))).await;
    assert!(matches!(decode_source(&err), WireError::NotAnObject));
    assert!(
        chain(&err).ends_with("the body is not a JSON object"),
        "{}",
        chain(&err)
    );
}

#[tokio::test]
async fn a_public_item_without_an_id_is_refused() {
    let base = serve(Router::new().route(
        "/sources",
        get(|| async {
            ok_json(json!({"data": {"sources": [{"slug": "js", "name": "JS"}], "pagination": {}}}))
        }),
    ))
    .await;
    let err = public_client(&base).list_sources().all().await.unwrap_err();
    assert!(
        matches!(
            err,
            PublicApiError::Decode {
                source: PublicWireError::MissingKey { field: "id" },
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        chain(&err),
        "listSources (GET /sources) for `sources` answered with something other than expected: \
         an item has no `id` to name it by"
    );
}

#[tokio::test]
async fn a_public_cursor_of_the_wrong_type_is_refused() {
    let base = serve(Router::new().route(
        "/sources",
        get(|| async {
            ok_json(json!({"data": {"sources": [], "pagination": {"next": 2, "current": "MA"}}}))
        }),
    ))
    .await;
    let err = public_client(&base).list_sources().all().await.unwrap_err();
    assert!(
        chain(&err).ends_with("`pagination.next` is not a string"),
        "{}",
        chain(&err)
    );
}

#[tokio::test]
async fn a_public_answer_without_its_envelope_is_refused() {
    let base = serve(Router::new().route(
        "/",
        get(|| async { ok_json(json!({"workspace": {"id": "w", "slug": "acme"}})) }),
    ))
    .await;
    let err = public_client(&base).get_workspace().await.unwrap_err();
    assert!(
        chain(&err).ends_with("the body has no `data` object"),
        "{}",
        chain(&err)
    );
}

#[tokio::test]
async fn nesting_deeper_than_the_parser_allows_is_an_error_not_a_stack_overflow() {
    let err = list_workspaces(|| {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        (StatusCode::OK, deep).into_response()
    })
    .await;
    assert!(matches!(decode_source(&err), WireError::NotJson { .. }));
    assert!(
        chain(&err).contains("recursion limit exceeded"),
        "{}",
        chain(&err)
    );
}

// ---- too large ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_body_that_never_ends_is_cut_at_the_limit() {
    let err = list_workspaces(|| {
        // An endless chunked body: 64 KiB of spaces at a time.
        let chunk = axum::body::Bytes::from(vec![b' '; 64 * 1024]);
        let stream = futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
        (StatusCode::OK, Body::from_stream(stream)).into_response()
    })
    .await;
    assert!(matches!(err, ConfigApiError::Transport { .. }), "{err:?}");
    assert_eq!(err.attempts(), 1, "an oversized answer is not retried");
    assert_eq!(
        chain(&err),
        "GET /v1beta/workspaces for `workspaces` failed: HTTP 200 OK with a body of more bytes \
         than that, more than the 32 MiB segbridge reads from one answer"
    );
}

#[tokio::test]
async fn a_body_announced_as_huge_is_refused_before_reading() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5000000000\r\n\r\n{")
                .await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    });
    let started = std::time::Instant::now();
    let err = public_client(&base).get_workspace().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    let text = chain(&err);
    assert_eq!(
        text,
        "getWorkspace (GET /) for `the token's workspace` failed: HTTP 200 OK with a body of \
         5000000000 bytes, more than the 32 MiB segbridge reads from one answer"
    );
}

#[tokio::test]
async fn a_huge_array_of_tiny_values_is_refused_before_parsing() {
    let err = list_workspaces(|| {
        // 2 MiB on the wire, a million values: a few hundred megabytes once parsed.
        let body = format!(r#"{{"workspaces": [{}0]}}"#, "0,".repeat(1_100_000));
        (StatusCode::OK, body).into_response()
    })
    .await;
    assert!(matches!(
        decode_source(&err),
        WireError::TooManyValues { limit: 1_000_000 }
    ));
    assert!(
        chain(&err).ends_with(
            "the body holds more than 1000000 JSON values, far more than any answer of the API; \
             refusing to parse it"
        ),
        "{}",
        chain(&err)
    );
}

// ---- pagination ---------------------------------------------------------------------------------

#[derive(serde::Deserialize)]
struct PageToken {
    page_token: Option<String>,
}

#[tokio::test]
async fn a_config_list_that_invents_pages_forever_is_stopped() {
    let base = serve(Router::new().route(
        "/v1beta/workspaces",
        get(|Query(q): Query<PageToken>| async move {
            let n: u64 = q.page_token.map_or(0, |t| t.parse().unwrap());
            ok_json(json!({
                "workspaces": [{"name": format!("workspaces/w{n}")}],
                "next_page_token": (n + 1).to_string(),
            }))
        }),
    ))
    .await;
    let err = config_client(&base)
        .list_workspaces()
        .all()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConfigApiError::EndlessList {
                why: Runaway::TooManyPages { limit: 20 },
                pages: 20,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        chain(&err),
        "GET /v1beta/workspaces for `workspaces` was stopped after 20 pages: the list goes on \
         past 20 pages, more than any workspace holds; the server's pagination is broken"
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn empty_config_pages_that_always_name_a_next_page_are_stopped() {
    let base = serve(Router::new().route(
        "/v1beta/workspaces",
        get(|Query(q): Query<PageToken>| async move {
            let n: u64 = q.page_token.map_or(0, |t| t.parse().unwrap());
            ok_json(json!({"workspaces": [], "next_page_token": (n + 1).to_string()}))
        }),
    ))
    .await;
    let err = config_client(&base)
        .list_workspaces()
        .all()
        .await
        .unwrap_err();
    assert_eq!(
        chain(&err),
        "GET /v1beta/workspaces for `workspaces` was stopped after 10 pages: 10 empty pages in a \
         row each named a next page; the server's pagination is broken"
    );
}

/// `pagination[cursor]` of a Public API list request.
fn public_cursor(query: Option<String>) -> u64 {
    query
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("pagination%5Bcursor%5D="))
        .map_or(0, |c| c.parse().unwrap())
}

#[tokio::test]
async fn a_public_cursor_that_loops_is_an_error_not_a_loop() {
    let base = serve(Router::new().route(
        "/sources",
        get(|RawQuery(query): RawQuery| async move {
            // 0 → 1 → 2 → 1 → …
            let next = match public_cursor(query) {
                0 => "1",
                1 => "2",
                _ => "1",
            };
            ok_json(json!({"data": {"sources": [{"id": "s"}], "pagination": {"next": next}}}))
        }),
    ))
    .await;
    let err = public_client(&base).list_sources().all().await.unwrap_err();
    assert!(
        matches!(err, PublicApiError::RepeatedCursor { pages: 3, .. }),
        "{err:?}"
    );
    assert_eq!(
        chain(&err),
        "listSources (GET /sources) for `sources` returned the cursor `1` again after 3 pages; \
         stopping instead of walking the same pages forever"
    );
}

#[tokio::test]
async fn a_public_list_that_never_ends_is_stopped() {
    let base = serve(Router::new().route(
        "/sources",
        get(|RawQuery(query): RawQuery| async move {
            let n = public_cursor(query);
            ok_json(json!({"data": {
                "sources": [{"id": format!("s{n}")}],
                "pagination": {"next": (n + 1).to_string(), "totalEntries": 1},
            }}))
        }),
    ))
    .await;
    let err = public_client(&base).list_sources().all().await.unwrap_err();
    assert_eq!(
        chain(&err),
        "listSources (GET /sources) for `sources` was stopped after 20 pages: the list goes on \
         past 20 pages, more than any workspace holds; the server's pagination is broken"
    );
}

// ---- names and ids ------------------------------------------------------------------------------

/// Lists the sources of workspace `w` from a server that names one source `name`.
async fn source_named(name: &'static str) -> String {
    let base = serve(Router::new().route(
        "/v1beta/workspaces/w/sources",
        get(move || async move {
            ok_json(json!({"sources": [{"name": "workspaces/w/sources/ok"}, {"name": name}]}))
        }),
    ))
    .await;
    let err = config_client(&base)
        .list_sources("w")
        .all()
        .await
        .unwrap_err();
    assert!(matches!(decode_source(&err), WireError::BadName { .. }));
    let text = chain(&err);
    assert!(!text.chars().any(char::is_control), "{text:?}");
    text
}

#[tokio::test]
async fn a_source_name_with_a_path_separator_is_refused() {
    assert_eq!(
        source_named("workspaces/w/sources/a/b").await,
        "GET /v1beta/workspaces/{ws}/sources for `workspaces/w/sources` answered with something \
         other than expected: the object named `workspaces/w/sources/a/b` cannot be exported: \
         its last segment contains a `/`"
    );
}

#[tokio::test]
async fn a_source_name_with_a_dot_dot_segment_is_refused() {
    assert!(
        source_named("workspaces/w/sources/..")
            .await
            .ends_with("the object named `workspaces/w/sources/..` cannot be exported: it has an empty, `.` or `..` path segment")
    );
}

#[tokio::test]
async fn a_source_name_with_a_newline_is_refused_and_shown_escaped() {
    let text = source_named("workspaces/w/sources/js\nerror: forged").await;
    assert!(
        text.ends_with(
            r"the object named `workspaces/w/sources/js\nerror: forged` cannot be exported: it contains control characters"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn a_source_name_with_a_nul_is_refused_and_shown_escaped() {
    let text = source_named("workspaces/w/sources/js\u{0}").await;
    assert!(
        text.contains(
            r"`workspaces/w/sources/js\0` cannot be exported: it contains control characters"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn a_source_of_another_workspace_is_refused() {
    assert!(
        source_named("workspaces/other/sources/js")
            .await
            .ends_with("`workspaces/other/sources/js` cannot be exported: it is not in the collection that listed it")
    );
}

#[tokio::test]
async fn a_public_id_shaped_like_a_path_is_refused() {
    let base = serve(Router::new().route(
        "/sources",
        get(|| async {
            ok_json(json!({"data": {"sources": [{"id": "../../workspaces"}], "pagination": {}}}))
        }),
    ))
    .await;
    let err = public_client(&base).list_sources().all().await.unwrap_err();
    assert_eq!(
        chain(&err),
        "listSources (GET /sources) for `sources` answered with something other than expected: \
         the object with the id `../../workspaces` cannot be used: it contains a `/`"
    );
}

#[tokio::test]
async fn ids_passed_to_the_public_client_stay_inside_their_path_segment() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = Router::new().fallback(move |uri: axum::http::Uri| {
        let record = record.clone();
        async move {
            record.lock().unwrap().push(uri.path().to_owned());
            (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"errors": [{"type": "NotFound", "message": "no such source"}]})),
            )
        }
    });
    let base = serve(app).await;
    let client = public_client(&base);
    let err = client.get_source("a/../../b?c#d").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(*seen.lock().unwrap(), ["/sources/a%2F..%2F..%2Fb%3Fc%23d"]);
    let err = client.get_source("..").await.unwrap_err();
    assert_eq!(
        chain(&err),
        "getSource (GET /sources/{sourceId}): `..` is not a valid id"
    );
    assert_eq!(seen.lock().unwrap().len(), 1, "nothing sent for `..`");
}

// ---- tokens, through the binary -----------------------------------------------------------------

struct Ran {
    code: Option<i32>,
    stderr: String,
}

async fn segbridge(args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_segbridge"));
    cmd.args(args)
        .env_remove("SEGMENT_CONFIG_API_TOKEN")
        .env_remove("SEGMENT_PUBLIC_API_TOKEN")
        .env("SEGBRIDGE_RETRY_BASE_MS", "0")
        .env("NO_COLOR", "1");
    for (key, value) in env {
        cmd.env(key, value);
    }
    let output = cmd.output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    for token in [CONFIG_TOKEN, PUBLIC_TOKEN] {
        assert!(!stderr.contains(token), "a token in {stderr}");
    }
    Ran {
        code: output.status.code(),
        stderr,
    }
}

/// `segbridge export` from the Config API at `base` into `ledger`, with the test token.
async fn export_from(base: &str, ledger: &std::path::Path, extra: &[&str]) -> Ran {
    let mut args = vec![
        "export",
        "--config-url",
        base,
        "--ledger",
        ledger.to_str().unwrap(),
    ];
    args.extend(extra);
    segbridge(&args, &[("SEGMENT_CONFIG_API_TOKEN", CONFIG_TOKEN)]).await
}

async fn simulators() -> segbridge::sim::Simulators {
    let mut settings = segbridge::sim::SimSettings::for_tests(3);
    settings.counts =
        segbridge::sim::generator::Counts::preset(segbridge::sim::generator::Preset::Tiny);
    settings.config_token = Some(CONFIG_TOKEN.to_owned());
    settings.public_token = Some(PUBLIC_TOKEN.to_owned());
    segbridge::sim::Simulators::start(settings).await.unwrap()
}

fn file_bytes(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

#[tokio::test]
async fn a_config_token_of_another_workspace_names_the_workspaces_it_sees() {
    let sims = simulators().await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l.ledger");
    let ran = export_from(
        &sims.config.base_url(),
        &ledger,
        &["--workspace", "someone-elses"],
    )
    .await;
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.starts_with(
            "error: Export failed\n  Caused by: workspace `someone-elses` is not visible to this \
             token; it sees: "
        ),
        "{}",
        ran.stderr
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn a_refused_public_token_hints_at_the_region_and_leaves_the_ledger_alone() {
    let sims = simulators().await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l.ledger");
    let config_url = sims.config.base_url();
    let exported = export_from(&config_url, &ledger, &[]).await;
    assert_eq!(exported.code, Some(0), "{}", exported.stderr);
    let before = file_bytes(&ledger);
    let wrong = "sgp_eutokeneutokeneutokeneutokeneutokeneutokeneutokeneutoken00";
    let ran = segbridge(
        &[
            "plan",
            "--public-url",
            &sims.public.base_url(),
            "--ledger",
            ledger.to_str().unwrap(),
        ],
        &[("SEGMENT_PUBLIC_API_TOKEN", wrong)],
    )
    .await;
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr
            .starts_with("error: Cannot read the target workspace")
            && ran.stderr.contains("refused the token (HTTP 401")
            && ran.stderr.contains("(`--region eu` for EU workspaces)"),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains(wrong), "{}", ran.stderr);
    assert_eq!(file_bytes(&ledger), before, "the ledger is untouched");

    // A Config API token given to the Public API is refused the same way, and the message says
    // which kind of token is wanted.
    let ran = segbridge(
        &[
            "plan",
            "--public-url",
            &sims.public.base_url(),
            "--ledger",
            ledger.to_str().unwrap(),
        ],
        &[("SEGMENT_PUBLIC_API_TOKEN", CONFIG_TOKEN)],
    )
    .await;
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("a Public API token (not a Config API token)"),
        "{}",
        ran.stderr
    );
    assert_eq!(file_bytes(&ledger), before, "the ledger is untouched");
    sims.shutdown().await;
}

#[tokio::test]
async fn an_export_from_a_gateway_that_only_answers_html_fails_with_exit_2() {
    let base = config_answering(|| {
        (
            StatusCode::BAD_GATEWAY,
            "<html><head><title>502 Bad Gateway</title></head></html>",
        )
            .into_response()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l.ledger");
    let ran = export_from(&base, &ledger, &[]).await;
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("error: Export failed")
            && ran
                .stderr
                .contains("(HTTP 502: <html><head><title>502 Bad Gateway</title></head></html>)"),
        "{}",
        ran.stderr
    );
}

#[tokio::test]
async fn an_export_whose_source_list_names_another_path_fails_and_stores_no_such_name() {
    let base = serve(
        Router::new()
            .route(
                "/v1beta/workspaces",
                // With its id: the functions, listed by id, are read before the sources.
                get(|| async {
                    ok_json(json!({"workspaces": [{"name": "workspaces/w", "id": "w1"}]}))
                }),
            )
            .route(
                "/v1beta/workspaces/w/sources",
                get(|| async {
                    ok_json(json!({"sources": [{"name": "workspaces/w/sources/a/../../../x"}]}))
                }),
            )
            .fallback(|| async { ok_json(json!({})) }),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l.ledger");
    let ran = export_from(&base, &ledger, &[]).await;
    assert_ne!(ran.code, Some(0), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("the object named `workspaces/w/sources/a/../../../x` cannot be exported"),
        "{}",
        ran.stderr
    );
    let stored = segbridge::ledger::Ledger::inspect(&ledger)
        .unwrap()
        .objects_of_kind(segbridge::model::Kind::Sources)
        .unwrap();
    assert!(
        stored.iter().all(|o| !o.name.contains("..")),
        "{:?}",
        stored.iter().map(|o| &o.name).collect::<Vec<_>>()
    );
}
