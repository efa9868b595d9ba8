//! Walking a list endpoint page by page, as a stream.
//!
//! Pages are fetched one at a time, only when the consumer asks for the next (the cursor of page
//! n+1 is in page n, so a list cannot be fetched in parallel anyway), which lets the exporter
//! store each page before the next is requested. The walk ends when `next_page_token` is absent
//! or `""`. A token seen before ends it with an error: a server that hands back an old cursor
//! would otherwise be walked forever.

use std::collections::HashSet;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::stream::{self, BoxStream, Stream, TryStreamExt};

use super::{ConfigApiError, ConfigClient, RawObject, Request};

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page {
    /// 1 for the first page.
    pub number: usize,
    pub objects: Vec<RawObject>,
    /// True on the last page.
    pub last: bool,
}

/// The pages of one list, fetched on demand. A `Stream` of `Result<Page, ConfigApiError>` that
/// ends after the last page or the first error.
pub struct Pages {
    inner: BoxStream<'static, Result<Page, ConfigApiError>>,
}

impl fmt::Debug for Pages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pages")
    }
}

impl Stream for Pages {
    type Item = Result<Page, ConfigApiError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl Pages {
    /// Every object of every page, in order.
    pub async fn all(self) -> Result<Vec<RawObject>, ConfigApiError> {
        self.try_fold(Vec::new(), |mut all, page| async move {
            all.extend(page.objects);
            Ok(all)
        })
        .await
    }
}

struct Walk {
    client: ConfigClient,
    request: Request,
    token: Option<String>,
    seen: HashSet<String>,
    pages: usize,
}

pub(super) fn walk(client: ConfigClient, request: Request) -> Pages {
    let start = Walk {
        client,
        request,
        token: None,
        seen: HashSet::new(),
        pages: 0,
    };
    let inner = stream::try_unfold(Some(start), |state| async move {
        let Some(mut walk) = state else {
            return Ok(None);
        };
        let (objects, next) = walk
            .client
            .fetch_page(&walk.request, walk.token.as_deref())
            .await?;
        walk.pages += 1;
        let page = Page {
            number: walk.pages,
            objects,
            last: next.is_none(),
        };
        let state = match next {
            None => None,
            Some(token) if !walk.seen.insert(token.clone()) => {
                return Err(ConfigApiError::RepeatedCursor {
                    endpoint: walk.request.endpoint,
                    resource: walk.request.resource(),
                    token,
                    pages: walk.pages,
                });
            }
            Some(token) => {
                walk.token = Some(token);
                Some(walk)
            }
        };
        Ok(Some((page, state)))
    });
    Pages {
        inner: Box::pin(inner),
    }
}
