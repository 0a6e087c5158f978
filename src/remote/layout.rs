//! Names of things on a remote, and what a listing may contain.
//!
//! ```text
//! dv-remote.json          {"format": 1}
//! packs/ID.pack, ID.idx   packs of small objects and their indexes (the local pack format)
//! objects/KIND/ID         objects too large for a pack
//! versions/ID             version objects (object files)
//! tags/NAME/ID            "tag NAME names version ID": append-only records
//! lifecycle/VERSION/ID    lifecycle events of a version (deprecated, retired...), by hash
//! locks/ID                who is writing: a push (shared) or a pruning gc (exclusive)
//! ```
//!
//! Every key a listing returns is parsed here; anything else is a remote dv did not write, and
//! is reported rather than guessed at.

use crate::error::Result;
use crate::id::Hash;
use crate::store::Kind;

use super::client::Client;

pub const MARKER: &str = "dv-remote.json";
pub const REMOTE_FORMAT: u32 = 1;
pub const PACKS: &str = "packs";
pub const OBJECTS: &str = "objects";
pub const VERSIONS: &str = "versions";
pub const TAGS: &str = "tags";
pub const LIFECYCLE: &str = "lifecycle";
pub const LOCKS: &str = "locks";

pub fn pack_key(id: &Hash) -> String {
    format!("{PACKS}/{}.pack", id.to_hex())
}

pub fn index_key(id: &Hash) -> String {
    format!("{PACKS}/{}.idx", id.to_hex())
}

pub fn object_key(kind: Kind, id: &Hash) -> String {
    format!("{OBJECTS}/{}/{}", kind.name(), id.to_hex())
}

pub fn version_key(id: &Hash) -> String {
    format!("{VERSIONS}/{}", id.to_hex())
}

pub fn tag_key(name: &str, id: &Hash) -> String {
    format!("{TAGS}/{name}/{}", id.to_hex())
}

pub fn lifecycle_key(version: &Hash, event: &Hash) -> String {
    format!("{LIFECYCLE}/{}/{}", version.to_hex(), event.to_hex())
}

pub fn lock_key(id: &Hash) -> String {
    format!("{LOCKS}/{}", id.to_hex())
}

/// A pack file or its index, from a key under `packs/`.
pub enum PackFile {
    Pack(Hash),
    Index(Hash),
}

fn unexpected(client: &Client, key: &str) -> crate::error::Error {
    client.error(format!(
        "its listing holds \"{}\", which dv never writes there: the remote is damaged or \
         not a dv remote",
        key.escape_debug()
    ))
}

pub fn parse_pack_key(client: &Client, key: &str) -> Result<PackFile> {
    let name = key.strip_prefix("packs/").unwrap_or("");
    let parsed = match name.split_once('.') {
        Some((hex, "pack")) => hex_id(hex).map(PackFile::Pack),
        Some((hex, "idx")) => hex_id(hex).map(PackFile::Index),
        _ => None,
    };
    parsed.ok_or_else(|| unexpected(client, key))
}

pub fn parse_object_key(client: &Client, key: &str) -> Result<(Kind, Hash)> {
    key.strip_prefix("objects/")
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(kind, hex)| {
            let kind = Kind::from_name(kind).filter(|k| *k != Kind::Version)?;
            Some((kind, hex_id(hex)?))
        })
        .ok_or_else(|| unexpected(client, key))
}

pub fn parse_version_key(client: &Client, key: &str) -> Result<Hash> {
    key.strip_prefix("versions/")
        .and_then(hex_id)
        .ok_or_else(|| unexpected(client, key))
}

pub fn parse_tag_key(client: &Client, key: &str) -> Result<(String, Hash)> {
    key.strip_prefix("tags/")
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(name, hex)| {
            crate::names::check("tag", name).ok()?;
            Some((name.to_string(), hex_id(hex)?))
        })
        .ok_or_else(|| unexpected(client, key))
}

pub fn parse_lifecycle_key(client: &Client, key: &str) -> Result<(Hash, Hash)> {
    key.strip_prefix("lifecycle/")
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(version, event)| Some((hex_id(version)?, hex_id(event)?)))
        .ok_or_else(|| unexpected(client, key))
}

pub fn parse_lock_key(client: &Client, key: &str) -> Result<Hash> {
    key.strip_prefix("locks/")
        .and_then(hex_id)
        .ok_or_else(|| unexpected(client, key))
}

/// An id spelled exactly as dv writes it (64 lowercase hex digits): another spelling would name
/// a key dv never reads back.
fn hex_id(text: &str) -> Option<Hash> {
    Hash::from_hex(text).filter(|id| id.to_hex() == text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory remote's client, for the error messages parsing gives.
    fn client() -> (tempfile::TempDir, Client) {
        let dir = tempfile::tempdir().unwrap();
        let spec = crate::remote::RemoteSpec {
            url: dir.path().display().to_string(),
            endpoint: None,
            region: None,
            path_style: false,
            allow_http: false,
        };
        let tuning = crate::remote::Tuning::from_env().unwrap();
        let client = Client::open("origin", &spec, tuning, false).unwrap();
        (dir, client)
    }

    #[test]
    fn keys_dv_writes_parse_back_and_nothing_else_does() {
        let (_dir, client) = client();
        let id = Hash::of(b"x");
        let hex = id.to_hex();
        assert!(matches!(
            parse_pack_key(&client, &pack_key(&id)).unwrap(),
            PackFile::Pack(p) if p == id
        ));
        assert!(matches!(
            parse_pack_key(&client, &index_key(&id)).unwrap(),
            PackFile::Index(p) if p == id
        ));
        assert_eq!(
            parse_object_key(&client, &object_key(Kind::Blob, &id)).unwrap(),
            (Kind::Blob, id)
        );
        assert_eq!(parse_version_key(&client, &version_key(&id)).unwrap(), id);
        assert_eq!(
            parse_tag_key(&client, &tag_key("release", &id)).unwrap(),
            ("release".to_string(), id)
        );
        assert_eq!(
            parse_lifecycle_key(&client, &lifecycle_key(&id, &id)).unwrap(),
            (id, id)
        );
        assert_eq!(parse_lock_key(&client, &lock_key(&id)).unwrap(), id);

        for key in [
            format!("packs/{hex}.tar"),
            format!("packs/{}.pack", hex.to_uppercase()),
            format!("objects/version/{hex}"),
            format!("objects/blob/{}", &hex[..63]),
            format!("versions/{hex}/x"),
            format!("tags/../{hex}"),
            format!("tags/release/{hex}0"),
            format!("lifecycle/{hex}"),
            "locks/".to_string(),
        ] {
            let parsed = [
                parse_pack_key(&client, &key).is_ok(),
                parse_object_key(&client, &key).is_ok(),
                parse_version_key(&client, &key).is_ok(),
                parse_tag_key(&client, &key).is_ok(),
                parse_lifecycle_key(&client, &key).is_ok(),
                parse_lock_key(&client, &key).is_ok(),
            ];
            assert_eq!(parsed, [false; 6], "{key}");
        }
        let err = parse_version_key(&client, "versions/nope").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Remote origin: its listing holds \"versions/nope\", which dv never writes there: \
             the remote is damaged or not a dv remote"
        );
    }
}
