//! Parquet tables (arrow-rs): profiles, and rows as text for row diffs.
//!
//! Files are streamed a record batch at a time, so memory is bounded by the writer's row-group
//! size, not the file's. Nulls are Parquet's own nulls (a string `NA` is a value here).

use std::fs::File;
use std::hash::Hasher;

use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::table::{DuplicateCounter, LabelCounts, row_hasher};
use super::{ColumnProfile, Settings, TableProfile, Unreadable};

/// Rows per record batch.
const BATCH_ROWS: usize = 8192;

fn malformed(e: impl std::fmt::Display) -> Unreadable {
    Unreadable::Malformed(e.to_string())
}

/// The profile vocabulary's name for an Arrow type: the text formats' names where they mean
/// the same, Arrow's own (lower-case) otherwise.
fn type_name(data_type: &DataType) -> String {
    use DataType::*;
    match data_type {
        Null => "null".into(),
        Boolean => "boolean".into(),
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => "integer".into(),
        Float16 | Float32 | Float64 => "float".into(),
        Utf8 | LargeUtf8 | Utf8View => "string".into(),
        Binary | LargeBinary | BinaryView | FixedSizeBinary(_) => "binary".into(),
        Date32 | Date64 => "date".into(),
        Timestamp(_, _) => "timestamp".into(),
        Time32(_) | Time64(_) => "time".into(),
        Duration(_) | Interval(_) => "duration".into(),
        Decimal32(_, _) | Decimal64(_, _) | Decimal128(_, _) | Decimal256(_, _) => "decimal".into(),
        List(_) | LargeList(_) | FixedSizeList(_, _) | ListView(_) | LargeListView(_) => {
            "list".into()
        }
        Struct(_) => "struct".into(),
        Map(_, _) => "map".into(),
        Dictionary(_, value) => type_name(value),
        other => other.to_string().to_ascii_lowercase(),
    }
}

/// Profiles a Parquet file.
pub fn profile(
    file: File,
    labels: &[String],
    settings: &Settings,
) -> Result<TableProfile, Unreadable> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(malformed)?;
    let schema = builder.schema().clone();
    let reader = builder
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(malformed)?;
    let mut nulls = vec![0u64; schema.fields().len()];
    let label_columns: Vec<(usize, &String)> = labels
        .iter()
        .filter_map(|l| schema.index_of(l).ok().map(|i| (i, l)))
        .collect();
    let mut label_counts: Vec<LabelCounts> = label_columns
        .iter()
        .map(|_| LabelCounts::default())
        .collect();
    let mut duplicates = DuplicateCounter::new();
    let mut rows = 0u64;
    let options = FormatOptions::default();
    for batch in reader {
        let batch = batch.map_err(malformed)?;
        rows += batch.num_rows() as u64;
        for (count, column) in nulls.iter_mut().zip(batch.columns()) {
            *count += column.null_count() as u64;
        }
        for hash in row_hashes(&batch)? {
            duplicates.add(hash).map_err(Unreadable::Io)?;
        }
        for ((index, _), counts) in label_columns.iter().zip(label_counts.iter_mut()) {
            let column = batch.column(*index);
            let shown = ArrayFormatter::try_new(column.as_ref(), &options).map_err(malformed)?;
            for row in 0..column.len() {
                if column.is_valid(row) {
                    counts.add(shown.value(row).to_string().as_bytes());
                }
            }
        }
    }
    let mut table = TableProfile::counted(
        rows,
        duplicates.finish().map_err(Unreadable::Io)?,
        schema
            .fields()
            .iter()
            .zip(nulls)
            .map(|(field, nulls)| ColumnProfile {
                name: field.name().clone(),
                kind: type_name(field.data_type()),
                nulls,
            })
            .collect(),
    );
    for ((_, name), counts) in label_columns.into_iter().zip(label_counts) {
        counts.finish(name, settings.max_label_values, &mut table);
    }
    Ok(table)
}

/// A 64-bit hash of each row of a batch: of Arrow's row encoding when the types allow it,
/// else of the values' text.
fn row_hashes(batch: &RecordBatch) -> Result<Vec<u64>, Unreadable> {
    let hash = |bytes: &[u8]| {
        let mut hasher = row_hasher();
        hasher.write(bytes);
        hasher.finish()
    };
    let fields = batch
        .schema()
        .fields()
        .iter()
        .map(|f| arrow_row::SortField::new(f.data_type().clone()))
        .collect();
    if let Ok(converter) = arrow_row::RowConverter::new(fields)
        && let Ok(encoded) = converter.convert_columns(batch.columns())
    {
        return Ok(encoded.iter().map(|row| hash(row.as_ref())).collect());
    }
    let mut out = Vec::with_capacity(batch.num_rows());
    let mut cells = Vec::new();
    for_each_text_row(
        batch,
        &mut |row| {
            let mut hasher = row_hasher();
            for cell in row {
                match cell {
                    Some(text) => {
                        hasher.write_usize(text.len());
                        hasher.write(text.as_bytes());
                    }
                    None => hasher.write_usize(usize::MAX),
                }
            }
            out.push(hasher.finish());
            Ok(())
        },
        &mut cells,
    )
    .map_err(malformed)?;
    Ok(out)
}

/// The column names of a Parquet file.
pub fn columns(file: File) -> Result<Vec<String>, String> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
    Ok(builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect())
}

/// Calls `visit` with every row as text cells (`None` for null), in file order.
pub fn for_each_row(
    file: File,
    visit: &mut dyn FnMut(&[Option<String>]) -> crate::Result<()>,
) -> crate::Result<Result<(), String>> {
    let builder = match ParquetRecordBatchReaderBuilder::try_new(file) {
        Ok(builder) => builder,
        Err(e) => return Ok(Err(e.to_string())),
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
            Ok(()) => {}
            Err(TextRowError::Visit(e)) => return Err(e),
            Err(TextRowError::Format(e)) => return Ok(Err(e)),
        }
    }
    Ok(Ok(()))
}

enum TextRowError {
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

fn for_each_text_row(
    batch: &RecordBatch,
    visit: &mut dyn FnMut(&[Option<String>]) -> crate::Result<()>,
    cells: &mut Vec<Option<String>>,
) -> Result<(), TextRowError> {
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
        visit(cells).map_err(TextRowError::Visit)?;
    }
    Ok(())
}
