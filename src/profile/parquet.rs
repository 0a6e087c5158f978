//! Parquet profiles (arrow-rs); reading a file within bounds and its rows as text is
//! [`crate::table::parquet`]'s.
//!
//! Files are streamed a record batch at a time (a profile reads row groups on all cores), so
//! memory is bounded by the writer's row-group size times the cores, not the file's size.
//! Nulls are Parquet's own nulls (a string `NA` is a value here).

use std::fs::File;
use std::hash::Hasher;
use std::ops::ControlFlow;

use arrow_array::{Array, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};

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

/// Profiles a Parquet file, its row groups on all cores (each read through its own handle).
pub fn profile(
    path: &std::path::Path,
    labels: &[String],
    settings: &Settings,
) -> Result<TableProfile, Unreadable> {
    use rayon::prelude::*;
    let open = || File::open(path).map_err(Unreadable::Io);
    let mut file = open()?;
    let shape = crate::table::parquet::check_bounds(&mut file).map_err(Unreadable::Malformed)?;
    // The footer is parsed once and shared by every row group's reader.
    let metadata = ArrowReaderMetadata::load(&file, Default::default()).map_err(malformed)?;
    let schema = metadata.schema().clone();
    if shape.columns == 0 {
        // Nothing to read: rows as declared, each the same empty row.
        return Ok(TableProfile::counted(
            shape.rows,
            shape.rows.saturating_sub(1),
            Vec::new(),
        ));
    }
    let groups = metadata.metadata().num_row_groups();
    let label_columns: Vec<(usize, &String)> = labels
        .iter()
        .filter_map(|l| schema.index_of(l).ok().map(|i| (i, l)))
        .collect();
    let duplicates = std::sync::Mutex::new(DuplicateCounter::new());
    let parts = (0..groups)
        .into_par_iter()
        .map(|group| {
            let builder =
                ParquetRecordBatchReaderBuilder::new_with_metadata(open()?, metadata.clone());
            let reader = builder
                .with_row_groups(vec![group])
                .with_batch_size(BATCH_ROWS)
                .build()
                .map_err(malformed)?;
            let mut part = Part::new(schema.fields().len(), label_columns.len());
            for batch in reader {
                let batch = batch.map_err(malformed)?;
                part.add(&batch, &label_columns)?;
                let hashes = row_hashes(&batch)?;
                let mut counter = duplicates.lock().expect("a profiling thread panicked");
                for hash in hashes {
                    counter.add(hash).map_err(Unreadable::Io)?;
                }
            }
            Ok(part)
        })
        .collect::<Result<Vec<Part>, Unreadable>>()?;
    let mut total = Part::new(schema.fields().len(), label_columns.len());
    for part in parts {
        total.merge(part);
    }
    let duplicates = duplicates
        .into_inner()
        .expect("a profiling thread panicked");
    let mut table = TableProfile::counted(
        total.rows,
        duplicates.finish().map_err(Unreadable::Io)?,
        schema
            .fields()
            .iter()
            .zip(total.nulls)
            .map(|(field, nulls)| ColumnProfile {
                name: field.name().clone(),
                kind: type_name(field.data_type()),
                nulls,
            })
            .collect(),
    );
    for ((_, name), counts) in label_columns.into_iter().zip(total.labels) {
        counts.finish(name, settings.max_label_values, &mut table);
    }
    Ok(table)
}

/// Counts over some row groups of a Parquet file.
struct Part {
    rows: u64,
    nulls: Vec<u64>,
    labels: Vec<LabelCounts>,
}

impl Part {
    fn new(columns: usize, labels: usize) -> Part {
        Part {
            rows: 0,
            nulls: vec![0; columns],
            labels: (0..labels).map(|_| LabelCounts::default()).collect(),
        }
    }

    fn merge(&mut self, other: Part) {
        self.rows += other.rows;
        for (mine, theirs) in self.nulls.iter_mut().zip(other.nulls) {
            *mine += theirs;
        }
        for (mine, theirs) in self.labels.iter_mut().zip(other.labels) {
            mine.merge(theirs);
        }
    }

    fn add(
        &mut self,
        batch: &RecordBatch,
        label_columns: &[(usize, &String)],
    ) -> Result<(), Unreadable> {
        self.rows += batch.num_rows() as u64;
        for (count, column) in self.nulls.iter_mut().zip(batch.columns()) {
            *count += column.null_count() as u64;
        }
        let options = FormatOptions::default();
        for ((index, _), counts) in label_columns.iter().zip(self.labels.iter_mut()) {
            let column = batch.column(*index);
            // Text labels are counted as they are; other types by their display.
            if let Some(text) = column.as_any().downcast_ref::<arrow_array::StringArray>() {
                text.iter()
                    .flatten()
                    .for_each(|value| counts.add(value.as_bytes()));
                continue;
            }
            let shown = ArrayFormatter::try_new(column.as_ref(), &options).map_err(malformed)?;
            for row in 0..column.len() {
                if column.is_valid(row) {
                    counts.add(shown.value(row).to_string().as_bytes());
                }
            }
        }
        Ok(())
    }
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
    let _always_continues = crate::table::parquet::for_each_text_row(
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
            Ok(ControlFlow::Continue(()))
        },
        &mut cells,
    )
    .map_err(malformed)?;
    Ok(out)
}
