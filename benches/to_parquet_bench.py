#!/usr/bin/env python3
"""The Parquet twins of gen_csv.py's old.csv and new.csv, written by pyarrow (uncompressed, no
dictionary: about the size of the CSV; `id` kept as text so keys compare as in the CSV).

    python3 benches/to_parquet_bench.py DIR    # needs pyarrow
"""
import os
import sys

import pyarrow as pa
import pyarrow.csv as pv
import pyarrow.parquet as pq

for name in ("old", "new"):
    table = pv.read_csv(
        os.path.join(sys.argv[1], f"{name}.csv"),
        convert_options=pv.ConvertOptions(column_types={"id": pa.string()}),
    )
    pq.write_table(table, os.path.join(sys.argv[1], f"{name}.parquet"),
                   compression="none", use_dictionary=False)
