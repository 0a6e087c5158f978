//! Stage rules: what a good version of each stage looks like, in `dv.toml` at the workspace
//! root (a file teams review and keep in git). `dv commit` and `dv run` refuse a version that
//! fails them unless told `--allow-failing`; `dv check` evaluates any version against them.
//! The format is documented in docs/rules.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::object::{RuleFailure, Version};
use crate::profile::{self, Profile, TableProfile};

/// The rules file's name, at the workspace root.
pub const RULES_FILE: &str = "dv.toml";
/// A rules file larger than this is refused (it is a small, reviewed text file).
const MAX_RULES_BYTES: u64 = 1 << 20;

/// Column types a rule may require (the profile's vocabulary).
pub const COLUMN_TYPES: [&str; 13] = [
    "integer",
    "float",
    "boolean",
    "string",
    "null",
    "date",
    "timestamp",
    "time",
    "binary",
    "decimal",
    "list",
    "struct",
    "map",
];

/// Everything `dv.toml` says.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    #[serde(default)]
    pub profile: ProfileRules,
    /// Stage → its rules.
    #[serde(default)]
    pub stages: BTreeMap<String, StageRules>,
    /// Where the rules were read from; `None` when there is no `dv.toml`.
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

/// How versions are profiled.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileRules {
    /// Whether commits record a profile (stages with rules are profiled regardless).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Text values counted as null in CSV, TSV and JSONL.
    #[serde(default = "default_nulls")]
    pub null_values: Vec<String>,
    /// Label values kept per column (the rest are counted together).
    #[serde(default = "default_max_labels")]
    pub max_label_values: usize,
}

fn yes() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

fn default_nulls() -> Vec<String> {
    profile::DEFAULT_NULL_VALUES
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn default_max_labels() -> usize {
    profile::DEFAULT_MAX_LABEL_VALUES
}

impl Default for ProfileRules {
    fn default() -> Self {
        ProfileRules {
            enabled: true,
            null_values: default_nulls(),
            max_label_values: default_max_labels(),
        }
    }
}

/// Provenance a version may be required to carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Requirement {
    Transform,
    Code,
    Params,
    Inputs,
    Run,
}

impl Requirement {
    /// Its name in `dv.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Requirement::Transform => "transform",
            Requirement::Code => "code",
            Requirement::Params => "params",
            Requirement::Inputs => "inputs",
            Requirement::Run => "run",
        }
    }

    fn met_by(self, version: &Version) -> bool {
        match self {
            Requirement::Transform => version.transform.as_deref().is_some_and(|t| !t.is_empty()),
            Requirement::Code => !version.code.is_empty(),
            Requirement::Params => !version.params.is_empty(),
            Requirement::Inputs => !version.inputs.is_empty(),
            Requirement::Run => version.run.is_some(),
        }
    }

    fn missing(self) -> &'static str {
        match self {
            Requirement::Transform => "it records no transform (--transform)",
            Requirement::Code => "it records no code file (--code)",
            Requirement::Params => "it records no parameters (--param, --params-file)",
            Requirement::Inputs => "it records no input version (--from)",
            Requirement::Run => "it was not made by dv run",
        }
    }
}

/// The rules of one stage.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageRules {
    /// At least one input, and every input a version of one of these stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs_from: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require: Vec<Requirement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_files: Option<u64>,
    /// Directories (top-level, or second-level such as `train/cat`) that must each hold files:
    /// the classes of an image dataset.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directories: Vec<String>,
    /// Largest allowed ratio of files between the fullest and emptiest of `directories` (of the
    /// top-level directories when none are named): the class balance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_directory_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<TableRules>,
}

/// Checks for the tables whose paths match `files`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableRules {
    /// A glob: without `/` it matches file names at any depth, with `/` whole paths.
    pub files: String,
    /// Whether a version with no table matching `files` fails (by default it does).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub required: bool,
    /// Columns that must exist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// Column → required type (`float` also accepts `integer`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub types: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub no_nulls: Vec<String>,
    /// Largest allowed fraction of duplicate rows (0.0 allows none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duplicate_rows: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_rows: Option<u64>,
    /// Columns holding labels: their value distributions are profiled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub label_columns: Vec<String>,
    /// Largest allowed ratio of rows between the most and least frequent label value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_label_ratio: Option<f64>,
}

impl Rules {
    /// Reads `dv.toml` at the workspace root; no file means no rules.
    pub fn load(root: &Path, stages: &[String]) -> Result<Rules> {
        let path = root.join(RULES_FILE);
        let bad = |message: String| Error::BadRules {
            path: path.clone(),
            message,
        };
        let bytes = match crate::fs_util::read_bounded(&path, MAX_RULES_BYTES) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(Rules::default()),
            Err(Error::FileTooLarge { .. }) => {
                return Err(bad(format!("it is larger than {MAX_RULES_BYTES} bytes")));
            }
            Err(e) => return Err(e),
        };
        let text = String::from_utf8(bytes).map_err(|_| bad("it is not UTF-8 text".into()))?;
        let mut rules: Rules = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        rules.validate(stages).map_err(bad)?;
        rules.path = Some(path);
        Ok(rules)
    }

    fn validate(&self, stages: &[String]) -> std::result::Result<(), String> {
        let known = |stage: &String, what: &str| {
            if stages.contains(stage) {
                Ok(())
            } else {
                Err(format!(
                    "{what} names stage \"{stage}\", which this workspace does not have (its stages: {})",
                    stages.join(", ")
                ))
            }
        };
        for (stage, rules) in &self.stages {
            known(stage, "[stages]")?;
            let here = format!("[stages.{stage}]");
            for from in rules.inputs_from.iter().flatten() {
                known(from, &format!("{here} inputs_from"))?;
            }
            if let Some(ratio) = rules.max_directory_ratio {
                check_ratio(ratio, &format!("{here} max_directory_ratio"))?;
            }
            for table in &rules.tables {
                let here = format!("{here} tables \"{}\"", table.files);
                build_matcher(&table.files)
                    .map_err(|e| format!("{here}: files is not a valid pattern: {e}"))?;
                if let Some(fraction) = table.max_duplicate_rows
                    && !(0.0..=1.0).contains(&fraction)
                {
                    return Err(format!(
                        "{here}: max_duplicate_rows is a fraction of rows between 0.0 and 1.0, not {fraction}"
                    ));
                }
                if let Some(ratio) = table.max_label_ratio {
                    check_ratio(ratio, &format!("{here} max_label_ratio"))?;
                    if table.label_columns.is_empty() {
                        return Err(format!(
                            "{here}: max_label_ratio needs label_columns to say which columns hold labels"
                        ));
                    }
                }
                for (column, kind) in &table.types {
                    if !COLUMN_TYPES.contains(&kind.as_str()) {
                        return Err(format!(
                            "{here}: type \"{kind}\" of column \"{column}\" is not one of {}",
                            COLUMN_TYPES.join(", ")
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// How to profile a version of `stage`: the null values, and its tables' label columns.
    pub fn settings(&self, stage: &str) -> profile::Settings {
        let labels = self
            .stages
            .get(stage)
            .map(|rules| {
                rules
                    .tables
                    .iter()
                    .filter(|t| !t.label_columns.is_empty())
                    .map(|t| (matcher(&t.files), t.label_columns.clone()))
                    .collect()
            })
            .unwrap_or_default();
        profile::Settings {
            null_values: self.profile.null_values.clone(),
            max_label_values: self.profile.max_label_values,
            labels,
        }
    }

    /// Whether a commit at `stage` records a profile: always, unless profiles are off; then
    /// still for a stage with rules (they are checked against it).
    pub fn profiles(&self, stage: &str) -> bool {
        self.profile.enabled || self.stages.contains_key(stage)
    }

    /// Whether any rule applies to `stage`.
    pub fn has_stage(&self, stage: &str) -> bool {
        self.stages.contains_key(stage)
    }

    /// Evaluates a version (its provenance, its inputs' stages, its profile) against the rules
    /// of its stage; an empty list means it passes.
    pub fn check(
        &self,
        version: &Version,
        input_stages: &[String],
        profile: &Profile,
    ) -> Vec<RuleFailure> {
        let Some(rules) = self.stages.get(&version.stage) else {
            return Vec::new();
        };
        let mut failures = Failures(self.check_inputs(&version.stage, input_stages));
        for requirement in &rules.require {
            if !requirement.met_by(version) {
                failures.add(
                    "require",
                    None,
                    None,
                    format!("{} ({})", requirement.missing(), requirement.name()),
                );
            }
        }
        if let Some(min) = rules.min_files
            && profile.files < min
        {
            failures.add(
                "min_files",
                None,
                None,
                format!("{} files, fewer than {min}", profile.files),
            );
        }
        for directory in &rules.directories {
            if profile
                .directories
                .get(directory)
                .is_none_or(|c| c.files == 0)
            {
                failures.add(
                    "directories",
                    Some(directory),
                    None,
                    format!("directory {directory}/ holds no file"),
                );
            }
        }
        if let Some(max) = rules.max_directory_ratio {
            // Among the directories named, else among the top-level ones.
            let counts: Vec<(&String, u64)> = if rules.directories.is_empty() {
                profile
                    .directories
                    .iter()
                    .filter(|(d, _)| d.as_str() != "." && !d.contains('/'))
                    .map(|(d, c)| (d, c.files))
                    .collect()
            } else {
                rules
                    .directories
                    .iter()
                    .map(|d| (d, profile.directories.get(d).map_or(0, |c| c.files)))
                    .collect()
            };
            if let Some(message) = imbalance(&counts, max, "files") {
                failures.add("max_directory_ratio", None, None, message);
            }
        }
        if profile.tables_omitted > 0 && !rules.tables.is_empty() {
            failures.add(
                "files",
                None,
                None,
                format!(
                    "the version holds {} tables, more than the {} a profile describes, so \
                     table rules cannot be checked for all of them",
                    profile.tables.len() as u64 + profile.tables_omitted,
                    profile::MAX_PROFILED_TABLES
                ),
            );
        }
        for table_rules in &rules.tables {
            let glob = matcher(&table_rules.files);
            let tables: Vec<(&String, &TableProfile)> = profile
                .tables
                .iter()
                .filter(|(path, _)| profile::matches_path(&glob, path))
                .collect();
            if tables.is_empty() && table_rules.required {
                failures.add(
                    "files",
                    None,
                    None,
                    format!(
                        "no table (CSV, TSV, JSONL, Parquet) matches \"{}\"",
                        table_rules.files
                    ),
                );
            }
            for (path, table) in tables {
                check_table(table_rules, path, table, &mut failures);
            }
        }
        failures.0
    }

    /// The `inputs_from` rule alone: what `dv run` checks before running anything.
    pub fn check_inputs(&self, stage: &str, input_stages: &[String]) -> Vec<RuleFailure> {
        let mut failures = Failures(Vec::new());
        let Some(allowed) = self.stages.get(stage).and_then(|r| r.inputs_from.as_ref()) else {
            return failures.0;
        };
        if input_stages.is_empty() {
            failures.add(
                "inputs_from",
                None,
                None,
                format!(
                    "it has no input; it must be made from {} (--from)",
                    allowed.join(" or ")
                ),
            );
        }
        for input in input_stages {
            if !allowed.contains(input) {
                failures.add(
                    "inputs_from",
                    None,
                    None,
                    format!(
                        "an input is a {input} version; inputs must be {}",
                        allowed.join(" or ")
                    ),
                );
            }
        }
        failures.0
    }
}

/// Failures collected while rules are evaluated.
struct Failures(Vec<RuleFailure>);

impl Failures {
    fn add(&mut self, rule: &str, file: Option<&str>, column: Option<&str>, message: String) {
        self.0.push(RuleFailure {
            rule: rule.to_string(),
            file: file.map(str::to_string),
            column: column.map(str::to_string),
            message,
        });
    }
}

fn check_ratio(ratio: f64, what: &str) -> std::result::Result<(), String> {
    if ratio.is_finite() && ratio >= 1.0 {
        Ok(())
    } else {
        Err(format!("{what} is a ratio of at least 1.0, not {ratio}"))
    }
}

fn build_matcher(pattern: &str) -> std::result::Result<globset::GlobMatcher, globset::Error> {
    Ok(globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()?
        .compile_matcher())
}

/// A pattern `Rules::load` validated (one that does not build matches nothing).
fn matcher(pattern: &str) -> globset::GlobMatcher {
    build_matcher(pattern)
        .unwrap_or_else(|_| globset::Glob::new("").expect("empty").compile_matcher())
}

/// The message for counts whose largest / smallest exceeds `max`, if they do.
fn imbalance(counts: &[(&String, u64)], max: f64, unit: &str) -> Option<String> {
    let most = counts
        .iter()
        .max_by_key(|(name, n)| (*n, std::cmp::Reverse(*name)))?;
    let least = counts.iter().min_by_key(|(name, n)| (*n, *name))?;
    let ratio = if least.1 == 0 {
        f64::INFINITY
    } else {
        most.1 as f64 / least.1 as f64
    };
    (ratio > max).then(|| {
        format!(
            "{} {} {unit} / {} {} {unit} = {:.2}, more than {max}",
            most.0, most.1, least.0, least.1, ratio
        )
    })
}

fn check_table(rules: &TableRules, path: &str, table: &TableProfile, failures: &mut Failures) {
    if let Some(error) = &table.error {
        failures.add(
            "files",
            Some(path),
            None,
            format!("it cannot be read as {}: {error}", table.format),
        );
        return;
    }
    for column in &rules.columns {
        if table.column(column).is_none() {
            failures.add(
                "columns",
                Some(path),
                Some(column),
                format!("column {column} is missing"),
            );
        }
    }
    for (column, wanted) in &rules.types {
        match table.column(column) {
            None => failures.add(
                "types",
                Some(path),
                Some(column),
                format!("column {column} is missing"),
            ),
            Some(found) if found.kind == *wanted => {}
            Some(found) if wanted == "float" && found.kind == "integer" => {}
            Some(found) => failures.add(
                "types",
                Some(path),
                Some(column),
                format!("column {column} is {}, not {wanted}", found.kind),
            ),
        }
    }
    for column in &rules.no_nulls {
        match table.column(column) {
            None => failures.add(
                "no_nulls",
                Some(path),
                Some(column),
                format!("column {column} is missing"),
            ),
            Some(found) if found.nulls > 0 => failures.add(
                "no_nulls",
                Some(path),
                Some(column),
                format!(
                    "{} of {} rows are null in {column}",
                    found.nulls, table.rows
                ),
            ),
            Some(_) => {}
        }
    }
    if let Some(max) = rules.max_duplicate_rows {
        let fraction = if table.rows == 0 {
            0.0
        } else {
            table.duplicate_rows as f64 / table.rows as f64
        };
        if fraction > max {
            failures.add(
                "max_duplicate_rows",
                Some(path),
                None,
                format!(
                    "{} of {} rows are duplicates ({:.4}), more than {max}",
                    table.duplicate_rows, table.rows, fraction
                ),
            );
        }
    }
    if let Some(min) = rules.min_rows
        && table.rows < min
    {
        failures.add(
            "min_rows",
            Some(path),
            None,
            format!("{} rows, fewer than {min}", table.rows),
        );
    }
    for column in &rules.label_columns {
        let Some(values) = table.labels.get(column) else {
            failures.add(
                "label_columns",
                Some(path),
                Some(column),
                format!("column {column} is missing"),
            );
            continue;
        };
        if let Some(max) = rules.max_label_ratio {
            let counts: Vec<(&String, u64)> = values.iter().map(|(v, n)| (v, *n)).collect();
            if let Some(message) = imbalance(&counts, max, "rows") {
                failures.add("max_label_ratio", Some(path), Some(column), message);
            }
        }
    }
}

/// The report for failed rules, one line each: rule, file, column, what is wrong.
pub fn report(failures: &[RuleFailure]) -> Vec<String> {
    failures
        .iter()
        .map(|f| {
            let mut place = String::new();
            if let Some(file) = &f.file {
                place.push_str(file);
            }
            if let Some(column) = &f.column {
                if !place.is_empty() {
                    place.push(' ');
                }
                place.push_str(&format!("[{column}]"));
            }
            if place.is_empty() {
                format!("{}: {}", f.rule, f.message)
            } else {
                format!("{} {place}: {}", f.rule, f.message)
            }
        })
        .collect()
}
