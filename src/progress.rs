//! Progress reporting hooks. The library reports work done; the CLI decides whether to draw a
//! bar (only on a terminal, never with `--quiet`).

/// What a phase counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    Objects,
}

/// Receives progress from long operations. All methods default to doing nothing.
pub trait Progress: Sync {
    /// A phase starts with `total` units of work.
    fn begin(&self, _phase: &'static str, _total: u64, _unit: Unit) {}
    /// `amount` more units are done.
    fn advance(&self, _amount: u64) {}
    /// The phase is over.
    fn finish(&self) {}
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {}
