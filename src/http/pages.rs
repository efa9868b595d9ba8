//! Walking a paginated list, as a stream of pages: one walker for both APIs, which differ only
//! in how a page is fetched and how a repeated cursor is reported.
//!
//! Pages are fetched one at a time, only when the consumer asks for the next: the cursor of page
//! n+1 is in page n, so a list cannot be fetched in parallel anyway, and a consumer that stores
//! each page can do so before the next is requested. The walk ends when a page has no next
//! cursor. A list that would not end is stopped with an error ([`Runaway`]) instead of being
//! walked forever, or until memory runs out:
//!
//! - a cursor seen before (a server that hands back an old cursor);
//! - more than [`MAX_EMPTY_PAGES`] empty pages in a row that still name a next page (a server
//!   whose cursor moves but never reaches anything);
//! - more than the client's page limit ([`MAX_PAGES`] by default: a server that invents a new
//!   cursor and new objects forever).

use std::collections::HashSet;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, Stream, TryStreamExt};

/// The most pages one list may have. At 100 to 200 items a page that is a million objects or
/// more, far beyond any workspace (the largest catalog is under 1,000 items, the large
/// simulated workspace 10,000 resources over all lists), and at the Config API's 200 requests
/// a minute under an hour of requests before a runaway list is stopped.
pub const MAX_PAGES: usize = 10_000;

/// Empty pages in a row, each with a next cursor, before a list is taken for one that never
/// ends. An API may hand out an empty page with a cursor once (filtered items, a page boundary
/// on the last item); ten in a row is a server walking nowhere.
pub const MAX_EMPTY_PAGES: usize = 10;

/// Why a list was stopped before its last page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runaway {
    /// The cursor was handed out before.
    RepeatedCursor(String),
    /// More pages than the limit.
    TooManyPages { limit: usize },
    /// This many empty pages in a row, each naming a next page.
    EmptyPages { count: usize },
}

impl fmt::Display for Runaway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RepeatedCursor(cursor) => write!(
                f,
                "the cursor `{}` came back again",
                super::error::excerpt(cursor.as_bytes())
            ),
            Self::TooManyPages { limit } => write!(
                f,
                "the list goes on past {limit} pages, more than any workspace holds"
            ),
            Self::EmptyPages { count } => {
                write!(f, "{count} empty pages in a row each named a next page")
            }
        }
    }
}

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

/// The error for a list stopped before its end, given why and the pages read so far.
pub type RunawayError<E> = Arc<dyn Fn(Runaway, usize) -> E + Send + Sync>;

struct Walk<T, E> {
    fetch: FetchPage<T, E>,
    runaway: RunawayError<E>,
    max_pages: usize,
    cursor: Option<String>,
    seen: HashSet<String>,
    pages: usize,
    empty_in_a_row: usize,
}

/// Walks a list page by page with `fetch`, for at most `max_pages` pages, stopping a list that
/// would not end with `runaway` (see the module doc).
pub fn walk<T: Send + 'static, E: Send + 'static>(
    fetch: FetchPage<T, E>,
    runaway: RunawayError<E>,
    max_pages: usize,
) -> Pages<T, E> {
    let start = Walk {
        fetch,
        runaway,
        max_pages,
        cursor: None,
        seen: HashSet::new(),
        pages: 0,
        empty_in_a_row: 0,
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
        walk.empty_in_a_row = if page.objects.is_empty() {
            walk.empty_in_a_row + 1
        } else {
            0
        };
        let state = match fetched.next {
            None => None,
            Some(cursor) if !walk.seen.insert(cursor.clone()) => {
                return Err((walk.runaway)(Runaway::RepeatedCursor(cursor), walk.pages));
            }
            Some(_) if walk.empty_in_a_row >= MAX_EMPTY_PAGES => {
                let count = walk.empty_in_a_row;
                return Err((walk.runaway)(Runaway::EmptyPages { count }, walk.pages));
            }
            Some(_) if walk.pages >= walk.max_pages => {
                let limit = walk.max_pages;
                return Err((walk.runaway)(Runaway::TooManyPages { limit }, walk.pages));
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

#[cfg(test)]
mod tests {
    use super::*;
    use futures::{FutureExt, StreamExt};

    type Walked = Vec<Result<usize, (Runaway, usize)>>;

    /// Walks a list whose page at cursor `n` is `page(n)`: its item count and whether it has a
    /// next page (cursor `n + 1`).
    async fn walked(page: fn(usize) -> (usize, bool), max_pages: usize) -> Walked {
        let fetch: FetchPage<u8, (Runaway, usize)> = Arc::new(move |cursor: Option<String>| {
            let n: usize = cursor.map_or(0, |c| c.parse().unwrap());
            let (items, more) = page(n);
            async move {
                Ok(Fetched {
                    objects: vec![0; items],
                    next: more.then(|| (n + 1).to_string()),
                    total_entries: None,
                })
            }
            .boxed()
        });
        walk(fetch, Arc::new(|why, pages| (why, pages)), max_pages)
            .map(|page| page.map(|p| p.objects.len()))
            .collect()
            .await
    }

    #[tokio::test]
    async fn a_list_that_invents_pages_forever_stops_at_the_limit() {
        let pages = walked(|_| (1, true), 25).await;
        // The 25th page is read, and its next cursor refused.
        assert_eq!(pages.len(), 25);
        assert_eq!(
            pages.last().unwrap().as_ref().unwrap_err(),
            &(Runaway::TooManyPages { limit: 25 }, 25)
        );
    }

    #[tokio::test]
    async fn empty_pages_that_lead_nowhere_stop_the_walk() {
        let pages = walked(|n| (usize::from(n == 0), true), 1000).await;
        assert_eq!(
            pages.last().unwrap().as_ref().unwrap_err(),
            &(Runaway::EmptyPages { count: 10 }, 11)
        );
        // A few empty pages on the way to the end are fine.
        let pages = walked(|n| (usize::from(n % 4 == 0), n < 30), 1000).await;
        assert!(pages.iter().all(Result::is_ok), "{pages:?}");
        assert_eq!(pages.len(), 31);
    }
}
