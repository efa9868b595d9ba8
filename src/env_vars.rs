//! Every environment variable segbridge reads, in one place, so that the documentation and the
//! code cannot disagree about their names.

/// The Config API token. The tool reads it here (or from a file), never from a plain argument,
/// so that it does not end up in shell history or process listings. `segbridge sim` makes its
/// Config simulator accept this token when it is set.
pub const SEGMENT_CONFIG_API_TOKEN: &str = "SEGMENT_CONFIG_API_TOKEN";

/// The Public API token; same rules as [`SEGMENT_CONFIG_API_TOKEN`].
pub const SEGMENT_PUBLIC_API_TOKEN: &str = "SEGMENT_PUBLIC_API_TOKEN";

/// Any non-empty value turns colour off (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";

/// Base delay, in milliseconds, of the exponential backoff between retries (default 500). Tests
/// set it low; it never shortens a wait the server asks for (`Retry-After`).
pub use crate::http::SEGBRIDGE_RETRY_BASE_MS;
