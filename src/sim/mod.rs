//! Local simulators of the Segment Config API (v1beta) and the Public API.
//!
//! Neither real API is reachable from a test machine, so everything segbridge does is developed
//! and tested against these simulators; users also run them (`segbridge sim`) to rehearse a
//! migration. They are a product, held to the references by contract tests, not test scaffolding.
//!
//! The pieces: [`catalog`] (the integration catalog both sides serve), [`workspace`] (the neutral
//! model of a workspace) and [`generator`] (deterministic workspaces from a seed), the
//! API-agnostic machinery ([`server`], [`faults`], [`ratelimit`], [`stats`], [`clock`]), and one
//! module per simulated API ([`config`]). [`Simulators::start`] puts them together; it only ever
//! binds 127.0.0.1.

pub mod catalog;
pub mod clock;
pub mod config;
pub mod faults;
pub mod generator;
pub mod public;
pub mod ratelimit;
pub mod rng;
pub mod server;
pub mod stats;
pub mod workspace;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use self::catalog::Catalog;
use self::clock::TimeScale;
use self::config::routes::ConfigSim;
use self::config::{ConfigOptions, ConfigStore, Scope, Token};
use self::faults::{FaultInjector, FaultSpec};
use self::generator::Counts;
use self::public::routes::PublicSim;
use self::public::{PublicOptions, Target};
use self::rng::Rng;
use self::server::{RunningServer, SimContext};
use self::stats::RequestStats;

/// Everything `segbridge sim` (and tests, benchmarks and the demo) can set.
#[derive(Debug, Clone)]
pub struct SimSettings {
    pub seed: u64,
    pub counts: Counts,
    pub faults: FaultSpec,
    pub time_scale: TimeScale,
    pub config_port: u16,
    pub config_rate_limit: u32,
    pub mask_secrets: bool,
    /// A token the Config simulator accepts with read/write scope instead of generating one.
    pub config_token: Option<String>,
    pub public_port: u16,
    /// Requests per minute per token on Public API routes without a documented limit.
    pub public_rate_limit: u32,
    /// The Public simulator's starting state.
    pub target: Target,
    /// A token the Public simulator accepts instead of generating one.
    pub public_token: Option<String>,
}

impl SimSettings {
    /// A `tiny` workspace on ephemeral ports with no faults, at real time.
    pub fn for_tests(seed: u64) -> Self {
        Self {
            seed,
            counts: Counts::preset(generator::Preset::Tiny),
            faults: FaultSpec::default(),
            time_scale: TimeScale::default(),
            config_port: 0,
            config_rate_limit: 200,
            mask_secrets: false,
            config_token: None,
            public_port: 0,
            public_rate_limit: public::limits::DEFAULT_PER_MINUTE,
            target: Target::Empty,
            public_token: None,
        }
    }
}

/// A running Config API simulator and what a client needs to use it.
pub struct ConfigServer {
    pub server: RunningServer,
    pub sim: Arc<ConfigSim>,
    pub faults: Arc<FaultInjector>,
    pub stats: Arc<RequestStats>,
    /// The read/write token, when the simulator generated it (not when it came from the user).
    pub generated_token: Option<String>,
    /// The token to use: the generated one or the one given in the settings.
    pub token: String,
    pub read_only_token: String,
    pub workspace_slug: String,
}

impl ConfigServer {
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Resource counts per kind, as `/_sim/stats` reports them.
    pub fn resource_counts(&self) -> BTreeMap<&'static str, usize> {
        self.sim.store().counts()
    }

    /// The number of the workspace's own objects, as `/_sim/stats` reports it.
    pub fn resources_total(&self) -> usize {
        self.sim.store().resources_total()
    }
}

/// A running Public API simulator and what a client needs to use it.
pub struct PublicServer {
    pub server: RunningServer,
    pub sim: Arc<PublicSim>,
    pub faults: Arc<FaultInjector>,
    pub stats: Arc<RequestStats>,
    /// The token, when the simulator generated it (not when it came from the user).
    pub generated_token: Option<String>,
    /// The token to use: the generated one or the one given in the settings.
    pub token: String,
    pub target: Target,
    pub workspace_slug: String,
}

impl PublicServer {
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Resource counts per kind, as `/_sim/stats` reports them.
    pub fn resource_counts(&self) -> BTreeMap<&'static str, usize> {
        self.sim.store().counts()
    }
}

/// The simulators started together, sharing one fault specification and time scale.
pub struct Simulators {
    pub config: ConfigServer,
    pub public: PublicServer,
}

impl Simulators {
    /// Generates the workspace and starts the simulators on 127.0.0.1.
    pub async fn start(settings: SimSettings) -> std::io::Result<Self> {
        let workspace = generator::generate(settings.seed, &settings.counts, Catalog::embedded());
        Self::start_with(settings, workspace).await
    }

    /// Starts the simulators serving a given workspace (tests build small ones by hand).
    pub async fn start_with(
        settings: SimSettings,
        workspace: workspace::Workspace,
    ) -> std::io::Result<Self> {
        let public_store = public::seed::seed(settings.target, &workspace, Catalog::embedded());
        let config = start_config(&settings, Catalog::embedded(), workspace).await?;
        let public = start_public(&settings, public_store).await?;
        Ok(Self { config, public })
    }

    /// Lets requests in flight finish, then stops.
    pub async fn shutdown(self) {
        tokio::join!(self.config.server.shutdown(), self.public.server.shutdown());
    }
}

/// Tokens must not be guessable from the seed (a seed is not a secret), so they come from the
/// clock and the process id rather than from the workspace's generator.
fn token_rng() -> Rng {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    Rng::new(nanos ^ (u64::from(std::process::id()) << 32))
}

/// The token a simulator accepts: the user's own when given, else a generated one, which is
/// also returned apart so that it can be shown (a user's own token never is).
fn accepted_token(
    given: &Option<String>,
    generate: impl FnOnce() -> String,
) -> (String, Option<String>) {
    match given {
        Some(token) => (token.clone(), None),
        None => {
            let token = generate();
            (token.clone(), Some(token))
        }
    }
}

async fn start_config(
    settings: &SimSettings,
    catalog: &'static Catalog,
    workspace: workspace::Workspace,
) -> std::io::Result<ConfigServer> {
    let mut rng = token_rng();
    let (token, generated_token) = accepted_token(&settings.config_token, || {
        config::store::generate_token(&mut rng)
    });
    let read_only_token = config::store::generate_token(&mut rng);
    let tokens = vec![
        Token {
            secret: token.clone(),
            scope: Scope::ReadWrite,
            access_token: None,
        },
        Token {
            secret: read_only_token.clone(),
            scope: Scope::ReadOnly,
            access_token: None,
        },
    ];
    let workspace_slug = workspace.slug.clone();
    let options = ConfigOptions {
        mask_secrets: settings.mask_secrets,
        rate_limit_per_minute: settings.config_rate_limit,
        ..ConfigOptions::default()
    };
    let stats = Arc::new(RequestStats::new());
    let faults = Arc::new(FaultInjector::new(
        settings.faults.clone(),
        settings.time_scale,
        settings.seed,
    ));
    let window = settings.time_scale.scale(Duration::from_secs(60));
    let sim = config::new_sim(
        ConfigStore::new(catalog, vec![workspace], tokens),
        options,
        window,
        stats.clone(),
    );
    let context = SimContext {
        api: "config",
        faults: faults.clone(),
        stats: stats.clone(),
        scale: settings.time_scale,
        error_response: config::error_response,
        rate_limited_response: config::rate_limited_response,
        outage_response: config::outage_response,
    };
    let app = config::app(sim.clone(), context);
    let server = server::serve(app, settings.config_port).await?;
    // Storms and outages count from the moment the simulator can be reached.
    faults.restart_clock();
    Ok(ConfigServer {
        server,
        sim,
        faults,
        stats,
        generated_token,
        token,
        read_only_token,
        workspace_slug,
    })
}

/// A Public API token: `sgp_` and 64 base62 characters (the prefix of Segment's Public API
/// tokens; their length is INFERRED).
pub fn generate_public_token(rng: &mut Rng) -> String {
    format!("sgp_{}", rng.string(rng::BASE62, 64))
}

async fn start_public(
    settings: &SimSettings,
    store: public::PublicStore,
) -> std::io::Result<PublicServer> {
    let (token, generated_token) = accepted_token(&settings.public_token, || {
        generate_public_token(&mut token_rng().fork("public"))
    });
    let workspace_slug = store.workspace.slug.clone();
    let options = PublicOptions {
        rate_limit_per_minute: settings.public_rate_limit,
        ..PublicOptions::default()
    };
    let stats = Arc::new(RequestStats::new());
    // A seed of its own, so the two simulators do not fail in lockstep.
    let faults = Arc::new(FaultInjector::new(
        settings.faults.clone(),
        settings.time_scale,
        settings.seed ^ 0x7075_626c_6963,
    ));
    let sim = public::new_sim(
        store,
        token.clone(),
        options,
        settings.time_scale,
        stats.clone(),
    );
    let context = SimContext {
        api: "public",
        faults: faults.clone(),
        stats: stats.clone(),
        scale: settings.time_scale,
        error_response: public::error_response,
        rate_limited_response: public::rate_limited_response,
        outage_response: public::outage_response,
    };
    let app = public::app(sim.clone(), context);
    let server = server::serve(app, settings.public_port).await?;
    faults.restart_clock();
    Ok(PublicServer {
        server,
        sim,
        faults,
        stats,
        generated_token,
        token,
        target: settings.target,
        workspace_slug,
    })
}
