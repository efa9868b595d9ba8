//! Re-reading the source: the audited kinds of one workspace, read again through the Config API
//! (any [`ConfigReader`]) into a [`Snapshot`], as `export` would store them.
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
//! - The snapshot holds the objects in the export's order, although the subtrees of a few
//!   sources (and tracking plans) are read at once ([`READS_AT_ONCE`]) to hide the requests'
//!   latency; a collection that cannot be read stops the audit (a partial source would report
//!   objects as unexpected that are merely unread).

use std::collections::BTreeSet;

use futures::StreamExt;
use serde_json::Value;

use crate::export::{Collection, ConfigReader, FunctionType, ReadError};
use crate::mapping::Snapshot;
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

/// How many sources (and tracking plans) have their collections read at once. Reading one
/// after another would add every request's latency to the rate limit's pacing; a few at once
/// hide the latency, and the client's rate limiter sets the pace whatever this is (the export
/// reads the same subtrees with the same default).
pub const READS_AT_ONCE: usize = 4;

/// What reading a collection needs; shared by the reads in flight.
struct Reading<'a, R> {
    reader: &'a R,
    hasher: &'a SecretHasher,
    reporter: &'a dyn Reporter,
}

/// Objects to keep, in the order they were read.
type Kept = Vec<(Kind, String, Value)>;

impl<R: ConfigReader> Reading<'_, R> {
    /// Reads a whole collection, every object sanitized.
    async fn read(&self, collection: Collection) -> Result<Vec<(String, Value)>, SourceError> {
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
                let clean = sanitize(kind, body, self.hasher).body().clone();
                out.push((name, clean));
            }
        }
        Ok(out)
    }

    /// Reads a collection and keeps all of it.
    async fn keep(&self, collection: Collection, kept: &mut Kept) -> Result<(), SourceError> {
        let kind = collection.kind();
        for (name, body) in self.read(collection).await? {
            kept.push((kind, name, body));
        }
        Ok(())
    }

    /// One source's schema config, destinations and their filters, as far as `kinds` wants them.
    async fn source_subtree(
        &self,
        ws: &str,
        source: String,
        kinds: &BTreeSet<Kind>,
    ) -> Result<Kept, SourceError> {
        let wants = |k: Kind| kinds.contains(&k);
        let mut kept = Kept::new();
        if wants(Kind::SchemaConfigs) {
            let collection = Collection::SchemaConfig {
                ws: ws.into(),
                source: source.clone(),
            };
            self.keep(collection, &mut kept).await?;
        }
        if !wants(Kind::Destinations) && !wants(Kind::DestinationFilters) {
            return Ok(kept);
        }
        let destinations = self
            .read(Collection::Destinations {
                ws: ws.into(),
                source: source.clone(),
            })
            .await?;
        if wants(Kind::Destinations) {
            kept.extend(
                destinations
                    .iter()
                    .map(|(name, body)| (Kind::Destinations, name.clone(), body.clone())),
            );
        }
        if wants(Kind::DestinationFilters) {
            for (destination, _) in &destinations {
                let collection = Collection::Filters {
                    ws: ws.into(),
                    source: source.clone(),
                    destination: leaf(destination).to_owned(),
                };
                self.keep(collection, &mut kept).await?;
            }
        }
        Ok(kept)
    }
}

/// Reads the subtrees of `parents` [`READS_AT_ONCE`] at a time and pushes what they keep into
/// `snapshot` in the parents' order, so the snapshot is the same as a walk one by one would make.
/// The first failure stops the reading.
async fn read_subtrees<'a, F, Fut>(
    parents: &'a [(String, Value)],
    subtree: F,
    snapshot: &mut Snapshot,
) -> Result<(), SourceError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Kept, SourceError>> + 'a,
{
    let mut subtrees = futures::stream::iter(
        parents
            .iter()
            .map(|(name, _)| subtree(leaf(name).to_owned())),
    )
    .buffered(READS_AT_ONCE);
    while let Some(kept) = subtrees.next().await {
        for (kind, name, body) in kept? {
            snapshot.push(kind, name, body);
        }
    }
    Ok(())
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
) -> Result<Snapshot, SourceError> {
    let wants = |k: Kind| kinds.contains(&k);
    let reading = Reading {
        reader,
        hasher,
        reporter,
    };
    let mut snapshot = Snapshot::default();
    let mut kept = Kept::new();
    if wants(Kind::Sources) || wants(Kind::Functions) {
        let workspaces = reading.read(Collection::Workspaces).await?;
        let (_, workspace) = workspaces
            .iter()
            .find(|(name, _)| leaf(name) == ws)
            .ok_or_else(|| SourceError::UnknownWorkspace(ws.to_owned()))?;
        let ws_id = workspace
            .get("id")
            .and_then(Value::as_str)
            .ok_or(SourceError::NoWorkspaceId)?
            .to_owned();
        for of_type in [FunctionType::Source, FunctionType::Destination] {
            let collection = Collection::Functions {
                ws_id: ws_id.clone(),
                of_type,
            };
            reading.keep(collection, &mut kept).await?;
        }
    }
    let per_source = [
        Kind::SchemaConfigs,
        Kind::Destinations,
        Kind::DestinationFilters,
    ];
    let mut sources = Vec::new();
    if wants(Kind::Sources) || per_source.iter().any(|k| wants(*k)) {
        sources = reading.read(Collection::Sources { ws: ws.into() }).await?;
        if wants(Kind::Sources) {
            kept.extend(
                sources
                    .iter()
                    .map(|(name, body)| (Kind::Sources, name.clone(), body.clone())),
            );
        }
    }
    for (kind, name, body) in kept.drain(..) {
        snapshot.push(kind, name, body);
    }
    if per_source.iter().any(|k| wants(*k)) {
        read_subtrees(
            &sources,
            |source| reading.source_subtree(ws, source, kinds),
            &mut snapshot,
        )
        .await?;
    }
    if wants(Kind::TrackingPlans) || wants(Kind::TrackingPlanConnections) {
        let plans = reading
            .read(Collection::TrackingPlans { ws: ws.into() })
            .await?;
        if wants(Kind::TrackingPlans) {
            for (name, body) in &plans {
                snapshot.push(Kind::TrackingPlans, name.clone(), body.clone());
            }
        }
        if wants(Kind::TrackingPlanConnections) {
            let reading = &reading;
            read_subtrees(
                &plans,
                |plan| async move {
                    let mut kept = Kept::new();
                    let collection = Collection::Connections {
                        ws: ws.into(),
                        plan,
                    };
                    reading.keep(collection, &mut kept).await?;
                    Ok(kept)
                },
                &mut snapshot,
            )
            .await?;
        }
    }
    for (kind, objects) in &snapshot.objects {
        reporter.stored(*kind, objects.len() as u64);
    }
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use futures::stream::{self, BoxStream};
    use serde_json::json;

    use super::*;
    use crate::export::{Page, ReadError};
    use crate::progress::HiddenReporter;

    /// Collections by key; the collections of source `s0` answer late, so the concurrent reads
    /// finish out of order.
    struct SlowFirstSource(HashMap<String, Vec<(String, Value)>>);

    impl ConfigReader for SlowFirstSource {
        fn pages<'a>(
            &'a self,
            collection: &'a Collection,
        ) -> BoxStream<'a, Result<Page, ReadError>> {
            let key = collection.key();
            let objects = self.0.get(&key).cloned().unwrap_or_default();
            let late = key.contains("/sources/s0/");
            stream::once(async move {
                if late {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                if key.ends_with("/sources/s3/destinations") {
                    return Err(ReadError {
                        message: format!("GET {key}: boom"),
                        transient: false,
                        fatal: false,
                    });
                }
                Ok(Page { objects })
            })
            .boxed()
        }
    }

    fn workspace(sources: usize) -> SlowFirstSource {
        let mut collections = HashMap::new();
        let ws = "workspaces/acme";
        let names: Vec<(String, Value)> = (0..sources)
            .map(|i| {
                (
                    format!("{ws}/sources/s{i}"),
                    json!({"name": format!("s{i}")}),
                )
            })
            .collect();
        for (source, _) in &names {
            collections.insert(
                format!("{source}/destinations"),
                vec![(format!("{source}/destinations/d"), json!({"enabled": true}))],
            );
            collections.insert(
                format!("{source}/destinations/d/filters"),
                vec![(
                    format!("{source}/destinations/d/filters/f"),
                    json!({"if": "all"}),
                )],
            );
        }
        collections.insert(format!("{ws}/sources"), names);
        SlowFirstSource(collections)
    }

    #[tokio::test]
    async fn concurrent_reads_keep_the_sources_order_and_stop_at_a_failure() {
        let kinds: BTreeSet<Kind> = [Kind::Destinations, Kind::DestinationFilters].into();
        let hasher = SecretHasher::from_token("t");
        let snapshot = read_source(&workspace(3), "acme", &kinds, &hasher, &HiddenReporter)
            .await
            .unwrap();
        let names = |kind| {
            snapshot
                .of(kind)
                .iter()
                .map(|(name, _)| name.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(Kind::Destinations),
            [
                "workspaces/acme/sources/s0/destinations/d",
                "workspaces/acme/sources/s1/destinations/d",
                "workspaces/acme/sources/s2/destinations/d",
            ]
        );
        assert_eq!(names(Kind::DestinationFilters).len(), 3);
        assert!(names(Kind::DestinationFilters)[0].contains("/s0/"));

        let failed = read_source(&workspace(6), "acme", &kinds, &hasher, &HiddenReporter).await;
        assert!(
            matches!(&failed, Err(SourceError::Read { collection, .. }) if collection.ends_with("s3/destinations")),
            "{failed:?}"
        );
    }
}
