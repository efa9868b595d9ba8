//! Serving a simulator: an HTTP/1 loop on 127.0.0.1 that can fail the way real networks do.
//!
//! [`instrument`] adds one layer to a simulator's [`Router`] that applies the
//! [`FaultInjector`]'s decision and records [`RequestStats`]; [`serve`] serves a router;
//! [`spawn`] does both. The layer is added with [`Router::layer`], which axum applies to each
//! route after matching, so it sees [`MatchedPath`] and stats are keyed by route template
//! (`GET /v1beta/workspaces/{ws}`) rather than by raw path; requests no route matches are counted
//! under their raw path. Two consequences for simulators:
//! - Instrument the router that matches the API routes, once its routes, fallback and own layers
//!   are in place. Layers added before sit inside this one, so faults are decided before, say,
//!   the simulator's rate limiter counts a request, and the limiter's 429s are still recorded.
//! - A router that matches routes inside a fallback service (for instance behind a path
//!   normaliser, which must run before routing) hides `MatchedPath` from the outer router, so
//!   [`spawn`] on the outer one would count raw paths. Instrument the inner router instead and
//!   [`serve`] the outer one.
//!
//! `axum::serve` always answers a request, so it cannot simulate a reset. This loop drives hyper
//! directly: the layer marks a response that must not be sent with a private extension, and the
//! service turns it into an error, on which hyper closes the connection without writing a byte.
//! Truncation needs no help from the loop: the body announces its full length and then fails,
//! and hyper aborts the connection mid-body.
//!
//! Invariants: the server binds the loopback address only, since the simulators accept any token
//! and must never be reachable from another machine; paths under [`CONTROL_PREFIX`] are never
//! faulted, delayed, rate limited or counted, so tests can always inspect and steer a simulator
//! however hostile its spec.

use std::convert::Infallible;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, OriginalUri, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

use super::clock::TimeScale;
use super::faults::{Action, FaultInjector, FaultSpec, GhostEnding};
use super::stats::RequestStats;

/// Paths under this prefix belong to the simulator's own control surface, not to the API.
pub const CONTROL_PREFIX: &str = "/_sim/";

/// Where [`fault_control_routes`] are mounted.
pub const FAULTS_PATH: &str = "/_sim/faults";

/// How long [`RunningServer::shutdown`] lets in-flight requests finish before cutting them off:
/// longer than any scaled request in a test, short enough that Ctrl-C still feels immediate.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Pause after a failed `accept` (typically out of file descriptors) so the loop does not spin
/// while connections close and free some.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// How long a truncated body waits between its half and its failure. Real time, not scaled:
/// it only has to outlast one flush of a loopback socket.
const TRUNCATION_FLUSH_PAUSE: Duration = Duration::from_millis(10);

/// The page a load balancer serves when the service behind it is gone, for `html` faults: the
/// nginx-style 502 page that AWS load balancers also send, the kind of front a hosted API has.
const GATEWAY_ERROR_PAGE: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n\
     <body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n";

/// True for paths of the simulator's control surface, which simulators must also exempt from
/// their own rate limiting.
pub fn is_control_path(path: &str) -> bool {
    path.starts_with(CONTROL_PREFIX)
}

/// What [`instrument`] and [`spawn`] need from a simulator besides its router.
#[derive(Clone, Debug)]
pub struct SimContext {
    /// `"config"` or `"public"`, for messages about this simulator.
    pub api: &'static str,
    pub faults: Arc<FaultInjector>,
    pub stats: Arc<RequestStats>,
    /// Must be the injector's scale; carried for handlers that scale their own durations.
    pub scale: TimeScale,
    /// The API's JSON error envelope, for injected 5xx and scripted statuses.
    pub error_response: fn(StatusCode, &str) -> Response,
    /// The API's 429 with a `Retry-After` for the given real wait (round it up to whole
    /// seconds), for storms and scripted 429s.
    pub rate_limited_response: fn(Duration) -> Response,
    /// The API's answer during an outage, such as the Config API's plain-text 503.
    pub outage_response: fn() -> Response,
}

/// A simulator serving in the background. Dropping it stops the server abruptly; call
/// [`Self::shutdown`] to let in-flight requests finish.
#[derive(Debug)]
pub struct RunningServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections, closes idle ones, and waits up to a few seconds for
    /// requests in flight.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            // Fails only if the loop is already gone, which is the goal anyway.
            let _ = stop.send(());
        }
        // A panic inside the loop has nothing left to clean up; the server is down either way.
        let _ = (&mut self.task).await;
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection task.
        self.task.abort();
    }
}

/// Instruments `app` with faults and stats from `ctx` (see [`instrument`]), restarts the storm and
/// outage clock, and serves it on `127.0.0.1:port` (0 picks a free port). For routers whose
/// top level matches the API routes; see the module documentation otherwise.
///
/// # Panics
/// As [`instrument`].
pub async fn spawn(app: Router, ctx: SimContext, port: u16) -> io::Result<RunningServer> {
    let faults = ctx.faults.clone();
    let server = serve(instrument(app, ctx), port).await?;
    faults.restart_clock();
    Ok(server)
}

/// Adds the fault and stats layer to `router`, whose routes, fallback and own layers must
/// already be in place (axum applies a layer only to what the router holds). Requests under
/// [`CONTROL_PREFIX`] pass through untouched.
///
/// # Panics
/// If `ctx.scale` differs from the injector's scale: durations would be scaled twice or not at
/// all, a wiring mistake to catch at startup.
pub fn instrument<S>(router: Router<S>, ctx: SimContext) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    assert!(
        ctx.scale == ctx.faults.scale(),
        "the {} simulator runs at time scale {} but its fault injector at {}",
        ctx.api,
        ctx.scale,
        ctx.faults.scale()
    );
    router.layer(middleware::from_fn_with_state(
        Arc::new(ctx),
        fault_and_stats_layer,
    ))
}

/// Serves `app` on `127.0.0.1:port` (0 picks a free port), dropping connections where an
/// instrumented layer asks for it. Does not instrument `app`, and does not restart the storm
/// and outage clock: call [`FaultInjector::restart_clock`] once this returns.
pub async fn serve(app: Router, port: u16) -> io::Result<RunningServer> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(accept_loop(listener, app, stopped));
    Ok(RunningServer {
        addr,
        stop: Some(stop),
        task,
    })
}

/// `GET /_sim/faults` answers the current spec as text; `POST /_sim/faults` with a spec as the
/// body replaces it and answers the spec in canonical form, or 400 with the parse error. Merge
/// into the simulator's router before `with_state`, whatever its state type.
pub fn fault_control_routes<S>(faults: Arc<FaultInjector>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    async fn current(State(faults): State<Arc<FaultInjector>>) -> String {
        faults.spec().to_string()
    }
    async fn replace(State(faults): State<Arc<FaultInjector>>, body: String) -> Response {
        match body.parse::<FaultSpec>() {
            Ok(spec) => {
                let canonical = spec.to_string();
                faults.set_spec(spec);
                canonical.into_response()
            }
            Err(error) => (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
        }
    }
    Router::new()
        .route(FAULTS_PATH, get(current).post(replace))
        .with_state(faults)
}

/// Marks a response that must not be sent: the connection is dropped instead.
#[derive(Debug, Clone, Copy)]
struct DropConnection;

#[derive(Debug, thiserror::Error)]
#[error("connection dropped on purpose by an injected fault")]
struct ConnectionDropped;

fn dropped_connection() -> Response {
    let mut response = Response::new(Body::empty());
    response.extensions_mut().insert(DropConnection);
    response
}

fn gateway_error_page() -> Response {
    (
        StatusCode::BAD_GATEWAY,
        [(header::CONTENT_TYPE, "text/html")],
        GATEWAY_ERROR_PAGE,
    )
        .into_response()
}

fn injected_status(ctx: &SimContext, status: StatusCode) -> Response {
    (ctx.error_response)(
        status,
        status.canonical_reason().unwrap_or("Injected error"),
    )
}

async fn fault_and_stats_layer(
    State(ctx): State<Arc<SimContext>>,
    request: Request,
    next: Next,
) -> Response {
    let path = match request.extensions().get::<OriginalUri>() {
        Some(OriginalUri(uri)) => uri.path().to_owned(),
        None => request.uri().path().to_owned(),
    };
    if is_control_path(&path) {
        return next.run(request).await;
    }
    let method = request.method().clone();
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| path.clone(), |matched| matched.as_str().to_owned());

    let plan = ctx.faults.plan(&method, &path, Instant::now());
    for kind in plan.fault_kinds() {
        ctx.stats.record_fault(kind);
    }
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    let response = match plan.action {
        Action::Pass => next.run(request).await,
        Action::Outage => (ctx.outage_response)(),
        Action::Storm { retry_after } | Action::RateLimited { retry_after } => {
            (ctx.rate_limited_response)(retry_after)
        }
        Action::Status(status) => injected_status(&ctx, status),
        Action::Reset => dropped_connection(),
        Action::Html => gateway_error_page(),
        Action::Truncate => truncate(next.run(request).await).await,
        Action::Ghost(ending) => {
            // The write happens; only the answer is lost.
            drop(next.run(request).await);
            match ending {
                GhostEnding::Reset => dropped_connection(),
                GhostEnding::ServerError => {
                    injected_status(&ctx, StatusCode::INTERNAL_SERVER_ERROR)
                }
            }
        }
    };
    let status =
        (response.extensions().get::<DropConnection>().is_none()).then(|| response.status());
    ctx.stats.record(&method, &template, status);
    response
}

/// Sends the status and headers of `response` with its full Content-Length, then half the body,
/// then fails the body so that hyper closes the connection. A body that cannot be read whole is
/// replaced by a dropped connection, the nearest honest failure.
async fn truncate(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return dropped_connection();
    };
    let full_length = bytes.len();
    let sent = bytes.slice(..full_length / 2);
    let half_then_failure =
        futures::stream::once(async { Ok(sent) }).chain(futures::stream::once(async {
            // hyper discards buffered output when a body fails, so the half must reach the
            // socket first; hyper flushes while the body is pending.
            tokio::time::sleep(TRUNCATION_FLUSH_PAUSE).await;
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "response truncated on purpose by an injected fault",
            ))
        }));
    parts.headers.remove(header::TRANSFER_ENCODING);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(full_length));
    Response::from_parts(parts, Body::from_stream(half_then_failure))
}

async fn accept_loop(listener: TcpListener, app: Router, mut stop: oneshot::Receiver<()>) {
    let (drain, draining) = watch::channel(());
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            // A dropped sender means the RunningServer is gone; stopping is right either way.
            _ = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, app.clone(), draining.clone()));
                }
                Err(_) => tokio::time::sleep(ACCEPT_BACKOFF).await,
            },
        }
    }
    drop(listener);
    drain.send_replace(());
    let finish_all = async { while connections.join_next().await.is_some() {} };
    // Whatever is still running after the grace period is aborted when the JoinSet drops.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, finish_all).await;
}

async fn serve_connection(stream: TcpStream, app: Router, mut draining: watch::Receiver<()>) {
    // Small JSON responses should not wait for Nagle's algorithm; latency is the fault spec's job.
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |request: axum::http::Request<Incoming>| {
        let app = app.clone();
        async move {
            let response = app
                .oneshot(request.map(Body::new))
                .await
                .unwrap_or_else(|never: Infallible| match never {});
            if response.extensions().get::<DropConnection>().is_some() {
                Err(ConnectionDropped)
            } else {
                Ok(response)
            }
        }
    });
    let mut builder = http1::Builder::new();
    // The timer lets hyper enforce its header read timeout against clients that stall.
    builder.timer(TokioTimer::new());
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        // Connection errors are the client's or an injected fault's; nobody is there to tell.
        _ = connection.as_mut() => return,
        _ = draining.changed() => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

/// Rewrites `//v1beta//catalog/sources/` to `/v1beta/catalog/sources`: real clients send doubled
/// slashes (a base URL ending in `/` joined with a path starting with `/`) and trailing slashes,
/// and the real gateways tolerated both. `None` when the path is already clean.
pub fn normalize_uri(uri: &axum::http::Uri) -> Option<axum::http::Uri> {
    let path = uri.path();
    let mut clean = String::with_capacity(path.len());
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        clean.push('/');
        clean.push_str(segment);
    }
    if clean.is_empty() {
        clean.push('/');
    }
    if clean == path {
        return None;
    }
    let rebuilt = match uri.query() {
        Some(q) => format!("{clean}?{q}"),
        None => clean,
    };
    rebuilt.parse().ok()
}

/// A simulator as one service: its inspection routes (`/_sim/state`, `/_sim/stats`, with their
/// state already applied), the fault controls, and the API behind path normalisation. The
/// normalisation must run before routing, hence the service wrapper around the (already
/// [`instrument`]ed) API router.
pub fn assemble(api: Router, inspection: Router, faults: Arc<FaultInjector>) -> Router {
    let normalized = tower::ServiceExt::map_request(api, |mut request: Request| {
        if let Some(uri) = normalize_uri(request.uri()) {
            *request.uri_mut() = uri;
        }
        request
    });
    inspection
        .merge(fault_control_routes(faults))
        .fallback_service(normalized)
}

#[cfg(test)]
mod tests {
    use super::normalize_uri;

    #[test]
    fn normalizes_doubled_and_trailing_slashes_keeping_the_query() {
        let uri = "//v1beta//catalog/sources/?page_size=100".parse().unwrap();
        assert_eq!(
            normalize_uri(&uri).unwrap().to_string(),
            "/v1beta/catalog/sources?page_size=100"
        );
        let uri = "//sources//abc/?pagination[count]=1".parse().unwrap();
        assert_eq!(
            normalize_uri(&uri).unwrap().to_string(),
            "/sources/abc?pagination[count]=1"
        );
        assert!(normalize_uri(&"/v1beta/workspaces".parse().unwrap()).is_none());
        assert!(normalize_uri(&"/".parse().unwrap()).is_none());
    }
}
