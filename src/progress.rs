//! Progress reporting hooks. The library reports work done; the CLI decides whether to draw a
//! bar (only on a terminal, never with `--quiet`).

/// Receives progress from long operations. All methods default to doing nothing.
pub trait Progress: Sync {
    /// A phase starts with `total` units of work (bytes).
    fn begin(&self, _phase: &'static str, _total: u64) {}
    /// `amount` more units are done.
    fn advance(&self, _amount: u64) {}
    /// The phase is over.
    fn finish(&self) {}
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {}
