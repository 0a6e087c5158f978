"""Writes a CSV file as Parquet with pyarrow (its own type inference and null handling), the
way a data team's pipeline would.

    python to_parquet.py IN.csv OUT.parquet [ROW_GROUP_SIZE]
"""
import sys

import pyarrow.csv as pv
import pyarrow.parquet as pq

table = pv.read_csv(sys.argv[1])
row_group_size = int(sys.argv[3]) if len(sys.argv) > 3 else None
pq.write_table(table, sys.argv[2], row_group_size=row_group_size)
