//! `dv gc [--remote NAME] [--prune] [--grace DURATION] [--json]`

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

    /// Also merge every pack into as few as hold them (a commit writes one or two; many slow
    /// every look-up). With --prune, old garbage is left out; without, nothing is removed
    #[arg(long, conflicts_with = "remote")]
    repack: bool,

    /// Collect on this remote instead of here (its retired versions' data, by the lifecycle
    /// events pushed to it)
    #[arg(long, value_name = "NAME")]
    remote: Option<String>,

    /// Requests to run at once on the remote (default: DV_REMOTE_JOBS, else 16)
    #[arg(long, short, value_name = "N", requires = "remote", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,

    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace()?;
    let grace = dv::gc::parse_duration(&args.grace)?;
    let options = dv::gc::GcOptions {
        prune: args.prune,
        grace,
        max_unused: f64::from(args.max_unused) / 100.0,
        repack: args.repack,
    };
    let (report, again) = match &args.remote {
        None => (dv::gc::gc(&ws, options)?, "dv gc --prune".to_string()),
        Some(name) => {
            let remote = dv::remote::Remote::open(&ws, Some(name), false)?
                .with_jobs(args.jobs.map(usize::from));
            let report = dv::remote::gc(&ws, &remote, options, &ui.progress())?;
            if args.json {
                return ui.json(&report);
            }
            if report.leftovers_removed > 0 {
                ui.status(format!(
                    "{} {} left by an interrupted push or gc.",
                    if report.gc.pruned {
                        "Removed"
                    } else {
                        "Would remove"
                    },
                    plural(report.leftovers_removed, "file")
                ));
            }
            (report.gc, format!("dv gc --remote {name} --prune"))
        }
    };
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
    if let Some(repacked) = report.repacked {
        ui.status(format!(
            "Repacked {} ({}) into {} ({}).",
            plural(repacked.packs_before, "pack"),
            human_bytes(repacked.bytes_before),
            plural(repacked.packs_after, "pack"),
            human_bytes(repacked.bytes_after),
        ));
    }
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
        ui.status(format!("Run `{again}` to remove them."));
    }
    Ok(())
}
