//! Walking a paginated list, as a stream of pages: one walker for both APIs, which differ only
//! in how a page is fetched and how a repeated cursor is reported.
//!
//! Pages are fetched one at a time, only when the consumer asks for the next: the cursor of page
//! n+1 is in page n, so a list cannot be fetched in parallel anyway, and a consumer that stores
//! each page can do so before the next is requested. The walk ends when a page has no next
//! cursor. A cursor seen before ends it with an error: a server that hands back an old cursor
//! would otherwise be walked forever.

use std::collections::HashSet;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, Stream, TryStreamExt};

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// 1 for the first page.
    pub number: usize,
    pub objects: Vec<T>,
    /// True on the last page.
    pub last: bool,
    /// The size of the whole list, when the API says (the Public API's `totalEntries`).
    pub total_entries: Option<u64>,
}

/// What one request for a page brought back.
pub struct Fetched<T> {
    pub objects: Vec<T>,
    /// The cursor of the next page; `None` on the last.
    pub next: Option<String>,
    pub total_entries: Option<u64>,
}

/// The pages of one list, fetched on demand: a `Stream` of `Result<Page<T>, E>` that ends after
/// the last page or the first error.
pub struct Pages<T, E> {
    inner: BoxStream<'static, Result<Page<T>, E>>,
}

impl<T, E> fmt::Debug for Pages<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pages")
    }
}

impl<T, E> Stream for Pages<T, E> {
    type Item = Result<Page<T>, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl<T: Send + 'static, E: Send + 'static> Pages<T, E> {
    /// Every object of every page, in order.
    pub async fn all(self) -> Result<Vec<T>, E> {
        self.try_fold(Vec::new(), |mut all, page| async move {
            all.extend(page.objects);
            Ok(all)
        })
        .await
    }
}

/// Fetches the page at a cursor (`None`: the first page).
pub type FetchPage<T, E> =
    Arc<dyn Fn(Option<String>) -> BoxFuture<'static, Result<Fetched<T>, E>> + Send + Sync>;

/// The error for a cursor that came back again, given the cursor and the pages read so far.
pub type RepeatedCursor<E> = Arc<dyn Fn(String, usize) -> E + Send + Sync>;

struct Walk<T, E> {
    fetch: FetchPage<T, E>,
    repeated: RepeatedCursor<E>,
    cursor: Option<String>,
    seen: HashSet<String>,
    pages: usize,
}

/// Walks a list page by page with `fetch`, refusing a repeated cursor with `repeated`.
pub fn walk<T: Send + 'static, E: Send + 'static>(
    fetch: FetchPage<T, E>,
    repeated: RepeatedCursor<E>,
) -> Pages<T, E> {
    let start = Walk {
        fetch,
        repeated,
        cursor: None,
        seen: HashSet::new(),
        pages: 0,
    };
    let inner = stream::try_unfold(Some(start), |state| async move {
        let Some(mut walk) = state else {
            return Ok(None);
        };
        let fetched = (walk.fetch)(walk.cursor.take()).await?;
        walk.pages += 1;
        let page = Page {
            number: walk.pages,
            objects: fetched.objects,
            last: fetched.next.is_none(),
            total_entries: fetched.total_entries,
        };
        let state = match fetched.next {
            None => None,
            Some(cursor) if !walk.seen.insert(cursor.clone()) => {
                return Err((walk.repeated)(cursor, walk.pages));
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
