//! The Public API's lists as page streams: `pagination[count]`/`pagination[cursor]`,
//! `pagination.next` omitted on the last page, walked by the shared [`crate::http::pages`]
//! walker.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;

use super::wire::PageParts;
use super::{ProjectedObject, PublicApiError, PublicClient, PublicObject, Read};
use crate::http::pages::{self, Fetched, Runaway};

/// One page of a Public API list (with `totalEntries` when the API gives it).
pub type Page = pages::Page<PublicObject>;

/// The pages of one Public API list, fetched on demand.
pub type Pages = pages::Pages<PublicObject, PublicApiError>;

/// The pages of one Public API list, each object cut to a few fields as it is read.
pub type ProjectedPages = pages::Pages<ProjectedObject, PublicApiError>;

pub(super) fn walk(client: PublicClient, read: Read) -> Pages {
    let max_pages = client.inner.max_pages;
    walk_with(read, max_pages, move |read, cursor| {
        let client = client.clone();
        async move { client.fetch_page(&read, cursor.as_deref()).await }.boxed()
    })
}

pub(super) fn walk_projected(
    client: PublicClient,
    read: Read,
    fields: &'static [&'static str],
) -> ProjectedPages {
    let max_pages = client.inner.max_pages;
    walk_with(read, max_pages, move |read, cursor| {
        let client = client.clone();
        async move {
            client
                .fetch_projected_page(&read, cursor.as_deref(), fields)
                .await
        }
        .boxed()
    })
}

fn walk_with<T: Send + 'static>(
    read: Read,
    max_pages: usize,
    fetch: impl Fn(Read, Option<String>) -> BoxFuture<'static, Result<PageParts<T>, PublicApiError>>
    + Send
    + Sync
    + 'static,
) -> pages::Pages<T, PublicApiError> {
    let runaway_read = read.clone();
    pages::walk(
        Arc::new(move |cursor: Option<String>| {
            let page = fetch(read.clone(), cursor);
            async move {
                let (objects, next, total_entries) = page.await?;
                Ok(Fetched {
                    objects,
                    next,
                    total_entries,
                })
            }
            .boxed()
        }),
        Arc::new(move |why, pages| match why {
            Runaway::RepeatedCursor(cursor) => PublicApiError::RepeatedCursor {
                operation: runaway_read.operation,
                resource: runaway_read.resource(),
                // Shown in the message: quoted like a body, as it comes from the server.
                cursor: crate::http::error::excerpt(cursor.as_bytes()),
                pages,
            },
            why => PublicApiError::EndlessList {
                operation: runaway_read.operation,
                resource: runaway_read.resource(),
                why,
                pages,
            },
        }),
        max_pages,
    )
}
