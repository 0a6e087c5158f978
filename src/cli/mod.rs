//! The command line: clap definitions, dispatch, and rendering. No dataset logic lives here;
//! each command opens the workspace, calls the library, and renders what it returns.

mod checkout;
mod clone;
mod commit;
mod complete;
mod diff;
mod error;
mod fetch;
mod fsck;
mod gc;
mod init;
mod lifecycle;
mod lineage;
mod log;
mod materialize;
mod pin;
mod profile;
mod pull;
mod push;
mod reindex;
mod remote;
mod resolve;
mod run;
mod show;
mod status;
mod tag;
mod ui;
mod verify;
mod which;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde::Serialize;

use dv::object::Version;
use dv::{VersionId, Workspace};
use error::CliError;
use ui::Ui;

/// Version datasets and their provenance, like git for ML data.
#[derive(Parser)]
#[command(name = "dv", version, about, max_term_width = 100)]
struct Cli {
    /// Print nothing but data and errors
    #[arg(long, short, global = true)]
    quiet: bool,

    /// Never contact a remote: fail instead when data is not in this workspace
    #[arg(long, global = true)]
    offline: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Init(init::Args),
    Commit(commit::Args),
    Log(log::Args),
    Show(show::Args),
    Status(status::Args),
    Diff(diff::Args),
    Checkout(checkout::Args),
    Tag(tag::Args),
    Lineage(lineage::Args),
    Which(which::Args),
    Pin(pin::Args),
    Resolve(resolve::Args),
    Verify(verify::Args),
    Materialize(materialize::Args),
    Fsck(fsck::Args),
    Reindex(reindex::Args),
    Remote(remote::Args),
    Push(push::Args),
    Fetch(fetch::Args),
    Pull(pull::Args),
    Clone(clone::Args),
    Deprecate(lifecycle::Deprecate),
    Undeprecate(lifecycle::Undeprecate),
    Retire(lifecycle::Retire),
    Unretire(lifecycle::Unretire),
    Forget(lifecycle::Forget),
    Gc(gc::Args),
    Run(run::Args),
    Runs(run::RunsArgs),
    Rerun(run::RerunArgs),
    Check(profile::CheckArgs),
    Rules(profile::RulesArgs),
    Completions(complete::CompletionsArgs),
    Man(complete::ManArgs),
    Export(lineage::ExportArgs),
}

/// Runs the CLI and turns the outcome into an exit code.
pub fn main() -> ExitCode {
    // Asked by the completion script for candidates: answer and exit.
    clap_complete::CompleteEnv::with_factory(<Cli as clap::CommandFactory>::command)
        .var(complete::COMPLETE_VAR)
        .complete();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
        }
    };
    let ui = Ui {
        quiet: cli.quiet,
        fetch: match cli.offline {
            true => dv::available::Fetch::Offline,
            false => dv::available::Fetch::OnDemand,
        },
    };
    let result = match cli.command {
        Command::Init(args) => init::run(&ui, args),
        Command::Commit(args) => commit::run(&ui, args),
        Command::Log(args) => log::run(&ui, args),
        Command::Show(args) => show::run(&ui, args),
        Command::Status(args) => status::run(&ui, args),
        Command::Diff(args) => diff::run(&ui, args),
        Command::Checkout(args) => checkout::run(&ui, args),
        Command::Tag(args) => tag::run(&ui, args),
        Command::Lineage(args) => lineage::run(&ui, args),
        Command::Which(args) => which::run(&ui, args),
        Command::Pin(args) => pin::run(&ui, args),
        Command::Resolve(args) => resolve::run(&ui, args),
        Command::Verify(args) => verify::run(&ui, args),
        Command::Materialize(args) => materialize::run(&ui, args),
        Command::Fsck(args) => fsck::run(&ui, args),
        Command::Reindex(args) => reindex::run(&ui, args),
        Command::Remote(args) => remote::run(&ui, args),
        Command::Push(args) => push::run(&ui, args),
        Command::Fetch(args) => fetch::run(&ui, args),
        Command::Pull(args) => pull::run(&ui, args),
        Command::Clone(args) => clone::run(&ui, args),
        Command::Deprecate(args) => lifecycle::deprecate(&ui, args),
        Command::Undeprecate(args) => lifecycle::undeprecate(&ui, args),
        Command::Retire(args) => lifecycle::retire(&ui, args),
        Command::Unretire(args) => lifecycle::unretire(&ui, args),
        Command::Forget(args) => lifecycle::forget(&ui, args),
        Command::Gc(args) => gc::run(&ui, args),
        Command::Run(args) => run::run(&ui, args),
        Command::Runs(args) => run::runs(&ui, args),
        Command::Rerun(args) => run::rerun(&ui, args),
        Command::Completions(args) => complete::completions(&ui, args),
        Command::Man(args) => complete::man(&ui, args),
        Command::Export(args) => lineage::export(&ui, args),
        Command::Check(args) => profile::check(&ui, args),
        Command::Rules(args) => profile::rules(&ui, args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if err.kind != error::Kind::BrokenPipe && !err.message.is_empty() {
                eprint!("{}", err.render());
            }
            ExitCode::from(err.exit_code())
        }
    }
}

/// Opens the workspace containing the current directory.
fn open_workspace() -> Result<Workspace, CliError> {
    Ok(Workspace::discover(std::path::Path::new("."))?)
}

/// For commands that only read: works on a read-only workspace and writes nothing.
fn open_workspace_to_read() -> Result<Workspace, CliError> {
    Ok(Workspace::discover_for(
        std::path::Path::new("."),
        dv::workspace::Access::Read,
    )?)
}

/// Makes the data a command needs of some versions local, under the library's availability
/// policy with `--offline` or not, and says what was fetched.
fn with_local_data(
    ui: &Ui,
    ws: Workspace,
    ids: &[VersionId],
    need: dv::available::Need,
) -> Result<Workspace, CliError> {
    let (ws, report) = dv::available::ensure(ws, ids, need, ui.fetch, &ui.progress())?;
    if let Some(report) = report {
        fetched(ui, &report);
    }
    Ok(ws)
}

/// Says what a fetch on demand brought.
fn fetched(ui: &Ui, report: &dv::remote::TransferReport) {
    ui.status(format!(
        "Fetched {} ({}) from remote {}.",
        ui::plural(report.objects, "object"),
        ui::human_bytes(report.bytes),
        report.remote
    ));
}

/// A version as shown in JSON: its id first, then every recorded field, then its lifecycle
/// state when it is not simply active.
#[derive(Serialize)]
struct VersionView<'a> {
    id: VersionId,
    #[serde(flatten)]
    version: &'a Version,
    #[serde(skip_serializing_if = "Option::is_none")]
    lifecycle: Option<&'a dv::lifecycle::Status>,
}

/// ` since DATE (by AUTHOR): REASON; use ID instead` for a state that changed.
fn lifecycle_detail(status: &dv::lifecycle::Status) -> String {
    let Some(event) = &status.event else {
        return String::new();
    };
    let mut out = format!(
        " since {} (by {}): {}",
        event.at.get(..10).unwrap_or(&event.at),
        event.author,
        event.reason.as_deref().unwrap_or("no reason given")
    );
    if let Some(other) = event.use_instead {
        out.push_str(&format!("; use {} instead", other.short(SHORT_ID)));
    }
    out
}

/// Warns on stderr that a version was committed although it fails stage rules, listing them.
fn warn_if_failing(ui: &Ui, version: &Version) {
    if version.failed_rules.is_empty() {
        return;
    }
    let mut text = format!(
        "warning: {} was committed failing {} (--allow-failing):",
        dataset_at_stage(version),
        ui::plural(version.failed_rules.len() as u64, "stage rule")
    );
    for line in dv::rules::report(&version.failed_rules) {
        text.push_str("\n  ");
        text.push_str(&line);
    }
    ui.status(text);
}

/// Warns on stderr about each deprecated version a command is about to use, saying what to
/// use instead.
fn warn_if_deprecated(ui: &Ui, ws: &Workspace, ids: &[VersionId]) -> Result<(), CliError> {
    for id in ids {
        let status = dv::lifecycle::status(ws, id)?;
        let (dv::lifecycle::State::Deprecated, Some(event)) = (status.state, status.event) else {
            continue;
        };
        let instead = match event.use_instead {
            Some(other) => format!("; use {} instead", other.short(SHORT_ID)),
            None => String::new(),
        };
        ui.status(format!(
            "warning: version {} is deprecated since {}: {}{instead}",
            id.short(SHORT_ID),
            event.at.get(..10).unwrap_or(&event.at),
            event.reason.as_deref().unwrap_or("no reason given"),
        ));
    }
    Ok(())
}

/// `dataset@stage`, the way versions are named in human output.
fn dataset_at_stage(version: &Version) -> String {
    format!("{}@{}", version.dataset, version.stage)
}

/// Digits of an id shown in human output.
const SHORT_ID: usize = 12;
