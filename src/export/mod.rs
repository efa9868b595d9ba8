//! Export: read every resource of the Config API into the ledger, resumably.
//!
//! The walk visits the collections of the eleven services in dependency order (the workspace,
//! the catalogs, access tokens and functions, the sources, tracking plans with their source
//! connections, IAM, then the sources' subtrees (schema config, destinations and filters), and on
//! request the delivery metrics). Functions come before the sources because a function-instance
//! source is mapped from its function, and the subtrees, most of the requests, come last:
//! [`export_observed`] says when the sources are read, when what hangs below no source is, and
//! when each source's subtree is, for `migrate` to plan and apply what is read while the export
//! goes on. Every page is sanitized ([`crate::secrets`]) as it arrives and stored with the pages
//! read about the same time, in one transaction, always before `migrate` is told what they
//! complete; a collection read to its end is marked complete in the ledger with its last page.
//! The subtrees of different sources are read concurrently (`concurrency`), bounded in any case
//! by the client's rate limiter.
//!
//! Resuming: a run that was interrupted (killed, network lost) or that ended with failures is
//! continued by the next export of the same workspace: collections it completed are taken from
//! the ledger instead of being read again. A collection is always re-read from its first page
//! (page tokens are not kept), which costs at most one collection's pages and keeps the logic
//! independent of how long the API honours its tokens. Re-running a finished export starts a new
//! run, and the ledger reports what changed since the previous one by content hash.
//!
//! A collection that cannot be read is a failure: it is recorded (journal and summary), the
//! collections below it are skipped, the rest of the walk goes on, and the run ends `failed`.
//! An authentication failure stops the walk at once.

mod collection;
mod reader;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use serde_json::{Value, json};

pub use collection::{Collection, ConfigReader, FunctionType, Page, ReadError};

use crate::ledger::{Changes, Ledger, LedgerError, NewObject, PageBatch, RunId, RunStatus};
use crate::mapping::SnapshotSource;
use crate::model::{Kind, raw_fields, string_field};
use crate::progress::Reporter;
use crate::secrets::{HeldSecrets, SecretHasher, has_secret_settings, sanitize, sanitize_text};

/// Destinations per `event-delivery-metrics:batchGetSummary` request: their names go in the
/// query string, and 20 names of up to ~200 characters keep it well under common URL limits.
pub const METRICS_BATCH: usize = 20;

/// What to export and how.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Identifies the source API in the ledger (the Config API host root).
    pub config_url: String,
    /// The workspace slug; `None` means the token's only workspace.
    pub workspace: Option<String>,
    /// The kinds to store. Collections of other kinds are still read when they lead to
    /// selected ones (sources lead to destinations), but not stored.
    pub kinds: BTreeSet<Kind>,
    /// Source subtrees read at once.
    pub concurrency: usize,
    /// Where to keep the secret values read in clear for an `apply` of the same process
    /// (`migrate`), besides the ledger's markers; `None` keeps none.
    pub held_secrets: Option<HeldSecrets>,
}

impl ExportOptions {
    /// Every kind but the delivery metrics, which are many calls and therefore opt-in.
    pub fn default_kinds() -> BTreeSet<Kind> {
        Kind::ALL
            .into_iter()
            .filter(|k| *k != Kind::DeliveryMetrics)
            .collect()
    }
}

/// A collection that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: Kind,
    /// The API path of the collection (endpoint and resource).
    pub collection: String,
    pub message: String,
    pub transient: bool,
}

/// How an export ended.
#[derive(Debug, Clone)]
pub struct ExportOutcome {
    pub run: RunId,
    /// Whether this invocation continued an earlier, unfinished run.
    pub resumed: bool,
    pub workspace: String,
    /// Objects per kind in this run's snapshot (tracking-plan rules counted inside their plans).
    pub objects: BTreeMap<Kind, u64>,
    /// What changed since the previous run of the same export, by content hash.
    pub changes: Changes,
    /// Collections taken from the ledger instead of being read again.
    pub collections_resumed: u64,
    pub failures: Vec<Failure>,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    // The cause is the source, which error reports print after this line: not repeated here.
    #[error("cannot list the workspaces of the token")]
    Workspaces(#[source] ReadError),
    #[error("the token can see no workspace")]
    NoWorkspace,
    #[error("workspace `{wanted}` is not visible to this token; it sees: {available}")]
    UnknownWorkspace { wanted: String, available: String },
    #[error("the token can see several workspaces ({available}); choose one with `--workspace`")]
    SeveralWorkspaces { available: String },
    #[error("the workspace object has no `id`, which the functions endpoints need")]
    NoWorkspaceId,
    #[error(
        "the ledger `{ledger}` holds the export of `{holds}`, not `{wanted}`; use another `--ledger` for another workspace or API"
    )]
    OtherWorkspace {
        ledger: String,
        holds: String,
        wanted: String,
    },
    #[error("stopped at `{collection}`")]
    Fatal {
        collection: String,
        #[source]
        error: ReadError,
    },
}

/// The identity of an export in the ledger: the same workspace through the same API.
pub fn source_identity(config_url: &str, workspace: &str) -> String {
    format!("{}|{workspace}", config_url.trim_end_matches('/'))
}

/// The last segment of a slug-based name (`workspaces/w/sources/js` → `js`).
fn leaf(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// What an export has read completely so far, told as it happens (see [`export_observed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready<'a> {
    /// The run the export reads into, told before anything else.
    Run(RunId),
    /// The sources are read (this many), and every collection read before them (the
    /// workspace, the catalogs, access tokens and functions), none of which failed.
    Sources(usize),
    /// The tracking plans with their connections and the IAM collections are read, and nothing
    /// read so far failed.
    Others,
    /// The subtree of this source (its Config name) is read: its schema config, destinations
    /// and their filters, none of which failed.
    Subtree(&'a str),
}

/// Runs an export into `ledger`.
pub async fn export<R: ConfigReader>(
    reader: &R,
    ledger: &Mutex<Ledger>,
    hasher: &SecretHasher,
    options: &ExportOptions,
    reporter: &dyn Reporter,
) -> Result<ExportOutcome, ExportError> {
    export_observed(reader, ledger, hasher, options, reporter, &|_| {}).await
}

/// [`export`], telling `ready` what has been read completely as the walk goes (on a resumed
/// run too: collections taken from the ledger count as read).
pub async fn export_observed<R: ConfigReader>(
    reader: &R,
    ledger: &Mutex<Ledger>,
    hasher: &SecretHasher,
    options: &ExportOptions,
    reporter: &dyn Reporter,
    ready: &(dyn Fn(Ready<'_>) + Sync),
) -> Result<ExportOutcome, ExportError> {
    let started = Instant::now();
    let (workspace_name, workspace_body) = choose_workspace(reader, options).await?;
    let ws = leaf(&workspace_name).to_owned();
    let identity = source_identity(&options.config_url, &ws);

    let (run, resumed) = {
        let mut ledger = lock(ledger);
        // One ledger holds one workspace: its snapshot, plans and id map all refer to it, and a
        // refresh removes what the API no longer has, which must never touch another
        // workspace's objects.
        if let Some(other) = ledger
            .runs()?
            .into_iter()
            .find(|r| r.command == "export" && r.source != identity)
        {
            return Err(ExportError::OtherWorkspace {
                ledger: ledger.path().display().to_string(),
                holds: other.source,
                wanted: identity,
            });
        }
        match ledger.unfinished_run("export", &identity)? {
            Some(run) => {
                ledger.reopen_run(run)?;
                (run, true)
            }
            None => (ledger.begin_run("export", &identity)?, false),
        }
    };
    ready(Ready::Run(run));
    lock(ledger).record_event(
        Some(run),
        if resumed { "export_resumed" } else { "export_started" },
        &json!({"workspace": ws, "kinds": options.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>()}),
    )?;

    let walker = Walker {
        reader,
        ledger,
        hasher,
        held_secrets: options.held_secrets.as_ref(),
        run,
        kinds: &options.kinds,
        reporter,
        ready,
        failures: Mutex::new(Vec::new()),
        resumed_collections: Mutex::new(0),
        completed_before: lock(ledger).completed_keys(run)?,
        unstored: Mutex::new(Unstored::default()),
    };
    let walked = walker
        .walk(&ws, workspace_name, workspace_body, options)
        .await;
    // What a walk stopped by an error read is kept too: a resume then need not read it again.
    let walked = match (walked, walker.store_unstored()) {
        (Ok(()), stored) => stored,
        (Err(error), _) => Err(error),
    };
    let failures = walker
        .failures
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    let collections_resumed = *walker
        .resumed_collections
        .lock()
        .unwrap_or_else(|e| e.into_inner());

    let mut ledger = lock(ledger);
    if let Err(error) = walked {
        ledger.record_event(
            Some(run),
            "export_stopped",
            &json!({"error": error.to_string()}),
        )?;
        ledger.finish_run(run, RunStatus::Failed)?;
        return Err(error);
    }
    // Kinds read to the end lose the objects the API no longer has; a kind with a failed
    // collection keeps them, since the failure may have hidden them.
    let failed: BTreeSet<Kind> = failures.iter().map(|f| f.kind).collect();
    let prune: Vec<Kind> = options
        .kinds
        .iter()
        .copied()
        .filter(|k| k.is_stored() && !failed.contains(k) && !failed_parent(*k, &failed))
        .collect();
    let changes = ledger.settle_run(run, &prune)?;
    let mut objects: BTreeMap<Kind, u64> = ledger
        .counts_seen_in(run)?
        .into_iter()
        .filter_map(|(kind, n)| kind.parse::<Kind>().ok().map(|k| (k, n)))
        .collect();
    if options.kinds.contains(&Kind::TrackingPlanRules) {
        // One plan at a time: the plans hold every rule, the bulk of a workspace.
        let mut rules = 0;
        ledger
            .snapshot(run)
            .each_text(Kind::TrackingPlans, &mut |_, plan| {
                rules += count_rules(plan)
            })?;
        objects.insert(Kind::TrackingPlanRules, rules);
    }
    let status = if failures.is_empty() {
        RunStatus::Complete
    } else {
        RunStatus::Failed
    };
    ledger.record_event(
        Some(run),
        "export_finished",
        &json!({
            "status": if failures.is_empty() { "complete" } else { "failed" },
            "objects": objects.iter().map(|(k, n)| (k.as_str(), n)).collect::<BTreeMap<_, _>>(),
            "failures": failures.len(),
        }),
    )?;
    ledger.finish_run(run, status)?;
    Ok(ExportOutcome {
        run,
        resumed,
        workspace: ws,
        objects,
        changes,
        collections_resumed,
        failures,
        elapsed: started.elapsed(),
    })
}

/// Kinds whose collections hang below a kind that failed: their unseen objects may still exist.
fn failed_parent(kind: Kind, failed: &BTreeSet<Kind>) -> bool {
    let parents: &[Kind] = match kind {
        Kind::SchemaConfigs | Kind::Destinations => &[Kind::Sources],
        Kind::DestinationFilters | Kind::DeliveryMetrics => &[Kind::Sources, Kind::Destinations],
        Kind::TrackingPlanConnections => &[Kind::TrackingPlans],
        _ => &[],
    };
    parents.iter().any(|p| failed.contains(p))
}

/// Rules of a Config tracking plan, from its JSON text: every event version, plus `global`,
/// `identify` and `group` when set (the counting the simulators use too). Read from the text,
/// never parsed into a value: a plan holds all its rules (362 KB of JSON for the largest of
/// `large`, megabytes as a value).
pub fn count_rules(plan: &str) -> u64 {
    /// The fields of an object by position; none when the text is not an object (or not JSON:
    /// text this process stored from a value always is).
    fn fields<'a>(text: &'a str, wanted: &[&str]) -> Vec<Option<&'a RawValue>> {
        raw_fields(text, wanted)
            .ok()
            .flatten()
            .unwrap_or_else(|| vec![None; wanted.len()])
    }
    let Some(rules) = fields(plan, &["rules"])[0] else {
        return 0;
    };
    let found = fields(rules.get(), &["events", "global", "identify", "group"]);
    let events = found[0].map_or(0, |events| {
        serde_json::from_str::<Vec<IgnoredAny>>(events.get()).map_or(0, |e| e.len())
    });
    let schemas = found[1..]
        .iter()
        .filter(|raw| raw.is_some_and(|r| r.get().starts_with('{')))
        .count();
    (events + schemas) as u64
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the ledger's lock leaves the connection usable: SQLite rolls back
    // any open transaction when its guard is dropped. A page a panicking thread left half
    // added to the unstored pages completes no collection (that is added last), so storing
    // it loses nothing.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

async fn choose_workspace<R: ConfigReader>(
    reader: &R,
    options: &ExportOptions,
) -> Result<(String, Box<RawValue>), ExportError> {
    let mut all = Vec::new();
    let collection = Collection::Workspaces;
    let mut pages = reader.pages(&collection);
    while let Some(page) = pages.next().await {
        all.extend(page.map_err(ExportError::Workspaces)?.objects);
    }
    let names = || {
        all.iter()
            .map(|(name, _)| leaf(name).to_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &options.workspace {
        Some(wanted) => all
            .iter()
            .find(|(name, _)| leaf(name) == wanted)
            .cloned()
            .ok_or_else(|| ExportError::UnknownWorkspace {
                wanted: wanted.clone(),
                available: names(),
            }),
        None => match all.len() {
            0 => Err(ExportError::NoWorkspace),
            1 => Ok(all.remove(0)),
            _ => Err(ExportError::SeveralWorkspaces { available: names() }),
        },
    }
}

struct Walker<'a, R> {
    reader: &'a R,
    ledger: &'a Mutex<Ledger>,
    hasher: &'a SecretHasher,
    held_secrets: Option<&'a HeldSecrets>,
    run: RunId,
    kinds: &'a BTreeSet<Kind>,
    reporter: &'a dyn Reporter,
    ready: &'a (dyn Fn(Ready<'_>) + Sync),
    failures: Mutex<Vec<Failure>>,
    resumed_collections: Mutex<u64>,
    /// The collections this run read completely before this walk (it resumes the run): read
    /// once when the walk begins. The walk reads each collection once, so those it completes
    /// itself need not be added.
    completed_before: HashSet<String>,
    /// Pages read and not stored yet (see [`Walker::store`]).
    unstored: Mutex<Unstored>,
}

/// Pages read and not stored yet, and what the reporter is told once they are.
#[derive(Default)]
struct Unstored {
    batch: PageBatch,
    counts: Vec<(Kind, u64)>,
    /// When the first of them was read.
    since: Option<Instant>,
}

/// Pages are stored together once this many wait…
const UNSTORED_PAGES: usize = 64;
/// …or once they hold this much JSON text…
const UNSTORED_TEXT: usize = 1 << 20;
/// …or once the first of them has waited this long, so that a crash loses at most about this
/// much reading. At the Config API's pace (200 requests a minute) that is every few pages; the
/// other bounds are what groups pages when the API is faster (a simulator at a time scale).
const UNSTORED_AGE: Duration = Duration::from_secs(1);

impl<R: ConfigReader> Walker<'_, R> {
    fn wants(&self, kind: Kind) -> bool {
        self.kinds.contains(&kind)
    }

    fn wants_any(&self, kinds: &[Kind]) -> bool {
        kinds.iter().any(|k| self.wants(*k))
    }

    async fn walk(
        &self,
        ws: &str,
        workspace_name: String,
        workspace_body: Box<RawValue>,
        options: &ExportOptions,
    ) -> Result<(), ExportError> {
        let ws_id = string_field(workspace_body.get(), "id");
        if self.wants(Kind::Workspaces) {
            self.store(
                Kind::Workspaces,
                "workspaces",
                vec![(workspace_name, workspace_body)],
                Some(1),
            )?;
        }
        for collection in [
            Collection::CatalogSources,
            Collection::CatalogDestinations,
            Collection::AccessTokens,
        ] {
            if self.wants(collection.kind()) {
                self.collect(&collection).await?;
            }
        }
        // Before the sources: a function-instance source is mapped from its function.
        if self.wants(Kind::Functions) {
            let ws_id = ws_id.clone().ok_or(ExportError::NoWorkspaceId)?;
            for of_type in [FunctionType::Source, FunctionType::Destination] {
                self.collect(&Collection::Functions {
                    ws_id: ws_id.clone(),
                    of_type,
                })
                .await?;
            }
        }

        let sources = if self.wants_any(&[
            Kind::Sources,
            Kind::SchemaConfigs,
            Kind::Destinations,
            Kind::DestinationFilters,
            Kind::DeliveryMetrics,
        ]) {
            self.collect(&Collection::Sources { ws: ws.into() }).await?
        } else {
            None
        };
        if let Some(sources) = &sources
            && self.failed_none()
        {
            self.store_unstored()?;
            (self.ready)(Ready::Sources(sources.len()));
        }

        // What hangs below no source (tracking plans, their connections, IAM) before the
        // sources' subtrees, the bulk of the export: `migrate` then plans and applies it while
        // the subtrees are read rather than after them.
        if self.wants_any(&[
            Kind::TrackingPlans,
            Kind::TrackingPlanRules,
            Kind::TrackingPlanConnections,
        ]) && let Some(plans) = self
            .collect(&Collection::TrackingPlans { ws: ws.into() })
            .await?
            && self.wants(Kind::TrackingPlanConnections)
        {
            let reads = futures::stream::iter(plans.iter().map(|name| {
                let collection = Collection::Connections {
                    ws: ws.into(),
                    plan: leaf(name).to_owned(),
                };
                async move { self.collect(&collection).await.map(|_| ()) }
            }))
            .buffer_unordered(options.concurrency.max(1))
            .collect::<Vec<_>>()
            .await;
            reads.into_iter().collect::<Result<(), _>>()?;
        }

        for collection in [
            Collection::Roles { ws: ws.into() },
            Collection::Policies { ws: ws.into() },
            Collection::Invites { ws: ws.into() },
            Collection::Users { ws: ws.into() },
        ] {
            if self.wants(collection.kind()) {
                self.collect(&collection).await?;
            }
        }

        if sources.is_some() && self.failed_none() {
            self.store_unstored()?;
            (self.ready)(Ready::Others);
        }

        let mut destination_names = Vec::new();
        if let Some(sources) = sources {
            let subtrees =
                futures::stream::iter(sources.iter().map(|name| self.source_subtree(ws, name)))
                    .buffer_unordered(options.concurrency.max(1))
                    .collect::<Vec<_>>()
                    .await;
            for names in subtrees {
                destination_names.extend(names?);
            }
        }

        if self.wants(Kind::DeliveryMetrics) {
            destination_names.sort();
            for batch in destination_names.chunks(METRICS_BATCH) {
                self.collect(&Collection::DeliverySummaries {
                    ws: ws.into(),
                    destinations: batch.to_vec(),
                })
                .await?;
            }
        }
        Ok(())
    }

    /// Schema config, destinations and their filters of the source named `name`; returns the
    /// names of its destinations (for the delivery metrics). Says the subtree is ready when
    /// none of its collections failed.
    async fn source_subtree(&self, ws: &str, name: &str) -> Result<Vec<String>, ExportError> {
        let source = leaf(name).to_owned();
        let mut whole = true;
        if self.wants(Kind::SchemaConfigs) {
            whole &= self
                .collect(&Collection::SchemaConfig {
                    ws: ws.into(),
                    source: source.clone(),
                })
                .await?
                .is_some();
        }
        let mut destinations = Vec::new();
        if self.wants_any(&[
            Kind::Destinations,
            Kind::DestinationFilters,
            Kind::DeliveryMetrics,
        ]) {
            match self
                .collect(&Collection::Destinations {
                    ws: ws.into(),
                    source: source.clone(),
                })
                .await?
            {
                Some(names) => destinations = names,
                None => whole = false,
            }
        }
        if self.wants(Kind::DestinationFilters) {
            for destination in &destinations {
                whole &= self
                    .collect(&Collection::Filters {
                        ws: ws.into(),
                        source: source.clone(),
                        destination: leaf(destination).to_owned(),
                    })
                    .await?
                    .is_some();
            }
        }
        if whole {
            self.store_unstored()?;
            (self.ready)(Ready::Subtree(name));
        }
        Ok(destinations)
    }

    /// Whether no collection has failed so far.
    fn failed_none(&self) -> bool {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// The names of a collection's objects: from the ledger when this run already read it
    /// completely, otherwise read page by page (each page handed to [`Walker::store`] as it
    /// arrives when the kind is selected: the walk goes on with the names alone). The last page
    /// completes the collection in the transaction that stores it.
    /// `Ok(None)` when the collection failed (recorded); `Err` only for what stops the walk.
    async fn collect(&self, collection: &Collection) -> Result<Option<Vec<String>>, ExportError> {
        let kind = collection.kind();
        let key = collection.key();
        let store = self.wants(kind);
        if store && self.completed_before.contains(&key) {
            let names = lock(self.ledger).names_in(self.run, &key)?;
            self.reporter.resumed(kind, names.len() as u64);
            *self
                .resumed_collections
                .lock()
                .unwrap_or_else(|e| e.into_inner()) += 1;
            return Ok(Some(names));
        }
        self.reporter.collection_started(kind, &key);
        let mut names = Vec::new();
        let mut completed = false;
        let mut pages = self.reader.pages(collection);
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => {
                    names.extend(page.objects.iter().map(|(name, _)| name.clone()));
                    if store {
                        completed = page.last;
                        let complete = page.last.then_some(names.len() as u64);
                        self.store(kind, &key, page.objects, complete)?;
                    }
                }
                Err(error) if error.fatal => {
                    return Err(ExportError::Fatal {
                        collection: key,
                        error,
                    });
                }
                Err(error) => {
                    self.fail(kind, &key, &error)?;
                    return Ok(None);
                }
            }
        }
        // A list that ended without saying so on its last page (or had no page at all).
        if store && !completed {
            self.store(kind, &key, Vec::new(), Some(names.len() as u64))?;
        }
        Ok(Some(names))
    }

    /// Sanitizes objects listed in `parent` and adds them to the pages to store; with
    /// `complete`, the number of objects the whole collection holds, the collection is marked
    /// complete with them. Pages are stored together (a transaction each was most of what the
    /// export cost besides reading; see [`PageBatch`]), when [`UNSTORED_PAGES`] or
    /// [`UNSTORED_TEXT`] wait or the first has waited [`UNSTORED_AGE`], before anything is said
    /// ready (what `ready` is told must be in the ledger for the planner's connection to read)
    /// and when the walk ends.
    fn store(
        &self,
        kind: Kind,
        parent: &str,
        objects: Vec<(String, Box<RawValue>)>,
        complete: Option<u64>,
    ) -> Result<(), ExportError> {
        let count = objects.len() as u64;
        let rows: Vec<NewObject> = objects
            .into_iter()
            .map(|(name, text)| {
                let body = match self.held_secrets {
                    // Parsed once, for the secrets kept in clear and for the sanitizing.
                    Some(held) if has_secret_settings(kind) => {
                        let body = serde_json::from_str(text.get()).unwrap_or(Value::Null);
                        held.hold(kind, &name, &body);
                        sanitize(kind, body, self.hasher)
                    }
                    _ => sanitize_text(kind, &text, self.hasher),
                };
                NewObject {
                    kind,
                    name,
                    parent: parent.to_owned(),
                    body,
                }
            })
            .collect();
        let mut unstored = lock(&self.unstored);
        unstored.batch.add(parent, rows, complete);
        unstored.counts.push((kind, count));
        let since = *unstored.since.get_or_insert_with(Instant::now);
        if unstored.batch.pages() >= UNSTORED_PAGES
            || unstored.batch.text_bytes() >= UNSTORED_TEXT
            || since.elapsed() >= UNSTORED_AGE
        {
            self.store_batch(&mut unstored)?;
        }
        Ok(())
    }

    /// Stores the pages read so far.
    fn store_unstored(&self) -> Result<(), ExportError> {
        self.store_batch(&mut lock(&self.unstored))
    }

    /// Stores `unstored` in one transaction; the lock held throughout keeps batches in the order
    /// their pages were read (a collection's last page never lands before its first).
    fn store_batch(&self, unstored: &mut Unstored) -> Result<(), ExportError> {
        if unstored.batch.is_empty() {
            return Ok(());
        }
        let Unstored { batch, counts, .. } = std::mem::take(unstored);
        lock(self.ledger).store_batch(self.run, &batch)?;
        for (kind, count) in counts {
            self.reporter.stored(kind, count);
        }
        Ok(())
    }

    fn fail(&self, kind: Kind, collection: &str, error: &ReadError) -> Result<(), ExportError> {
        self.reporter.failed(collection, &error.message);
        lock(self.ledger).record_event(
            Some(self.run),
            "collection_failed",
            &json!({"collection": collection, "kind": kind.as_str(), "error": error.message, "transient": error.transient}),
        )?;
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Failure {
                kind,
                collection: collection.to_owned(),
                message: error.message.clone(),
                transient: error.transient,
            });
        Ok(())
    }
}

#[cfg(test)]
mod tests;
