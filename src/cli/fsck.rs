//! `dv fsck`

use super::error::CliError;
use super::ui::{Ui, human_bytes, plural};
use super::{SHORT_ID, open_workspace};

/// Re-hash every object and check every reference; report damage by object, version and path
#[derive(clap::Args)]
pub struct Args {
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace()?;
    let progress = ui.progress();
    let report = dv::fsck::check(&ws, ui.fetch, &progress)?;
    let remote = report.remote.clone();
    if args.json {
        ui.json(&report)?;
    } else {
        let mut text = String::new();
        for finding in report.damage() {
            let problem = match finding.problem {
                dv::fsck::Problem::Corrupt => "corrupt",
                _ => "missing",
            };
            text.push_str(&format!(
                "{problem} {} {}: {}\n",
                finding.kind, finding.id, finding.reason
            ));
            for a in &finding.affects {
                let path = if a.path.is_empty() {
                    "(root)".to_string()
                } else {
                    a.path.clone()
                };
                text.push_str(&format!(
                    "  in {} {}@{}: {path}\n",
                    a.version.short(SHORT_ID),
                    a.dataset,
                    a.stage
                ));
            }
        }
        for pack in &report.broken_packs {
            text.push_str(&format!("unreadable pack {}: {}\n", pack.pack, pack.reason));
        }
        for tag in &report.dangling_tags {
            text.push_str(&format!("dangling tag {tag}\n"));
        }
        for tag in &report.damaged_tags {
            text.push_str(&format!("damaged tag file {tag}\n"));
        }
        ui.out(text)?;
        let count = |problem| {
            report
                .findings
                .iter()
                .filter(|f| f.problem == problem)
                .count()
        };
        let elsewhere = count(dv::fsck::Problem::NotLocal);
        let collected = count(dv::fsck::Problem::Collected);
        if collected > 0 {
            ui.status(format!(
                "{} of retired versions {} removed by gc, as intended.",
                plural(collected as u64, "object"),
                if collected == 1 { "was" } else { "were" },
            ));
        }
        if let Some(remote) = remote.filter(|_| elsewhere > 0) {
            ui.status(format!(
                "{} not fetched yet {} on remote {remote}, which holds every version needing them.",
                plural(elsewhere as u64, "object"),
                if elsewhere == 1 { "is" } else { "are" },
            ));
        }
        ui.status(format!(
            "Checked {} ({}) holding {}.",
            plural(report.objects, "object"),
            human_bytes(report.bytes),
            plural(report.versions, "version")
        ));
    }
    if report.ok() {
        return Ok(());
    }
    Err(CliError::user(format!("The workspace has {}", plural(report.problems() as u64, "problem")))
        .hinted("Restore the damaged objects from a backup or a remote copy; data not listed above is intact."))
}
