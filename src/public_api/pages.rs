//! The Public API's lists as page streams: `pagination[count]`/`pagination[cursor]`,
//! `pagination.next` omitted on the last page, walked by the shared [`crate::http::pages`]
//! walker.

use std::sync::Arc;

use futures::FutureExt;

use super::{PublicApiError, PublicClient, PublicObject, Read};
use crate::http::pages::{self, Fetched};

/// One page of a Public API list (with `totalEntries` when the API gives it).
pub type Page = pages::Page<PublicObject>;

/// The pages of one Public API list, fetched on demand.
pub type Pages = pages::Pages<PublicObject, PublicApiError>;

pub(super) fn walk(client: PublicClient, read: Read) -> Pages {
    let repeated_read = read.clone();
    pages::walk(
        Arc::new(move |cursor: Option<String>| {
            let client = client.clone();
            let read = read.clone();
            async move {
                let (objects, next, total_entries) =
                    client.fetch_page(&read, cursor.as_deref()).await?;
                Ok(Fetched {
                    objects,
                    next,
                    total_entries,
                })
            }
            .boxed()
        }),
        Arc::new(move |cursor, pages| PublicApiError::RepeatedCursor {
            operation: repeated_read.operation,
            resource: repeated_read.resource(),
            cursor,
            pages,
        }),
    )
}
