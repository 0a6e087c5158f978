//! Materializing a lock file: checking out every pinned version to the path the training code
//! expects, writing only what is not already correct.

use std::path::{Path, PathBuf};

use crate::checkout::{CheckoutReport, CheckoutRequest, checkout, checkout_confined};
use crate::error::{Error, Result};
use crate::pin::{Pin, read_lock, target_dir};
use crate::progress::Progress;
use crate::workspace::Workspace;

/// Where each selected pin goes, checked before anything is written.
pub fn plan(
    ws: &Workspace,
    lock: &Path,
    names: &[String],
    to: Option<&Path>,
) -> Result<Vec<(Pin, PathBuf)>> {
    let file = read_lock(ws, lock, false)?;
    let pins = file.select(lock, names)?;
    let mut planned = Vec::new();
    for pin in pins {
        if ws.index.version(&pin.id)?.is_none() {
            return Err(Error::PinnedVersionMissing {
                lock: lock.to_path_buf(),
                name: pin.name.clone(),
                id: pin.id,
            });
        }
        let target = match to {
            Some(dir) => crate::fs_util::absolute(&dir.join(&pin.name))?,
            None => target_dir(ws, lock, &pin)?,
        };
        planned.push((pin, target));
    }
    Ok(planned)
}

/// Checks out every selected pin (all when `names` is empty) to its path, or below `to`.
pub fn materialize(
    ws: &Workspace,
    lock: &Path,
    names: &[String],
    to: Option<&Path>,
    force: bool,
    progress: &dyn Progress,
) -> Result<Vec<(Pin, CheckoutReport)>> {
    let planned = plan(ws, lock, names, to)?;
    let mut reports = Vec::new();
    for (pin, target) in planned {
        let request = CheckoutRequest {
            id: pin.id,
            to: Some(target),
            force,
        };
        // A lock file names its paths: they are reached without following symlinks. A `--to`
        // directory is the user's own.
        let report = match to {
            Some(_) => checkout(ws, &request, progress)?,
            None => checkout_confined(ws, &request, progress)?,
        };
        reports.push((pin, report));
    }
    Ok(reports)
}
