//! Re-reading the source: the audited kinds of one workspace, read again through the Config API
//! (any [`ConfigReader`]) into a [`TextSnapshot`], as `export` would store them. The bodies are
//! kept as JSON text: the whole source waits for the target to be read, and text takes a
//! fraction of the memory of parsed values.
//!
//! Why not the ledger's snapshot: the audit checks the target against the source *as it is
//! now*, so a change made in the source after the export shows up as a difference instead of
//! being hidden by a stale copy.
//!
//! Invariants:
//! - **Read-only.** Only [`ConfigReader::pages`] is called, which cannot write.
//! - **Secrets never enter the audit.** Every object passes through [`sanitize`] before it is
//!   kept, exactly as the export does: secret values become markers, so the mapping turns them
//!   into `$secret` placeholders and no later step can show one.
//! - Collections are read in the export's order; a collection that cannot be read stops the
//!   audit (a partial source would report objects as unexpected that are merely unread).

use std::collections::BTreeSet;

use futures::StreamExt;
use serde_json::Value;

use crate::export::{Collection, ConfigReader, FunctionType, ReadError};
use crate::mapping::TextSnapshot;
use crate::model::Kind;
use crate::progress::Reporter;
use crate::secrets::{SecretHasher, sanitize};

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

fn leaf(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

struct Walk<'a, R> {
    reader: &'a R,
    hasher: &'a SecretHasher,
    reporter: &'a dyn Reporter,
    snapshot: TextSnapshot,
}

impl<R: ConfigReader> Walk<'_, R> {
    /// Reads a whole collection; keeps its objects (sanitized) in the snapshot when `keep`.
    /// Returns the objects' names, which is all the walk needs to go down: the bodies are
    /// either in the snapshot or not wanted, and are not kept a second time.
    async fn read(
        &mut self,
        collection: Collection,
        keep: bool,
    ) -> Result<Vec<String>, SourceError> {
        let kind = collection.kind();
        let key = collection.key();
        self.reporter.collection_started(kind, &key);
        let mut out = Vec::new();
        let mut pages = self.reader.pages(&collection);
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e: ReadError| SourceError::Read {
                collection: key.clone(),
                message: e.message,
            })?;
            for (name, body) in page.objects {
                if keep {
                    let clean = sanitize(kind, body, self.hasher);
                    self.snapshot.push(kind, name.clone(), clean.to_json());
                }
                out.push(name);
            }
        }
        Ok(out)
    }
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
        let page = page.map_err(|e: ReadError| SourceError::Read {
            collection: key.clone(),
            message: e.message,
        })?;
        for (name, body) in page.objects {
            if found.is_none() && leaf(&name) == ws {
                found = Some(body);
            }
        }
    }
    let workspace = found.ok_or_else(|| SourceError::UnknownWorkspace(ws.to_owned()))?;
    workspace
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(SourceError::NoWorkspaceId)
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
    let mut walk = Walk {
        reader,
        hasher,
        reporter,
        snapshot: TextSnapshot::default(),
    };
    if wants(Kind::Sources) || wants(Kind::Functions) {
        let ws_id = workspace_id(reader, ws, reporter).await?;
        for of_type in [FunctionType::Source, FunctionType::Destination] {
            let collection = Collection::Functions {
                ws_id: ws_id.clone(),
                of_type,
            };
            walk.read(collection, true).await?;
        }
    }
    let per_source = [
        Kind::SchemaConfigs,
        Kind::Destinations,
        Kind::DestinationFilters,
    ];
    if wants(Kind::Sources) || per_source.iter().any(|k| wants(*k)) {
        let sources = walk
            .read(Collection::Sources { ws: ws.into() }, wants(Kind::Sources))
            .await?;
        for name in &sources {
            let source = leaf(name).to_owned();
            if wants(Kind::SchemaConfigs) {
                let collection = Collection::SchemaConfig {
                    ws: ws.into(),
                    source: source.clone(),
                };
                walk.read(collection, true).await?;
            }
            if !wants(Kind::Destinations) && !wants(Kind::DestinationFilters) {
                continue;
            }
            let destinations = walk
                .read(
                    Collection::Destinations {
                        ws: ws.into(),
                        source: source.clone(),
                    },
                    wants(Kind::Destinations),
                )
                .await?;
            if wants(Kind::DestinationFilters) {
                for destination in &destinations {
                    let collection = Collection::Filters {
                        ws: ws.into(),
                        source: source.clone(),
                        destination: leaf(destination).to_owned(),
                    };
                    walk.read(collection, true).await?;
                }
            }
        }
    }
    if wants(Kind::TrackingPlans) || wants(Kind::TrackingPlanConnections) {
        let plans = walk
            .read(
                Collection::TrackingPlans { ws: ws.into() },
                wants(Kind::TrackingPlans),
            )
            .await?;
        if wants(Kind::TrackingPlanConnections) {
            for name in &plans {
                let collection = Collection::Connections {
                    ws: ws.into(),
                    plan: leaf(name).to_owned(),
                };
                walk.read(collection, true).await?;
            }
        }
    }
    for (kind, count) in walk.snapshot.counts() {
        reporter.stored(kind, count as u64);
    }
    Ok(walk.snapshot)
}
