//! The Config API's lists as page streams: `page_size`/`page_token`, `next_page_token` absent
//! or `""` on the last page, walked by the shared [`crate::http::pages`] walker.

use std::sync::Arc;

use futures::FutureExt;

use super::{ConfigApiError, ConfigClient, RawObject, Request};
use crate::http::pages::{self, Fetched, Runaway};

/// One page of a Config API list.
pub type Page = pages::Page<RawObject>;

/// The pages of one Config API list, fetched on demand.
pub type Pages = pages::Pages<RawObject, ConfigApiError>;

pub(super) fn walk(client: ConfigClient, request: Request) -> Pages {
    let max_pages = client.max_pages;
    let runaway_request = request.clone();
    pages::walk(
        Arc::new(move |token: Option<String>| {
            let client = client.clone();
            let request = request.clone();
            async move {
                let (objects, next) = client.fetch_page(&request, token.as_deref()).await?;
                Ok(Fetched {
                    objects,
                    next,
                    total_entries: None,
                })
            }
            .boxed()
        }),
        Arc::new(move |why, pages| match why {
            Runaway::RepeatedCursor(token) => ConfigApiError::RepeatedCursor {
                endpoint: runaway_request.endpoint,
                resource: runaway_request.resource(),
                // Shown in the message: quoted like a body, as it comes from the server.
                token: crate::http::error::excerpt(token.as_bytes()),
                pages,
            },
            why => ConfigApiError::EndlessList {
                endpoint: runaway_request.endpoint,
                resource: runaway_request.resource(),
                why,
                pages,
            },
        }),
        max_pages,
    )
}
