//! Both simulators of a `small` workspace at `--time-scale 60`, and an in-process export of it
//! paced for that scale: the starting point of the plan and apply tests.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use segbridge::config_api::{ConfigClient, ConfigClientSettings};
use segbridge::export::{self, ExportOptions};
use segbridge::http::{RetryPolicy, ScaledClock, Secret, SecretSource};
use segbridge::ledger::Ledger;
use segbridge::progress::HiddenReporter;
use segbridge::secrets::SecretHasher;
use segbridge::sim::clock::TimeScale;
use segbridge::sim::generator::{Counts, Preset};
use segbridge::sim::public::Target;
use segbridge::sim::{SimSettings, Simulators};

/// A minute lasts a second: the real per-minute limits apply, sixty times faster.
pub const SCALE: f64 = 60.0;

/// Both simulators serving the `small` workspace of seed 11, the Public one as `target`.
pub async fn small_simulators(target: Target) -> Simulators {
    let mut settings = SimSettings::for_tests(11);
    settings.counts = Counts::preset(Preset::Small);
    settings.time_scale = TimeScale::new(SCALE).unwrap();
    settings.target = target;
    Simulators::start(settings).await.unwrap()
}

/// Exports the Config simulator's workspace into the ledger at `path`; panics on any failure.
pub async fn export_into(sims: &Simulators, path: &Path) {
    let token = Secret::new(
        sims.config.token.clone(),
        SecretSource::EnvVar("SEGMENT_CONFIG_API_TOKEN".into()),
    )
    .unwrap();
    let mut settings = ConfigClientSettings::new(token);
    settings.base_url = sims.config.base_url().parse().unwrap();
    settings.clock = Arc::new(ScaledClock::new(SCALE));
    settings.retry = RetryPolicy {
        base_delay: Duration::from_millis(20),
        ..RetryPolicy::default()
    };
    let client = ConfigClient::new(settings).unwrap();
    let ledger = Mutex::new(Ledger::open(path).unwrap());
    let options = ExportOptions {
        config_url: sims.config.base_url(),
        workspace: None,
        kinds: ExportOptions::default_kinds(),
        concurrency: 4,
        held_secrets: None,
    };
    let hasher = SecretHasher::from_token(&sims.config.token);
    let outcome = export::export(&client, &ledger, &hasher, &options, &HiddenReporter)
        .await
        .unwrap();
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
}
