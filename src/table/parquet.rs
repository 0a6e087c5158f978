//! Parquet files read within dv's bounds (see [`super::parquet_bounds`]): their column
//! names, and their rows as text cells, for row diffs and for hashing rows in profiles.

use std::fs::File;
use std::ops::ControlFlow;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

pub use super::parquet_bounds::{Shape, check as check_bounds};

/// Rows per record batch.
const BATCH_ROWS: usize = 8192;

/// A reader of a Parquet file whose structure is within dv's bounds and that has columns to
/// read (a table of none would be read as its declared number of empty rows).
fn checked_builder(mut file: File) -> Result<ParquetRecordBatchReaderBuilder<File>, String> {
    if check_bounds(&mut file)?.columns == 0 {
        return Err("it has no columns, so no rows to compare".into());
    }
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())
}

/// The column names of a Parquet file.
pub fn columns(file: File) -> Result<Vec<String>, String> {
    let builder = checked_builder(file)?;
    Ok(builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect())
}

/// What a row visitor says: go on, or stop here (it has what it wanted).
pub type Visited = crate::Result<ControlFlow<()>>;

/// Calls `visit` with every row as text cells (`None` for null), in file order, until it says
/// to stop.
pub fn for_each_row(
    file: File,
    visit: &mut dyn FnMut(&[Option<String>]) -> Visited,
) -> crate::Result<Result<(), String>> {
    let builder = match checked_builder(file) {
        Ok(builder) => builder,
        Err(e) => return Ok(Err(e)),
    };
    let reader = match builder.with_batch_size(BATCH_ROWS).build() {
        Ok(reader) => reader,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let mut cells = Vec::new();
    for batch in reader {
        let batch = match batch {
            Ok(batch) => batch,
            Err(e) => return Ok(Err(e.to_string())),
        };
        match for_each_text_row(&batch, visit, &mut cells) {
            Ok(ControlFlow::Continue(())) => {}
            Ok(ControlFlow::Break(())) => break,
            Err(TextRowError::Visit(e)) => return Err(e),
            Err(TextRowError::Format(e)) => return Ok(Err(e)),
        }
    }
    Ok(Ok(()))
}

pub enum TextRowError {
    Visit(crate::Error),
    Format(String),
}

impl std::fmt::Display for TextRowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TextRowError::Visit(e) => e.fmt(f),
            TextRowError::Format(e) => f.write_str(e),
        }
    }
}

pub fn for_each_text_row(
    batch: &RecordBatch,
    visit: &mut dyn FnMut(&[Option<String>]) -> Visited,
    cells: &mut Vec<Option<String>>,
) -> Result<ControlFlow<()>, TextRowError> {
    let options = FormatOptions::default();
    let columns: Vec<&ArrayRef> = batch.columns().iter().collect();
    let formatters = columns
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TextRowError::Format(e.to_string()))?;
    for row in 0..batch.num_rows() {
        cells.clear();
        for (column, formatter) in columns.iter().zip(&formatters) {
            cells.push(
                column
                    .is_valid(row)
                    .then(|| formatter.value(row).to_string()),
            );
        }
        if visit(cells).map_err(TextRowError::Visit)?.is_break() {
            return Ok(ControlFlow::Break(()));
        }
    }
    Ok(ControlFlow::Continue(()))
}
