"""The profile of one table computed independently of dv: Python's csv module for CSV, pyarrow
for Parquet. Prints JSON shaped like a table of `dv show --profile --json`.

    python profile_check.py FILE csv|parquet [LABEL_COLUMN...]
"""
import collections
import csv
import json
import sys

NULLS = {"", "NA", "N/A", "null", "NaN"}


def text_type(values):
    """integer, float, boolean or string, as dv names a text column's type."""
    kinds = set()
    for value in values:
        if value.lower() in ("true", "false"):
            kinds.add("boolean")
            continue
        try:
            int(value)
            kinds.add("integer")
            continue
        except ValueError:
            pass
        try:
            float(value)
            kinds.add("float" if value.lower() not in ("inf", "-inf", "infinity", "nan") else "string")
        except ValueError:
            kinds.add("string")
    if not kinds:
        return "null"
    if kinds <= {"integer"}:
        return "integer"
    if kinds <= {"integer", "float"}:
        return "float"
    if kinds == {"boolean"}:
        return "boolean"
    return "string"


def profile_csv(path, labels):
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [tuple(row) for row in reader]
    columns = []
    for i, name in enumerate(header):
        values = [row[i] for row in rows]
        columns.append({
            "name": name,
            "type": text_type([v for v in values if v not in NULLS]),
            "nulls": sum(1 for v in values if v in NULLS),
        })
    counted = {}
    for label in labels:
        i = header.index(label)
        counted[label] = dict(collections.Counter(row[i] for row in rows if row[i] not in NULLS))
    return {
        "rows": len(rows),
        "duplicate_rows": len(rows) - len(set(rows)),
        "columns": columns,
        "labels": counted,
    }


def profile_parquet(path, labels):
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path)

    def type_name(t):
        if pa.types.is_integer(t):
            return "integer"
        if pa.types.is_floating(t):
            return "float"
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return "string"
        if pa.types.is_boolean(t):
            return "boolean"
        return str(t)

    distinct = table.group_by(table.column_names).aggregate([]).num_rows
    counted = {}
    for label in labels:
        counts = pc.value_counts(table[label].drop_null())
        counted[label] = {str(c["values"]): c["counts"] for c in counts.to_pylist()}
    return {
        "rows": table.num_rows,
        "duplicate_rows": table.num_rows - distinct,
        "columns": [
            {"name": f.name, "type": type_name(f.type), "nulls": table[f.name].null_count}
            for f in table.schema
        ],
        "labels": counted,
    }


def main():
    path, kind, labels = sys.argv[1], sys.argv[2], sys.argv[3:]
    profile = profile_csv(path, labels) if kind == "csv" else profile_parquet(path, labels)
    print(json.dumps(profile, sort_keys=True))


main()
