//! What a remote records besides data: its version records, tags and lifecycle events, listed
//! by key and parsed strictly (push, pull, fetch and gc all start from these lists).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::{Remote, layout};
use crate::error::Result;
use crate::id::Hash;

/// Remote version ids and tag records (a tag name with every version a record gives it).
pub(super) type RemoteTags = BTreeMap<String, BTreeSet<Hash>>;

pub(super) fn list_records(remote: &Remote) -> Result<(HashSet<Hash>, RemoteTags)> {
    let client = &remote.client;
    let (versions, tags) = remote.block_on(async {
        futures::try_join!(client.list(layout::VERSIONS), client.list(layout::TAGS))
    })?;
    let versions = versions
        .iter()
        .map(|listed| layout::parse_version_key(client, &listed.key))
        .collect::<Result<_>>()?;
    let mut by_name = RemoteTags::new();
    for listed in tags {
        let (name, id) = layout::parse_tag_key(client, &listed.key)?;
        by_name.entry(name).or_default().insert(id);
    }
    Ok((versions, by_name))
}

/// The lifecycle events a remote holds, as (version, event) ids.
pub(super) fn list_lifecycle(remote: &Remote) -> Result<HashSet<(Hash, Hash)>> {
    let client = &remote.client;
    remote
        .block_on(client.list(layout::LIFECYCLE))?
        .iter()
        .map(|listed| layout::parse_lifecycle_key(client, &listed.key))
        .collect()
}
