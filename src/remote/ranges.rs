//! Reading many pieces of remote packs at once: neighbouring pieces of a pack are merged into
//! one ranged request, so fetching a thousand small objects costs a few requests.

use std::collections::HashMap;
use std::ops::Range;

use futures::StreamExt;

use super::client::Client;
use super::layout;
use crate::error::Result;
use crate::id::Hash;

/// Pieces of a pack closer than this are read in one request.
const MERGE_GAP: u64 = 256 << 10;
/// The longest single ranged read.
const MAX_REQUEST: u64 = 16 << 20;
/// At most this many bytes of spans are being received at once (in MiB), whatever the
/// parallelism: many small reads run together, a few large ones take turns.
const IN_FLIGHT_MIB: u32 = 64;

/// One ranged read of a pack and the pieces it brings.
pub struct Request<T> {
    pack: Hash,
    span: Range<u64>,
    pieces: Vec<(T, Range<u64>)>,
}

/// Plans the requests that read `pieces` (each a pack, a label and a byte range of the pack).
pub fn merge<T>(pieces: impl IntoIterator<Item = (Hash, T, Range<u64>)>) -> Vec<Request<T>> {
    let mut by_pack: HashMap<Hash, Vec<(T, Range<u64>)>> = HashMap::new();
    for (pack, label, range) in pieces {
        by_pack.entry(pack).or_default().push((label, range));
    }
    let mut requests = Vec::new();
    for (pack, mut members) in by_pack {
        members.sort_by_key(|(_, range)| range.start);
        let mut current: Option<Request<T>> = None;
        for (label, range) in members {
            match &mut current {
                Some(request)
                    if range.start >= request.span.end
                        && range.start - request.span.end <= MERGE_GAP
                        && range.end - request.span.start <= MAX_REQUEST =>
                {
                    request.span.end = range.end;
                    request.pieces.push((label, range));
                }
                _ => {
                    requests.extend(current.take());
                    current = Some(Request {
                        pack,
                        span: range.clone(),
                        pieces: vec![(label, range)],
                    });
                }
            }
        }
        requests.extend(current);
    }
    requests
}

/// Runs the requests, many at once, handing every piece to `take` as it arrives (so a large
/// span is freed as soon as its pieces are taken); returns what `take` made of them.
pub async fn read<T, R>(
    client: &Client,
    requests: Vec<Request<T>>,
    take: impl Fn(T, &[u8]) -> R,
) -> Result<Vec<R>> {
    let take = &take;
    let budget = &tokio::sync::Semaphore::new(IN_FLIGHT_MIB as usize);
    let done: Vec<Result<Vec<R>>> =
        futures::stream::iter(requests.into_iter().map(|request| async move {
            let Request { pack, span, pieces } = request;
            let mib = (span.end - span.start).div_ceil(1 << 20).max(1);
            let _permit = budget
                .acquire_many(mib.min(u64::from(IN_FLIGHT_MIB)) as u32)
                .await
                .expect("the budget is never closed");
            let bytes = client
                .get_range(&layout::pack_key(&pack), span.clone())
                .await?;
            Ok(pieces
                .into_iter()
                .map(|(label, range)| {
                    let at = (range.start - span.start) as usize;
                    let end = (range.end - span.start) as usize;
                    take(label, &bytes[at..end])
                })
                .collect())
        }))
        .buffer_unordered(client.jobs)
        .collect()
        .await;
    let mut out = Vec::new();
    for part in done {
        out.extend(part?);
    }
    Ok(out)
}
