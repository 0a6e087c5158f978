//! `dv remote add NAME URL [...]`, `dv remote list [--json]`, `dv remote remove NAME`, and the
//! summary every transfer command prints.

use serde::Serialize;

use dv::remote::{RemoteSpec, Remotes, TransferReport};

use super::error::CliError;
use super::open_workspace;
use super::ui::{Ui, human_bytes, plural, table};

/// Manage the remotes versions are pushed to and pulled from
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Add a remote: a directory (/path, file:///path) or a bucket (s3://bucket/prefix)
    Add {
        /// A name for it (letters, digits, '.', '_', '-')
        name: String,
        /// /path, file:///path or s3://bucket/prefix
        url: String,
        #[command(flatten)]
        connection: Connection,
        /// Make it the default remote (the first one added already is)
        #[arg(long)]
        default: bool,
    },
    /// List the remotes
    List {
        /// Print the list as JSON
        #[arg(long)]
        json: bool,
    },
    /// Forget a remote (nothing on the remote is touched)
    Remove { name: String },
}

/// How to reach an S3-compatible store; credentials come from AWS_ACCESS_KEY_ID and
/// AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), never from here.
#[derive(clap::Args, Clone, Default)]
pub struct Connection {
    /// The S3-compatible endpoint, e.g. http://127.0.0.1:9000 (default: AWS, or AWS_ENDPOINT)
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// The region (default: AWS_REGION / AWS_DEFAULT_REGION, else us-east-1)
    #[arg(long, value_name = "R")]
    region: Option<String>,
    /// Use path-style requests (endpoint/bucket/key), as most self-hosted servers need
    #[arg(long)]
    path_style: bool,
    /// Allow an http:// endpoint (unencrypted)
    #[arg(long)]
    allow_http: bool,
}

impl Connection {
    /// The remote's settings; a relative directory is made absolute.
    pub fn spec(&self, url: &str) -> Result<RemoteSpec, CliError> {
        let url = if url.contains("://") || url.starts_with('/') {
            url.to_string()
        } else {
            dv::fs_util::absolute(std::path::Path::new(url))?
                .to_string_lossy()
                .into_owned()
        };
        let spec = RemoteSpec {
            url,
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            path_style: self.path_style,
            allow_http: self.allow_http,
        };
        spec.validate()?;
        Ok(spec)
    }
}

#[derive(Serialize)]
struct RemoteView<'a> {
    name: &'a str,
    #[serde(flatten)]
    spec: &'a RemoteSpec,
    default: bool,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace()?;
    let dv_dir = ws.dv_dir();
    match args.action {
        Action::Add {
            name,
            url,
            connection,
            default,
        } => {
            let _lock = dv::lock::WorkspaceLock::acquire(&dv_dir)?;
            let mut remotes = Remotes::load(&dv_dir)?;
            let spec = connection.spec(&url)?;
            let shown = spec.url.clone();
            remotes.add(&name, spec, default)?;
            remotes.save(&dv_dir)?;
            let is_default = remotes.default.as_deref() == Some(name.as_str());
            ui.status(format!(
                "Added remote {name} at {shown}{}.",
                if is_default { " (the default)" } else { "" }
            ));
        }
        Action::List { json } => {
            let remotes = Remotes::load(&dv_dir)?;
            let views: Vec<RemoteView> = remotes
                .remotes
                .iter()
                .map(|(name, spec)| RemoteView {
                    name,
                    spec,
                    default: remotes.default.as_deref() == Some(name.as_str()),
                })
                .collect();
            if json {
                return ui.json(&views);
            }
            if views.is_empty() {
                ui.status("No remotes. Add one with `dv remote add NAME URL`.");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = views
                .iter()
                .map(|v| {
                    vec![
                        format!("{}{}", v.name, if v.default { " *" } else { "" }),
                        v.spec.url.clone(),
                        v.spec.endpoint.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            ui.out(table(&rows))?;
        }
        Action::Remove { name } => {
            let _lock = dv::lock::WorkspaceLock::acquire(&dv_dir)?;
            let mut remotes = Remotes::load(&dv_dir)?;
            let spec = remotes.remove(&name)?;
            remotes.save(&dv_dir)?;
            // The cached pack indexes of that remote are of no use any more.
            let _ = std::fs::remove_dir_all(dv_dir.join("remotes").join(&name));
            ui.status(format!("Removed remote {name} ({}).", spec.url));
        }
    }
    Ok(())
}

/// Prints a transfer's summary (one JSON object with `--json`) and turns tag conflicts into
/// warnings, or into the command's failure when `conflicts_fail`.
pub fn report(
    ui: &Ui,
    verb: &str,
    report: &TransferReport,
    json: bool,
    conflicts_fail: bool,
) -> Result<(), CliError> {
    if json {
        ui.json(report)?;
    } else {
        let direction = if verb == "Pushed" { "to" } else { "from" };
        let mut parts = Vec::new();
        if report.versions > 0 {
            parts.push(plural(report.versions, "version"));
        }
        if report.tags > 0 {
            parts.push(plural(report.tags, "tag"));
        }
        if report.lifecycle > 0 {
            parts.push(plural(report.lifecycle, "lifecycle event"));
        }
        let what = if parts.is_empty() {
            String::new()
        } else {
            format!(" {}:", parts.join(", "))
        };
        ui.status(format!(
            "{verb}{what} {} ({}) in {} {direction} {}.",
            plural(report.objects, "object"),
            human_bytes(report.bytes),
            plural(report.requests, "request"),
            report.remote
        ));
    }
    if !report.unavailable.is_empty() {
        ui.status(format!(
            "warning: {} could not be brought from {} and {} not usable here:",
            plural(report.unavailable.len() as u64, "version"),
            report.remote,
            if report.unavailable.len() == 1 {
                "is"
            } else {
                "are"
            }
        ));
        for gone in &report.unavailable {
            ui.status(format!("  {}: {}", &gone.version[..12], gone.reason));
        }
        ui.status("hint: Everything else arrived. Repair or remove those objects on the remote, then fetch or pull again.");
    }
    if report.conflicts.is_empty() {
        return Ok(());
    }
    let details: Vec<String> = report
        .conflicts
        .iter()
        .map(|c| {
            format!(
                "{}: here {}, on {} {}",
                c.tag,
                c.local.as_deref().map_or("(none)", |id| &id[..12]),
                report.remote,
                c.remote
                    .iter()
                    .map(|id| &id[..12])
                    .collect::<Vec<_>>()
                    .join(" and ")
            )
        })
        .collect();
    let message = format!(
        "{} name other versions on remote {} and were left unchanged",
        plural(report.conflicts.len() as u64, "tag"),
        report.remote
    );
    let hint = "Tags never move silently: give one side another name (dv tag REV NEWNAME, dv tag --delete NAME), then push or fetch again.";
    if conflicts_fail {
        let mut err = CliError::user(message).hinted(hint);
        err.details = details;
        return Err(err);
    }
    ui.status(format!("warning: {message}:"));
    for detail in details {
        ui.status(format!("  {detail}"));
    }
    ui.status(format!("hint: {hint}"));
    Ok(())
}
