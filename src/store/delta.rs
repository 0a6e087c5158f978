//! Deltas: an object stored as a zstd frame compressed against another object's content (its
//! base) used as a reference prefix, zstd's "patch-from" mode. A file version that differs
//! from the previous one by a few edited cells costs the edits, not the file.
//!
//! The payload of a delta object is
//!
//! ```text
//! base id (32)   the object of the same kind whose content is the reference
//! seq (u32 LE)   position in the object's line of versions since the last full object
//! depth (u8)     how many deltas must be applied to rebuild it (its base's depth + 1)
//! frame          one zstd frame, compressed with the base's content as prefix
//! ```
//!
//! Bases are chosen so that a read applies few deltas while most deltas span one version:
//! positions run in lines of [`RUN`] (each object a delta against the one before, as git
//! chains them), and the first object of a run deltas against an earlier run's first object
//! chosen as skip-deltas are (Subversion's): run `q` against run `q` with its lowest set bit
//! cleared. Rebuilding the object at position `s` applies `s % RUN` deltas within its run plus
//! one per bit set in `s / RUN`, never more than [`MAX_DEPTH`]; a delta whose base would
//! exceed it, or that is not clearly smaller than the whole object, is stored whole and starts
//! a new line.

use std::io;

use zstd::zstd_safe::{CCtx, CParameter, DCtx, DParameter};

use crate::id::Hash;

/// Positions in one run of consecutive deltas. Rebuilding a level costs about a quarter of
/// decompressing the object whole (measured on a checkout: 20 M instructions per level for
/// 9 MB of CSV chunks, against 152 M for the whole checkout). With runs of 16 the newest of
/// 200 versions (10 levels) checked out 2.0 times slower than the same bytes stored whole;
/// with runs of 8 it takes at most 7 levels plus the skips, for 30% more storage on edited
/// CSVs (a run's first delta spans 8 versions or more, and every second one is stored whole).
pub const RUN: u32 = 8;

/// Most deltas a read applies to rebuild one object: a full run and 9 skips (at least 4,088
/// versions in one line before a whole copy). A read refuses anything deeper, whatever the
/// objects claim.
pub const MAX_DEPTH: u8 = 16;

/// Largest content stored as a delta (and so largest base rebuilt in memory): chunks and
/// small files are below it, and so are all but enormous trees.
pub const MAX_DELTA_CONTENT: u64 = 16 << 20;

/// Bytes before the zstd frame.
pub const PREFIX_LEN: usize = 32 + 4 + 1;

/// A delta is kept only when it is at most this fraction of the whole object: a read then pays
/// for its bases with a real saving, not a marginal one.
const KEEP_RATIO: f64 = 0.75;

/// Compression level of delta frames. Measured on CSV chunks with 0.1% of bytes edited: level
/// 3 gives the smallest frames or within 1% of them (levels 6 and 9 are no smaller) at a
/// fraction of the time (450 µs for a 400 KB chunk against 6.3 ms at level 9). Level 1 misses
/// most of a 400 KB reference but not of a small one, where it is 2–3 times faster for the
/// same frame (4 KB: 9 µs against 27 µs; 50 KB: 33 µs against 58 µs), which matters to a
/// commit of many small changed files and directories. Long-distance matching makes frames
/// larger here (the window already covers the reference) and is left off.
const LEVEL: i32 = 3;
const SMALL_LEVEL: i32 = 1;
const SMALL: usize = 128 << 10;

/// What a delta object says about its place in a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub base: Hash,
    pub seq: u32,
    pub depth: u8,
}

impl Link {
    pub fn encode(&self) -> [u8; PREFIX_LEN] {
        let mut out = [0u8; PREFIX_LEN];
        out[..32].copy_from_slice(&self.base.0);
        out[32..36].copy_from_slice(&self.seq.to_le_bytes());
        out[36] = self.depth;
        out
    }

    /// Splits a delta payload into its link and its frame.
    pub fn decode(payload: &[u8]) -> io::Result<(Link, &[u8])> {
        if payload.len() < PREFIX_LEN {
            return Err(super::invalid_data("its delta payload is truncated"));
        }
        let link = Link {
            base: Hash(payload[..32].try_into().expect("32 bytes")),
            seq: u32::from_le_bytes(payload[32..36].try_into().expect("4 bytes")),
            depth: payload[36],
        };
        if link.depth == 0 || link.depth > MAX_DEPTH || link.seq == 0 {
            return Err(super::invalid_data(format!(
                "its delta chain claims depth {} at position {} (at most {MAX_DEPTH} allowed)",
                link.depth, link.seq
            )));
        }
        Ok((link, &payload[PREFIX_LEN..]))
    }
}

/// The position a new object takes after one at `previous_seq` (0 for a whole object), and
/// the position of the base it deltas against: the previous object within a run, else the
/// skip-delta ancestor run's first object. Either is found by following bases back from the
/// previous object.
pub fn next_positions(previous_seq: u32) -> (u32, u32) {
    let seq = previous_seq.saturating_add(1);
    if !seq.is_multiple_of(RUN) {
        return (seq, seq - 1);
    }
    let run = seq / RUN;
    (seq, (run & (run - 1)) * RUN)
}

/// How many deltas rebuilding the object at `seq` applies when every link follows
/// [`next_positions`].
pub fn depth_at(seq: u32) -> u32 {
    seq % RUN + (seq / RUN).count_ones()
}

/// Window log covering a reference and the content after it.
fn window_log(base: usize, content: usize) -> u32 {
    let span = (base + content).max(1 << 10) as u64;
    (64 - (span - 1).leading_zeros()).clamp(10, 27)
}

/// Whether a delta payload of `delta_len` bytes is kept instead of a whole payload of
/// `whole_len` bytes.
pub fn worth_keeping(delta_len: usize, whole_len: usize) -> bool {
    delta_len as f64 <= whole_len as f64 * KEEP_RATIO
}

/// Whether a delta is so much smaller than the content that compressing the content whole
/// to compare cannot change the decision (zstd rarely shrinks data 16-fold), which saves
/// that compression for nearly every changed chunk and tree.
pub fn obviously_worth_keeping(delta_len: usize, content_len: usize) -> bool {
    delta_len.saturating_mul(16) <= content_len
}

/// Compresses `content` against `base` into one frame.
pub fn compress(base: &[u8], content: &[u8]) -> io::Result<Vec<u8>> {
    let mut cctx = CCtx::create();
    let set = |cctx: &mut CCtx, param| cctx.set_parameter(param).map_err(zstd_error);
    let level = if base.len() + content.len() <= SMALL {
        SMALL_LEVEL
    } else {
        LEVEL
    };
    set(&mut cctx, CParameter::CompressionLevel(level))?;
    set(
        &mut cctx,
        CParameter::WindowLog(window_log(base.len(), content.len())),
    )?;
    set(&mut cctx, CParameter::ChecksumFlag(false))?;
    cctx.ref_prefix(base).map_err(zstd_error)?;
    let mut frame = Vec::with_capacity(zstd::zstd_safe::compress_bound(content.len()));
    cctx.compress2(&mut frame, content).map_err(zstd_error)?;
    Ok(frame)
}

/// The first bytes of a zstd dictionary: a base starting with them would be read as one.
const DICTIONARY_MAGIC: [u8; 4] = 0xEC30_A437u32.to_le_bytes();

/// Rebuilds content of exactly `size` bytes from a frame and its base.
pub fn decompress(base: &[u8], frame: &[u8], size: u64) -> io::Result<Vec<u8>> {
    thread_local! {
        /// One context per thread: creating one was a twentieth of a small commit, which
        /// reads every changed directory's previous tree through a delta.
        static DCTX: std::cell::RefCell<Option<DCtx<'static>>> = const { std::cell::RefCell::new(None) };
    }
    let mut out = Vec::with_capacity(size as usize);
    let done = if base.starts_with(&DICTIONARY_MAGIC) {
        // Only a prefix reference reads such a base as plain content.
        let mut dctx = DCtx::create();
        dctx.set_parameter(DParameter::WindowLogMax(window_log(
            base.len(),
            size as usize,
        )))
        .map_err(zstd_error)?;
        dctx.ref_prefix(base).map_err(zstd_error)?;
        dctx.decompress(&mut out, frame)
    } else {
        // A base as a dictionary of raw content is the same reference as a prefix, and the
        // one-shot call writes into `out` alone (no window beyond it is allocated).
        DCTX.with_borrow_mut(|slot| {
            slot.get_or_insert_with(DCtx::create)
                .decompress_using_dict(&mut out, frame, base)
        })
    };
    done.map_err(|code| {
        super::invalid_data(format!(
            "its delta frame is damaged ({})",
            zstd_message(code)
        ))
    })?;
    if out.len() as u64 != size {
        return Err(super::invalid_data(format!(
            "its delta rebuilds {} bytes but its header declares {size}",
            out.len()
        )));
    }
    Ok(out)
}

fn zstd_message(code: usize) -> &'static str {
    zstd::zstd_safe::get_error_name(code)
}

fn zstd_error(code: usize) -> io::Error {
    io::Error::other(format!("zstd: {}", zstd_message(code)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_run_then_skip() {
        // Within a run, each object deltas against the one before.
        let bases: Vec<u32> = (0..6).map(|p| next_positions(p).1).collect();
        assert_eq!(bases, [0, 1, 2, 3, 4, 5]);
        // Run starts skip back: run 1 → 0, 2 → 0, 3 → 2, 4 → 0, 6 → 4.
        let starts: Vec<u32> = [1, 2, 3, 4, 6]
            .iter()
            .map(|run| next_positions(run * RUN - 1).1 / RUN)
            .collect();
        assert_eq!(starts, [0, 0, 2, 0, 4]);
        assert_eq!(depth_at(RUN * 3 + 5), 5 + 2);
        let deepest = (1..RUN * 256).map(depth_at).max().unwrap();
        assert!(deepest <= u32::from(MAX_DEPTH), "{deepest}");
    }

    /// A base that begins like a zstd dictionary is still plain content to its deltas, on
    /// the same thread as ordinary bases (the reused context keeps nothing between them).
    #[test]
    fn a_base_that_looks_like_a_dictionary_is_read_as_content() {
        let plain: Vec<u8> = (0..50_000u32)
            .flat_map(|i| (i % 977).to_le_bytes())
            .collect();
        let mut lookalike = DICTIONARY_MAGIC.to_vec();
        lookalike.extend_from_slice(&plain);
        for base in [&plain, &lookalike, &plain] {
            let mut content = base.clone();
            content[40_000] ^= 0x55;
            let frame = compress(base, &content).unwrap();
            assert!(frame.len() < 400, "{} bytes", frame.len());
            assert_eq!(
                decompress(base, &frame, content.len() as u64).unwrap(),
                content
            );
            // Against another base the frame does not rebuild the content.
            let other: Vec<u8> = base.iter().map(|b| b ^ 0xff).collect();
            let wrong = decompress(&other, &frame, content.len() as u64);
            assert!(wrong.map_or(true, |got| got != content));
        }
    }

    #[test]
    fn a_delta_round_trips_and_is_kept_only_when_clearly_smaller() {
        let base: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 1000).to_le_bytes())
            .collect();
        let mut content = base.clone();
        content[123_456] ^= 0xff;
        content.extend_from_slice(b"appended");
        let frame = compress(&base, &content).unwrap();
        assert!(frame.len() < 200, "{} bytes", frame.len());
        assert!(obviously_worth_keeping(frame.len(), content.len()));
        assert!(worth_keeping(frame.len(), 300) && !worth_keeping(frame.len(), 100));
        assert_eq!(
            decompress(&base, &frame, content.len() as u64).unwrap(),
            content
        );
        assert!(decompress(&base, &frame, content.len() as u64 + 1).is_err());
    }
}
