//! `dv gc [--prune] [--grace DURATION] [--json]`

use super::error::CliError;
use super::open_workspace;
use super::ui::{Ui, human_bytes, plural};

/// Remove objects no live version needs (dry run unless --prune)
#[derive(clap::Args)]
pub struct Args {
    /// Delete them (without it, only say what would go)
    #[arg(long)]
    prune: bool,

    /// Never remove anything younger than this (0s, 90m, 2h, 14d, 2w)
    #[arg(long, value_name = "DURATION", default_value = "1d")]
    grace: String,

    /// Rewrite packs with more than this percentage of garbage bytes (0-100)
    #[arg(long, value_name = "PERCENT", default_value_t = 10, value_parser = clap::value_parser!(u8).range(0..=100))]
    max_unused: u8,

    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace()?;
    let grace = dv::gc::parse_duration(&args.grace)?;
    let report = dv::gc::gc(
        &ws,
        dv::gc::GcOptions {
            prune: args.prune,
            grace,
            max_unused: f64::from(args.max_unused) / 100.0,
        },
    )?;
    if args.json {
        return ui.json(&report);
    }
    let verb = if report.pruned {
        "Removed"
    } else {
        "Would remove"
    };
    ui.status(format!(
        "{verb} {} ({}){}; {} of {} kept.",
        plural(report.removed_objects, "object"),
        human_bytes(report.removed_bytes),
        if report.packs_removed + report.packs_rewritten > 0 {
            format!(
                ", deleting {} and rewriting {}",
                plural(report.packs_removed, "pack"),
                plural(report.packs_rewritten, "pack")
            )
        } else {
            String::new()
        },
        plural(report.live_objects, "live object"),
        plural(report.live_versions, "version"),
    ));
    let left = report.garbage_objects - report.removed_objects;
    if left > 0 {
        ui.status(format!(
            "{} no live version needs {} kept: {} younger than {}, the rest in packs with at most --max-unused garbage.",
            plural(left, "object"),
            if left == 1 { "is" } else { "are" },
            report.young_objects,
            args.grace
        ));
    }
    if !report.pruned && report.removed_objects > 0 {
        ui.status("Run `dv gc --prune` to remove them.");
    }
    Ok(())
}
