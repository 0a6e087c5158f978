//! The dv command's own memory setting, and the children it starts spared from it.
//!
//! Transparent huge pages cost dv more than they give: each fresh 2 MiB page the allocator
//! touches is zeroed whole, which was 38% of a small commit's time and doubled its memory
//! (a commit of 400 tables, 12 changed: 0.04 s and 52 MB with them, 0.02 s and 25 MB
//! without; a first commit of 100,000 files 2.37 s → 2.09 s). The `dv` binary turns them off
//! for itself when it starts; a library user (Python) keeps its own setting. The flag is
//! inherited by child processes, so the commands `dv run` starts get the setting dv was
//! started with, not dv's.

use std::process::{Child, Command};
use std::sync::OnceLock;

/// Whether THP were disabled when [`disable_huge_pages`] ran (`None` before, or where the
/// setting cannot be read).
static LAUNCHED_DISABLED: OnceLock<bool> = OnceLock::new();

/// Turns transparent huge pages off for this process (the `dv` binary calls it first thing).
pub fn disable_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Ok(was) = rustix::thread::transparent_huge_pages_are_disabled()
        && LAUNCHED_DISABLED.set(was).is_ok()
        && !was
    {
        let _ = rustix::thread::disable_transparent_huge_pages(true);
    }
}

/// Starts `command` with the huge-page setting this process was launched with.
pub fn spawn(command: &mut Command) -> std::io::Result<Child> {
    let restore = LAUNCHED_DISABLED.get() == Some(&false);
    #[cfg(target_os = "linux")]
    if restore {
        let _ = rustix::thread::disable_transparent_huge_pages(false);
    }
    let child = command.spawn();
    #[cfg(target_os = "linux")]
    if restore {
        let _ = rustix::thread::disable_transparent_huge_pages(true);
    }
    child
}
