//! `dv run ... -- COMMAND`, `dv runs [--failed]`, `dv rerun REV [--keep DIR]` and
//! `dv rerun --downstream OLD NEW [--dry-run]`.

use std::path::PathBuf;
use std::time::Duration;

use dv::run::history::Outcome;
use dv::run::rerun::{RerunReport, Scratch};
use dv::run::{RunObserver, RunRequest};

use super::error::CliError;
use super::ui::{Ui, human_bytes, plural};
use super::{SHORT_ID, VersionView, dataset_at_stage, open_workspace};

/// Run a transform and commit its output with what ran recorded: command, inputs, params,
/// code, environment and logs
#[derive(clap::Args)]
pub struct Args {
    /// Dataset of the new version
    #[arg(long, short)]
    dataset: String,

    /// Pipeline stage of the new version
    #[arg(long, short)]
    stage: String,

    /// An input version, put in place (and verified) before the command runs; REV=PATH
    /// chooses the directory (default: where the workspace has it, else where it was
    /// committed from). Can be repeated
    #[arg(long = "from", value_name = "REV[=PATH]", add = super::complete::rev_candidates())]
    from: Vec<String>,

    /// A parameter, given to the command as DV_PARAM_<KEY> and in DV_PARAMS (can be repeated)
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,

    /// A JSON file holding an object of parameters (--param values override it)
    #[arg(long, value_name = "FILE")]
    params_file: Option<PathBuf>,

    /// A code file to record beyond those the command line names (can be repeated)
    #[arg(long, value_name = "FILE")]
    code: Vec<PathBuf>,

    /// An environment variable whose value is recorded and set again by rerun (can be
    /// repeated)
    #[arg(long, value_name = "VAR")]
    record_env: Vec<String>,

    /// What this version is
    #[arg(long, short)]
    message: Option<String>,

    /// The directory the command writes (its DV_OUTPUT), committed when it succeeds
    #[arg(long, value_name = "DIR")]
    out: PathBuf,

    /// Commit the output even if the stage rules in dv.toml fail; the failures are recorded
    #[arg(long)]
    allow_failing: bool,

    /// Commit even if the command wrote to the workspace outside --out; where is recorded
    #[arg(long)]
    allow_writes_elsewhere: bool,

    /// Print the new version as JSON
    #[arg(long)]
    json: bool,

    /// The command and its arguments, after `--` (no shell: write `sh -c '...'` for one)
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// Prints each phase of a run and how long it took.
struct Phases<'a>(&'a Ui);

impl RunObserver for Phases<'_> {
    fn phase(&self, name: &str, took: Duration) {
        self.0
            .status(format!("{name}: {:.2} s", took.as_secs_f64()));
    }

    /// The command's own output goes to dv's stderr as it runs (dv's stdout holds only the
    /// new id, or `--json`).
    fn shown(&self) -> Box<dyn std::io::Write + Send> {
        Box::new(std::io::stderr())
    }

    fn fetched(&self, report: &dv::remote::TransferReport) {
        super::fetched(self.0, report);
    }
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace()?;
    let params = dv::params::collect(args.params_file.as_deref(), &args.params)?;
    let inputs = args
        .from
        .iter()
        .map(|spec| match spec.split_once('=') {
            Some((rev, path)) => (rev.to_string(), Some(PathBuf::from(path))),
            None => (spec.clone(), None),
        })
        .collect();
    let request = RunRequest {
        dataset: args.dataset,
        stage: args.stage,
        inputs,
        params,
        code: args.code,
        message: args.message,
        out: args.out,
        argv: args.command,
        record_env: args.record_env,
        allow_failing: args.allow_failing,
        allow_writes_elsewhere: args.allow_writes_elsewhere,
        fetch: ui.fetch,
    };
    let progress = ui.progress();
    let outcome = dv::run::run(&ws, &request, &progress, &Phases(ui))?;
    let commit = &outcome.commit;
    super::warn_if_deprecated(ui, &ws, &commit.version.inputs)?;
    super::warn_if_failing(ui, &commit.version);
    if args.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            created: bool,
            run_id: &'a str,
            #[serde(flatten)]
            view: VersionView<'a>,
        }
        return ui.json(&Out {
            created: commit.created,
            run_id: &outcome.run,
            view: VersionView {
                id: commit.id,
                version: &commit.version,
                lifecycle: None,
            },
        });
    }
    ui.out(format!("{}\n", commit.id))?;
    let version = &commit.version;
    ui.status(if commit.created {
        format!(
            "Committed {} {} ({}, {}) with its run recorded.",
            dataset_at_stage(version),
            commit.id.short(SHORT_ID),
            plural(version.files, "file"),
            human_bytes(version.bytes)
        )
    } else {
        format!(
            "Nothing changed: {} is already {}, made the same way.",
            dataset_at_stage(version),
            commit.id.short(SHORT_ID)
        )
    });
    Ok(())
}

/// List recorded runs, newest first (failed ones with the end of their error log)
#[derive(clap::Args)]
pub struct RunsArgs {
    /// Only runs that failed or were refused
    #[arg(long)]
    failed: bool,

    /// Print the runs as JSON (failed runs with the end of their stdout and stderr)
    #[arg(long)]
    json: bool,
}

pub fn runs(ui: &Ui, args: RunsArgs) -> Result<(), CliError> {
    let ws = open_workspace()?;
    let runs: Vec<_> = dv::run::history::list(&ws)?
        .into_iter()
        .filter(|run| !args.failed || run.outcome.failed())
        .collect();
    let failed = |run: &dv::run::history::RunEntry| run.outcome.failed();
    if args.json {
        let mut items = Vec::new();
        for run in &runs {
            let mut item = serde_json::to_value(run).expect("a run serializes");
            if failed(run) {
                item["stdout"] = dv::run::history::log_tail(&ws, &run.id, "stdout")?.into();
                item["stderr"] = dv::run::history::log_tail(&ws, &run.id, "stderr")?.into();
            }
            items.push(item);
        }
        return ui.json(&items);
    }
    if runs.is_empty() {
        ui.status(if args.failed {
            "No failed runs."
        } else {
            "No runs yet: make a version with `dv run -d DATASET -s STAGE --out DIR -- COMMAND`."
        });
        return Ok(());
    }
    let mut text = String::new();
    for run in &runs {
        let outcome = match run.outcome {
            Outcome::Committed | Outcome::Unchanged => format!(
                "{} {}",
                if run.outcome == Outcome::Committed {
                    "committed"
                } else {
                    "unchanged"
                },
                run.version.map(|id| id.short(SHORT_ID)).unwrap_or_default()
            ),
            Outcome::Failed => format!("failed (exit {})", run.exit_status),
            Outcome::ModifiedInputs => "refused: changed its inputs".to_string(),
            Outcome::CodeChanged => "refused: changed its own code".to_string(),
            Outcome::WroteElsewhere => "refused: wrote outside --out".to_string(),
        };
        text.push_str(&format!(
            "{}  {}@{}  {}  {:.1} s  {}\n    {}\n",
            run.id,
            run.dataset,
            run.stage,
            run.started_at.get(..19).unwrap_or(&run.started_at),
            run.duration_ms as f64 / 1000.0,
            outcome,
            dv::provenance::shell_words(&run.argv)
        ));
        for file in run.modified_inputs.iter().take(10) {
            text.push_str(&format!("    changed: {file}\n"));
        }
        if failed(run) {
            let log = dv::run::history::log_tail(&ws, &run.id, "stderr")?;
            let lines: Vec<&str> = log.lines().collect();
            for line in &lines[lines.len().saturating_sub(10)..] {
                text.push_str(&format!("    | {line}\n"));
            }
        }
    }
    ui.out(text)
}

/// Run a recorded command again and check it gives the recorded bytes; or, with
/// --downstream, replay every recorded run below a version with a new one in its place
#[derive(clap::Args)]
pub struct RerunArgs {
    /// The version to reproduce (with --downstream: the version being replaced)
    #[arg(add = super::complete::rev_candidates())]
    rev: String,

    /// With --downstream: the version that replaces REV
    #[arg(add = super::complete::rev_candidates(), requires = "downstream")]
    new: Option<String>,

    /// Replay every recorded run made from REV (directly or not) with NEW in its place,
    /// committing each result
    #[arg(long, requires = "new")]
    downstream: bool,

    /// With --downstream: print the plan, run nothing
    #[arg(long, requires = "downstream")]
    dry_run: bool,

    /// Run in this directory and keep it (default: a temporary one, removed afterwards)
    #[arg(long, value_name = "DIR", conflicts_with = "downstream")]
    keep: Option<PathBuf>,

    /// Print the outcome as JSON
    #[arg(long)]
    json: bool,
}

pub fn rerun(ui: &Ui, args: RerunArgs) -> Result<(), CliError> {
    let ws = open_workspace()?;
    let id = dv::revision::resolve(&ws, &args.rev)?;
    let progress = ui.progress();
    if let Some(new) = &args.new {
        let new = dv::revision::resolve(&ws, new)?;
        let steps = dv::run::rerun::replay_downstream(
            &ws,
            &id,
            &new,
            args.dry_run,
            ui.fetch,
            &progress,
            &Phases(ui),
        )?;
        if args.json {
            return ui.json(&steps);
        }
        if steps.is_empty() {
            ui.status(format!("No version was made from {}.", id.short(SHORT_ID)));
        }
        let mut text = String::new();
        for step in &steps {
            let inputs: Vec<String> = step
                .inputs
                .iter()
                .map(|i| match step.replayed_first.contains(i) {
                    true => format!("the replay of {}", i.short(SHORT_ID)),
                    false => i.short(SHORT_ID),
                })
                .collect();
            text.push_str(&format!(
                "{}@{}  {} from {}{}\n",
                step.dataset,
                step.stage,
                step.old.short(SHORT_ID),
                inputs.join(", "),
                step.new
                    .map(|new| format!(" -> {}", new.short(SHORT_ID)))
                    .unwrap_or_else(|| " (would run)".to_string())
            ));
        }
        return ui.out(text);
    }
    let report = dv::run::rerun::rerun(
        &ws,
        &id,
        args.keep.as_deref(),
        ui.fetch,
        &progress,
        &Phases(ui),
    )?;
    let identical = report.identical();
    if args.json {
        json_report(ui, &report)?;
    } else {
        text_report(ui, &ws, &report)?;
    }
    if identical {
        Ok(())
    } else {
        Err(CliError::exit_code_only())
    }
}

fn json_report(ui: &Ui, report: &RerunReport) -> Result<(), CliError> {
    #[derive(serde::Serialize)]
    struct Out<'a> {
        version: dv::VersionId,
        identical: bool,
        exit_status: i32,
        #[serde(skip_serializing_if = "Option::is_none")]
        files: Option<&'a dv::diff::report::FileDiff>,
        environment: &'a [String],
        #[serde(skip_serializing_if = "Option::is_none")]
        kept: Option<&'a std::path::Path>,
    }
    ui.json(&Out {
        version: report.id,
        identical: report.identical(),
        exit_status: report.exit_status,
        files: report.comparison.as_ref().map(|c| &c.files),
        environment: &report.environment,
        kept: match &report.scratch {
            Scratch::Kept(dir) => Some(dir),
            Scratch::Temporary(_) => None,
        },
    })
}

fn text_report(ui: &Ui, ws: &dv::Workspace, report: &RerunReport) -> Result<(), CliError> {
    let mut text = String::new();
    match &report.comparison {
        _ if report.identical() => {
            text.push_str(&format!(
                "reproduced: identical ({} gave back its recorded bytes)\n",
                report.id.short(SHORT_ID)
            ));
        }
        None => text.push_str(&format!(
            "not reproduced: the command exited with status {}\n",
            report.exit_status
        )),
        Some(comparison) => {
            text.push_str(&format!(
                "not reproduced: the output differs from {}\n",
                report.id.short(SHORT_ID)
            ));
            text.push_str(&super::diff::render(
                &Default::default(),
                &Default::default(),
                &comparison.files,
            ));
            let rows = dv::diff::rows::row_diffs_local(
                ws,
                &comparison.files,
                Some(&report.output),
                &dv::diff::rows::RowOptions {
                    key: Vec::new(),
                    examples: 5,
                },
            );
            text.push_str(&super::diff::render_rows(&rows));
        }
    }
    if !report.environment.is_empty() {
        text.push_str("environment then and now:\n");
        for change in &report.environment {
            text.push_str(&format!("  {change}\n"));
        }
    }
    if let Scratch::Kept(dir) = &report.scratch {
        text.push_str(&format!("kept in {}\n", dir.display()));
    }
    ui.out(text)
}
