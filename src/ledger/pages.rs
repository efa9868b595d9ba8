//! Storing the export's pages: one transaction for a [`PageBatch`], several pages at once.
//!
//! A transaction per page was most of what the export cost besides reading: each commit writes
//! the pages of the objects table and of its index that it touched to the journal, and pages
//! of a few objects each (a destination's filters) touch the same journal pages again and again.
//! A batch holds its objects as the text to store (serialized and hashed when added), not as
//! parsed values, so that a batch of a megabyte of text is about a megabyte of memory.
//!
//! What a batch stores is all or nothing: a crash leaves every page of it or none. Since a
//! collection is marked complete in the batch that stores its last page, a crash loses at most
//! the collections a batch would have completed, which a resume reads again.

use rusqlite::params;

use super::{Ledger, NewObject, Result, RunId, now, sql_error};
use crate::model::Kind;

/// One object's row, ready to store.
#[derive(Debug)]
struct Row {
    kind: Kind,
    name: String,
    parent: String,
    body: String,
    hash: String,
}

/// Pages of objects to store in one transaction, and the collections they complete.
#[derive(Debug, Default)]
pub struct PageBatch {
    rows: Vec<Row>,
    /// (collection key, the number of objects it holds), in the order they completed.
    completed: Vec<(String, u64)>,
    pages: usize,
    text: usize,
}

impl PageBatch {
    /// Adds a page of `objects` listed in `collection`; with `complete`, the number of objects
    /// the whole collection holds, also marks the collection complete.
    pub fn add(&mut self, collection: &str, objects: Vec<NewObject>, complete: Option<u64>) {
        for object in objects {
            let (body, hash) = object.body.into_json_and_hash();
            self.text += body.len();
            self.rows.push(Row {
                kind: object.kind,
                name: object.name,
                parent: object.parent,
                body,
                hash,
            });
        }
        if let Some(items) = complete {
            self.completed.push((collection.to_owned(), items));
        }
        self.pages += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.pages == 0
    }

    /// How many pages were added.
    pub fn pages(&self) -> usize {
        self.pages
    }

    /// The bytes of JSON text the batch holds.
    pub fn text_bytes(&self) -> usize {
        self.text
    }
}

impl Ledger {
    /// Stores one page of objects listed in `collection` and, when `complete` says the
    /// collection has been read to its end, marks it complete, all in one transaction: a crash
    /// leaves either the whole page or none of it. For tests, which store a page at a time (the
    /// export stores [`PageBatch`]es).
    #[cfg(test)]
    pub(crate) fn store_page(
        &mut self,
        run: RunId,
        objects: &[NewObject],
        complete: Option<(&str, u64)>,
    ) -> Result<()> {
        let mut batch = PageBatch::default();
        let collection = complete.map_or("", |(collection, _)| collection);
        batch.add(
            collection,
            objects.to_vec(),
            complete.map(|(_, items)| items),
        );
        self.store_batch(run, &batch)
    }

    /// Stores every page of `batch` and marks the collections it completes, in one
    /// transaction.
    pub fn store_batch(&mut self, run: RunId, batch: &PageBatch) -> Result<()> {
        let path = self.path.clone();
        let path = &path;
        let err = |context: String| move |source| sql_error(path, context, source);
        let tx = self
            .conn
            .transaction()
            .map_err(err("storing pages".into()))?;
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO objects (kind, name, parent, body, hash, first_run, last_run, changed_run)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6)
                     ON CONFLICT (kind, name) DO UPDATE SET
                         parent = excluded.parent,
                         last_run = excluded.last_run,
                         changed_run = CASE WHEN objects.hash = excluded.hash
                                            THEN objects.changed_run ELSE excluded.changed_run END,
                         body = excluded.body,
                         hash = excluded.hash",
                )
                .map_err(err("storing pages".into()))?;
            for row in &batch.rows {
                upsert
                    .execute(params![
                        row.kind.as_str(),
                        row.name,
                        row.parent,
                        row.body,
                        row.hash,
                        run.0,
                    ])
                    .map_err(err(format!("storing `{}`", row.name)))?;
            }
            if !batch.completed.is_empty() {
                let mut complete = tx
                    .prepare_cached(
                        "INSERT INTO collections (run, key, items, completed_at) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (run, key) DO UPDATE SET items = excluded.items,
                             completed_at = excluded.completed_at",
                    )
                    .map_err(err("completing a collection".into()))?;
                let at = now();
                for (key, items) in &batch.completed {
                    complete
                        .execute(params![run.0, key, *items as i64, at])
                        .map_err(err("completing a collection".into()))?;
                }
            }
        }
        tx.commit().map_err(err("storing pages".into()))
    }
}
