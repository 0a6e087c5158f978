//! What several fuzz targets share: one workspace per thread, made once and kept.

use std::cell::OnceCell;

/// A workspace in a temporary directory, made by `setup` on first use in this thread (libFuzzer
/// runs a target on one; a workspace cannot be shared between threads) and kept for every run.
pub fn workspace(
    setup: fn(&tempfile::TempDir, &dv::Workspace),
) -> &'static (tempfile::TempDir, dv::Workspace) {
    thread_local! {
        static WS: OnceCell<&'static (tempfile::TempDir, dv::Workspace)> = const { OnceCell::new() };
    }
    WS.with(|cell| {
        *cell.get_or_init(|| {
            let temp = tempfile::tempdir().unwrap();
            let ws = dv::Workspace::init(temp.path(), None).unwrap();
            setup(&temp, &ws);
            Box::leak(Box::new((temp, ws)))
        })
    })
}
