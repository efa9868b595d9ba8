//! Re-reading the source: the audited kinds of one workspace, read again through the Config API
//! (any [`ConfigReader`]) into a [`TextSnapshot`], as `export` would store them. The bodies are
//! kept as compressed JSON text: the whole source waits for the target to be read (in `migrate`,
//! for `apply` to end too), and compressed text takes a fraction of the memory of parsed values.
//!
//! Why not the ledger's snapshot: the audit checks the target against the source *as it is
//! now*, so a change made in the source after the export shows up as a difference instead of
//! being hidden by a stale copy.
//!
//! Invariants:
//! - **Read-only.** Only [`ConfigReader::pages`] is called, which cannot write.
//! - **Secrets never enter the audit.** Every object passes through [`sanitize_text`] before
//!   it is kept, exactly as the export does: secret values become markers, so the mapping turns
//!   them into `$secret` placeholders and no later step can show one.
//! - Collections are read in the export's order (the subtrees of several sources at once, kept
//!   in the order of a walk one at a time); a collection that cannot be read stops the audit (a
//!   partial source would report objects as unexpected that are merely unread).

use std::collections::BTreeSet;

use futures::{StreamExt, stream};

use crate::export::{Collection, ConfigReader, FunctionType, ReadError};
use crate::mapping::TextSnapshot;
use crate::model::{Kind, string_field};
use crate::progress::Reporter;
use crate::secrets::{SecretHasher, sanitize_text};

/// A Config collection could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read `{collection}` from the Config API: {message}")]
    Read { collection: String, message: String },
    #[error("the Config API does not show workspace `{0}` to this token")]
    UnknownWorkspace(String),
    #[error("the workspace object has no `id`, which the functions endpoints need")]
    NoWorkspaceId,
}

/// The error of a page of the collection `key` that could not be read.
fn unreadable(key: &str) -> impl Fn(ReadError) -> SourceError + '_ {
    move |e| SourceError::Read {
        collection: key.to_owned(),
        message: e.message,
    }
}

fn leaf(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// Source subtrees (schema config, destinations, filters) and tracking plans read at once:
/// one at a time, each request waited for its own latency and the read fell behind the Config
/// API's 200 requests a minute; the client's limiter keeps any number within the limit.
pub const SUBTREES_AT_ONCE: usize = 8;

struct Walk<'a, R> {
    reader: &'a R,
    hasher: &'a SecretHasher,
    reporter: &'a dyn Reporter,
    kinds: &'a BTreeSet<Kind>,
}

impl<R: ConfigReader> Walk<'_, R> {
    fn wants(&self, kind: Kind) -> bool {
        self.kinds.contains(&kind)
    }

    /// Reads a whole collection; keeps its objects (sanitized) in `into` when `keep`.
    /// Returns the objects' names, which is all the walk needs to go down: the bodies are
    /// either kept or not wanted, and are not kept a second time.
    async fn read(
        &self,
        collection: Collection,
        keep: bool,
        into: &mut TextSnapshot,
    ) -> Result<Vec<String>, SourceError> {
        let kind = collection.kind();
        let key = collection.key();
        self.reporter.collection_started(kind, &key);
        let mut out = Vec::new();
        let mut pages = self.reader.pages(&collection);
        while let Some(page) = pages.next().await {
            let page = page.map_err(unreadable(&key))?;
            for (name, body) in page.objects {
                if keep {
                    let clean = sanitize_text(kind, &body, self.hasher);
                    into.push(kind, &name, clean.to_json());
                }
                out.push(name);
            }
        }
        Ok(out)
    }

    /// The schema config, destinations and filters of one source, as far as they are audited.
    async fn source_subtree(&self, ws: &str, source: &str) -> Result<TextSnapshot, SourceError> {
        let mut part = TextSnapshot::default();
        if self.wants(Kind::SchemaConfigs) {
            let collection = Collection::SchemaConfig {
                ws: ws.into(),
                source: source.into(),
            };
            self.read(collection, true, &mut part).await?;
        }
        if !self.wants(Kind::Destinations) && !self.wants(Kind::DestinationFilters) {
            return Ok(part);
        }
        let destinations = Collection::Destinations {
            ws: ws.into(),
            source: source.into(),
        };
        let destinations = self
            .read(destinations, self.wants(Kind::Destinations), &mut part)
            .await?;
        if self.wants(Kind::DestinationFilters) {
            for destination in &destinations {
                let collection = Collection::Filters {
                    ws: ws.into(),
                    source: source.into(),
                    destination: leaf(destination).to_owned(),
                };
                self.read(collection, true, &mut part).await?;
            }
        }
        Ok(part)
    }

    /// The source connections of one tracking plan.
    async fn connections(&self, ws: &str, plan: &str) -> Result<TextSnapshot, SourceError> {
        let mut part = TextSnapshot::default();
        let collection = Collection::Connections {
            ws: ws.into(),
            plan: plan.into(),
        };
        self.read(collection, true, &mut part).await?;
        Ok(part)
    }
}

/// Appends the parts read at once to `snapshot` in the order they were asked for (that of a
/// walk one at a time), so the comparison sees the same order whatever finished first.
async fn append_in_order(
    snapshot: &mut TextSnapshot,
    parts: impl futures::Stream<Item = impl Future<Output = Result<TextSnapshot, SourceError>>>,
) -> Result<(), SourceError> {
    let mut parts = std::pin::pin!(parts.buffered(SUBTREES_AT_ONCE));
    while let Some(part) = parts.next().await {
        snapshot.append(part?);
    }
    Ok(())
}

/// The id of workspace `ws`, which the functions endpoints take.
async fn workspace_id<R: ConfigReader>(
    reader: &R,
    ws: &str,
    reporter: &dyn Reporter,
) -> Result<String, SourceError> {
    let collection = Collection::Workspaces;
    let key = collection.key();
    reporter.collection_started(Kind::Workspaces, &key);
    let mut pages = reader.pages(&collection);
    let mut found = None;
    while let Some(page) = pages.next().await {
        let page = page.map_err(unreadable(&key))?;
        for (name, body) in page.objects {
            if found.is_none() && leaf(&name) == ws {
                found = Some(body);
            }
        }
    }
    let workspace = found.ok_or_else(|| SourceError::UnknownWorkspace(ws.to_owned()))?;
    string_field(workspace.get(), "id").ok_or(SourceError::NoWorkspaceId)
}

/// Reads what the audit of `kinds` needs from workspace `ws`. Sources bring the functions
/// along (the mapping needs them to tell which function a source runs), and filters their
/// destinations (to know where they hang).
pub async fn read_source<R: ConfigReader>(
    reader: &R,
    ws: &str,
    kinds: &BTreeSet<Kind>,
    hasher: &SecretHasher,
    reporter: &dyn Reporter,
) -> Result<TextSnapshot, SourceError> {
    let wants = |k: Kind| kinds.contains(&k);
    let walk = Walk {
        reader,
        hasher,
        reporter,
        kinds,
    };
    let mut snapshot = TextSnapshot::default();
    if wants(Kind::Sources) || wants(Kind::Functions) {
        let ws_id = workspace_id(reader, ws, reporter).await?;
        for of_type in [FunctionType::Source, FunctionType::Destination] {
            let collection = Collection::Functions {
                ws_id: ws_id.clone(),
                of_type,
            };
            walk.read(collection, true, &mut snapshot).await?;
        }
    }
    let per_source = [
        Kind::SchemaConfigs,
        Kind::Destinations,
        Kind::DestinationFilters,
    ];
    if wants(Kind::Sources) || per_source.iter().any(|k| wants(*k)) {
        let sources = Collection::Sources { ws: ws.into() };
        let sources = walk
            .read(sources, wants(Kind::Sources), &mut snapshot)
            .await?;
        if per_source.iter().any(|k| wants(*k)) {
            let parts = stream::iter(&sources).map(|name| walk.source_subtree(ws, leaf(name)));
            append_in_order(&mut snapshot, parts).await?;
        }
    }
    if wants(Kind::TrackingPlans) || wants(Kind::TrackingPlanConnections) {
        let plans = Collection::TrackingPlans { ws: ws.into() };
        let plans = walk
            .read(plans, wants(Kind::TrackingPlans), &mut snapshot)
            .await?;
        if wants(Kind::TrackingPlanConnections) {
            let parts = stream::iter(&plans).map(|name| walk.connections(ws, leaf(name)));
            append_in_order(&mut snapshot, parts).await?;
        }
    }
    snapshot.seal();
    for (kind, count) in snapshot.counts() {
        reporter.stored(kind, count as u64);
    }
    Ok(snapshot)
}
