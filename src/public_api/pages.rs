//! Walking a cursor-paginated list, as a stream of pages.
//!
//! Pages are fetched one at a time, only when the consumer asks for the next: the cursor of page
//! n+1 is in page n, so a list cannot be fetched in parallel anyway, and a consumer that stores
//! each page can do so before the next is requested. The walk ends when `pagination.next` is
//! absent (the API omits it on the last page), null or empty. A cursor seen before ends it with
//! an error: a server that hands back an old cursor would otherwise be walked forever.

use std::collections::HashSet;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::stream::{self, BoxStream, Stream, TryStreamExt};

use super::{PublicApiError, PublicClient, PublicObject, Read};

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page {
    /// 1 for the first page.
    pub number: usize,
    pub objects: Vec<PublicObject>,
    /// True on the last page.
    pub last: bool,
    /// `pagination.totalEntries`, which the API may omit.
    pub total_entries: Option<u64>,
}

/// The pages of one list, fetched on demand: a `Stream` of `Result<Page, PublicApiError>` that
/// ends after the last page or the first error.
pub struct Pages {
    inner: BoxStream<'static, Result<Page, PublicApiError>>,
}

impl fmt::Debug for Pages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pages")
    }
}

impl Stream for Pages {
    type Item = Result<Page, PublicApiError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl Pages {
    /// Every object of every page, in order.
    pub async fn all(self) -> Result<Vec<PublicObject>, PublicApiError> {
        self.try_fold(Vec::new(), |mut all, page| async move {
            all.extend(page.objects);
            Ok(all)
        })
        .await
    }
}

struct Walk {
    client: PublicClient,
    read: Read,
    cursor: Option<String>,
    seen: HashSet<String>,
    pages: usize,
}

pub(super) fn walk(client: PublicClient, read: Read) -> Pages {
    let start = Walk {
        client,
        read,
        cursor: None,
        seen: HashSet::new(),
        pages: 0,
    };
    let inner = stream::try_unfold(Some(start), |state| async move {
        let Some(mut walk) = state else {
            return Ok(None);
        };
        let (objects, next, total_entries) = walk
            .client
            .fetch_page(&walk.read, walk.cursor.as_deref())
            .await?;
        walk.pages += 1;
        let page = Page {
            number: walk.pages,
            objects,
            last: next.is_none(),
            total_entries,
        };
        let state = match next {
            None => None,
            Some(cursor) if !walk.seen.insert(cursor.clone()) => {
                return Err(PublicApiError::RepeatedCursor {
                    operation: walk.read.operation,
                    resource: walk.read.resource(),
                    cursor,
                    pages: walk.pages,
                });
            }
            Some(cursor) => {
                walk.cursor = Some(cursor);
                Some(walk)
            }
        };
        Ok(Some((page, state)))
    });
    Pages {
        inner: Box::pin(inner),
    }
}
