//! Named crash points, so tests can kill dv at every step of publishing instead of hoping a
//! timed `kill -9` lands there.
//!
//! In debug builds (the ones tests run), `DV_FAILPOINT=NAME[=ACTION][,NAME[=ACTION]...]` makes
//! the step called NAME abort the process on the spot (`crash`, the default: no destructor
//! runs, temporary files stay behind, as after `kill -9` or a power cut) or fail with an I/O
//! error (`enospc`, `eio`), as a full or failing disk would, or wait there (`wait`) until the
//! file `DV_FAILPOINT_RELEASE` names exists. Release builds compile every point to nothing.

use std::io;

/// Every crash point, in the order a commit (then a tag, a checkout, a pin) passes them. Tests
/// iterate over this list; a test also checks that each name here occurs in the sources.
pub const POINTS: &[&str] = &[
    "object.written",
    "object.synced",
    "object.renamed",
    "batch.written",
    "batch.synced",
    "batch.loose-renamed",
    "batch.pack-renamed",
    "batch.index-renamed",
    "batch.renamed",
    "pending.synced",
    "pending.renamed",
    "version.stored",
    "version.indexed",
    "pending.removed",
    "worktree.synced",
    "worktree.renamed",
    "stat-cache.renamed",
    "tag.synced",
    "tag.renamed",
    "checkout.first-file",
    "checkout.files-written",
    "lock-file.synced",
    "lock-file.renamed",
    "consumers.renamed",
];

/// Passes the step `what.step`: nothing happens unless the environment names it.
pub fn hit(what: &str, step: &str) -> io::Result<()> {
    #[cfg(debug_assertions)]
    if let Some(spec) = std::env::var_os("DV_FAILPOINT") {
        let spec = spec.to_string_lossy();
        for item in spec.split(',') {
            let (name, action) = item.split_once('=').unwrap_or((item, "crash"));
            let matches = name
                .strip_prefix(what)
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(|rest| rest == step);
            if matches {
                match action {
                    // Holds the process here until the file DV_FAILPOINT_RELEASE names exists:
                    // lets a test run another command at exactly this step.
                    "wait" => {
                        let release = std::env::var_os("DV_FAILPOINT_RELEASE").unwrap_or_default();
                        while !std::path::Path::new(&release).exists() {
                            std::thread::sleep(std::time::Duration::from_millis(20));
                        }
                    }
                    "enospc" => return Err(io::Error::from_raw_os_error(28)),
                    "eio" => return Err(io::Error::from_raw_os_error(5)),
                    _ => std::process::abort(),
                }
            }
        }
    }
    let _ = (what, step);
    Ok(())
}
