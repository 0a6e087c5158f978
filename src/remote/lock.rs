//! Who is writing to a remote: pushes share it, a pruning gc needs it alone.
//!
//! A remote has no server to arbitrate, so writers leave lock files (`locks/ID`) and look at
//! each other's: a push writes a shared lock, a pruning gc an exclusive one; each then lists
//! the locks and backs off (deleting its own) if it sees one it cannot run beside. Because a
//! listing shows every write that finished before it began (S3, GCS, Azure and directories all
//! do), two writers that race both see at least one of the two locks, so they never run
//! together. A lock is refreshed every [`REFRESH`] while its holder runs; one not refreshed for
//! [`STALE`] (by the remote's clock) belongs to a dv that died, and is ignored and removed, as
//! is at once one left by a process of this machine that no longer runs.
//! Readers (fetch, pull, clone) take no lock: they may hold read-only credentials.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::Remote;
use super::client::Client;
use super::layout;
use crate::error::Result;
use crate::id::Hash;

/// How often a held lock is written again.
pub const REFRESH: Duration = Duration::from_secs(5 * 60);
/// A lock not written for this long belongs to a dv that stopped without removing it.
pub const STALE: Duration = Duration::from_secs(30 * 60);

/// [`REFRESH`] and [`STALE`]; debug builds (the tests') take them from
/// `DV_TEST_LOCK_REFRESH_SECS` and `DV_TEST_LOCK_STALE_SECS`, so a test can let a lock lapse in
/// seconds. Release builds always use the constants.
fn timing() -> (Duration, Duration) {
    #[cfg(debug_assertions)]
    {
        let read = |name: &str, default: Duration| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .map_or(default, Duration::from_secs)
        };
        (
            read("DV_TEST_LOCK_REFRESH_SECS", REFRESH),
            read("DV_TEST_LOCK_STALE_SECS", STALE),
        )
    }
    #[cfg(not(debug_assertions))]
    {
        (REFRESH, STALE)
    }
}
/// The largest lock file read.
const MAX_LOCK_BYTES: u64 = 4 << 10;

/// What a lock file says about its holder.
#[derive(Debug, Serialize, Deserialize)]
struct Holder {
    exclusive: bool,
    operation: String,
    host: String,
    pid: u32,
    started: String,
}

impl Holder {
    /// Whether the lock was left by a dv on this machine that is no longer running (killed,
    /// or crashed): then nobody needs to wait out [`STALE`].
    fn died_here(&self) -> bool {
        if self.host != crate::provenance::host() || self.pid == std::process::id() {
            return false;
        }
        let Some(pid) = i32::try_from(self.pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return false;
        };
        rustix::process::test_kill_process(pid).is_err_and(|e| e == rustix::io::Errno::SRCH)
    }
}

/// A lock this process holds on a remote, removed when dropped.
pub struct RemoteLock<'a> {
    remote: &'a Remote,
    key: String,
    /// When the remote last confirmed the lock (written or refreshed).
    confirmed: Arc<Mutex<Instant>>,
    refresher: tokio::task::JoinHandle<()>,
    /// The remote's clock when the lock was taken.
    pub remote_now: SystemTime,
}

impl<'a> RemoteLock<'a> {
    /// Takes a shared (`exclusive == false`) or exclusive lock for `operation`, or fails naming
    /// the holder of the lock in the way.
    pub fn acquire(remote: &'a Remote, operation: &str, exclusive: bool) -> Result<Self> {
        let client = &remote.client;
        let holder = Holder {
            exclusive,
            operation: operation.to_string(),
            host: crate::provenance::host(),
            pid: std::process::id(),
            started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        };
        let body = Bytes::from(serde_json::to_vec(&holder).expect("a lock serializes"));
        let id = Hash::of(
            format!("{}\n{:?}\n{}", holder.host, SystemTime::now(), holder.pid).as_bytes(),
        );
        let key = layout::lock_key(&id);
        remote.block_on(client.put_control(&key, body.clone()))?;
        let confirmed = Arc::new(Mutex::new(Instant::now()));
        let refresher = remote.runtime.spawn(refresh(
            client.clone(),
            key.clone(),
            body,
            Arc::clone(&confirmed),
        ));
        let mut lock = RemoteLock {
            remote,
            key,
            confirmed,
            refresher,
            remote_now: SystemTime::now(),
        };
        let listed = remote.block_on(client.list(layout::LOCKS))?;
        let Some(own) = listed.iter().find(|l| l.key == lock.key) else {
            return Err(client.error(format!(
                "the lock {} it just wrote is not listed: the remote does not show writes \
                 at once, and dv cannot share it safely",
                lock.key
            )));
        };
        lock.remote_now = own.modified;
        for other in listed.iter().filter(|l| l.key != lock.key) {
            layout::parse_lock_key(client, &other.key)?;
            let age = lock
                .remote_now
                .duration_since(other.modified)
                .unwrap_or_default();
            if age > timing().1 {
                // Its dv stopped without removing it (killed, or the machine went down).
                remote.block_on(client.delete(&other.key))?;
                continue;
            }
            let seen = match other.size > MAX_LOCK_BYTES {
                true => Seen::NotALock,
                false => read_holder(remote, &other.key),
            };
            let theirs = match seen {
                // Released since the listing, or not a lock any dv wrote (dv writes its locks
                // whole): neither holds anything.
                Seen::Gone | Seen::NotALock => continue,
                Seen::Holder(holder) if holder.died_here() => {
                    remote.block_on(client.delete(&other.key))?;
                    continue;
                }
                Seen::Holder(holder) => Some(holder),
                Seen::Unreadable => None,
            };
            // A lock that cannot be read is treated as exclusive: backing off is always safe.
            let in_the_way = exclusive || theirs.as_ref().is_none_or(|h| h.exclusive);
            if in_the_way {
                return Err(crate::error::Error::RemoteBusy {
                    remote: client.name.clone(),
                    message: busy(&theirs, other.modified, operation),
                });
            }
        }
        Ok(lock)
    }

    /// Fails if the lock may have lapsed (it could not be refreshed for a while, so another dv
    /// may have taken it as stale): called before a step that relies on holding it.
    pub fn check_held(&self) -> Result<()> {
        let confirmed = *self.confirmed.lock().expect("the lock is never poisoned");
        if confirmed.elapsed() < timing().1 / 2 {
            return Ok(());
        }
        Err(self.remote.client.error(format!(
            "its lock {} could not be refreshed for {} s, so another dv may have taken it: \
             stopped before writing anything that relies on it; run the command again",
            self.key,
            confirmed.elapsed().as_secs()
        )))
    }
}

impl Drop for RemoteLock<'_> {
    fn drop(&mut self) {
        self.refresher.abort();
        // Failing to remove it only delays others until it is stale.
        let _ = self.remote.block_on(self.remote.client.delete(&self.key));
    }
}

/// Rewrites the lock every [`REFRESH`], recording when the remote last accepted it.
async fn refresh(client: Client, key: String, body: Bytes, confirmed: Arc<Mutex<Instant>>) {
    loop {
        tokio::time::sleep(timing().0).await;
        if client.put_control(&key, body.clone()).await.is_ok() {
            *confirmed.lock().expect("the lock is never poisoned") = Instant::now();
        }
    }
}

/// What another lock file turned out to be.
enum Seen {
    Holder(Holder),
    /// Removed since it was listed.
    Gone,
    /// Not a lock dv wrote (garbage, or too large to be one).
    NotALock,
    /// Could not be read (the remote failed): its holder is unknown.
    Unreadable,
}

/// Reads another lock's holder.
fn read_holder(remote: &Remote, key: &str) -> Seen {
    match remote.block_on(remote.client.get(key, MAX_LOCK_BYTES)) {
        Ok(None) => Seen::Gone,
        Ok(Some(bytes)) => match serde_json::from_slice(&bytes) {
            Ok(holder) => Seen::Holder(holder),
            Err(_) => Seen::NotALock,
        },
        Err(_) => Seen::Unreadable,
    }
}

/// Why an operation cannot run now, naming who is in the way.
fn busy(holder: &Option<Holder>, written: SystemTime, operation: &str) -> String {
    let since = chrono::DateTime::<chrono::Utc>::from(written)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let who = match holder {
        Some(h) => format!(
            "a {} from {} (process {}, started {})",
            h.operation.escape_debug(),
            h.host.escape_debug(),
            h.pid,
            h.started.escape_debug()
        ),
        None => "another dv".to_string(),
    };
    format!(
        "it is locked by {who}, last confirmed {since}: {operation} cannot run beside it \
         (nothing was changed)"
    )
}
