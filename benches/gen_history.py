#!/usr/bin/env python3
"""A history of a data directory, one version at a time, for storage benchmarks.

    python3 benches/gen_history.py init DIR [--csvs 24] [--min-mb 1] [--max-mb 4] [--jsonl-mb 0]
    python3 benches/gen_history.py step DIR --version N [--edit 0.01] [--append 0.005]

`init` writes version 0: CSV files of MIN..MAX MB each and, with --jsonl-mb, one JSONL shard.
`step` turns the directory into version N in place: in every CSV it edits a scattered fraction
of cells (--edit, of all cells) and appends rows (--append, a fraction of the rows); the JSONL
shard grows by appended lines (--append of its lines). Everything is seeded by the version
number, so the same commands always give the same bytes.
"""
import argparse
import json
import os
import random

SPECIES = ["Adelie", "Gentoo", "Chinstrap"]
ISLANDS = ["Torgersen", "Biscoe", "Dream"]
HEADER = ["id", "species", "island", "bill_length_mm", "body_mass_g", "sex", "note"]


def row(rng, i):
    return [
        str(i),
        SPECIES[rng.randrange(3)],
        ISLANDS[rng.randrange(3)],
        f"{rng.uniform(30, 60):.1f}",
        str(rng.randrange(2500, 6500)),
        rng.choice(["male", "female", "NA"]),
        f"observation {rng.randrange(10**6)}",
    ]


def write_csv(path, rows):
    with open(path, "w") as out:
        out.write(",".join(HEADER) + "\n")
        for r in rows:
            out.write(",".join(r) + "\n")


def read_csv(path):
    with open(path) as inp:
        lines = inp.read().splitlines()
    return [line.split(",") for line in lines[1:]]


def init(args):
    os.makedirs(args.dir, exist_ok=True)
    rng = random.Random(0)
    for n in range(args.csvs):
        target = rng.uniform(args.min_mb, args.max_mb) * 1024 * 1024
        rows, size, i = [], 0, 0
        while size < target:
            r = row(rng, i)
            rows.append(r)
            size += sum(len(c) for c in r) + len(r)
            i += 1
        write_csv(os.path.join(args.dir, f"table_{n:02d}.csv"), rows)
    if args.jsonl_mb:
        with open(os.path.join(args.dir, "shard.jsonl"), "w") as out:
            size, i = 0, 0
            while size < args.jsonl_mb * 1024 * 1024:
                line = json.dumps({"id": i, "text": f"sample {rng.randrange(10**9)}", "label": rng.randrange(10)}) + "\n"
                out.write(line)
                size += len(line)
                i += 1


def step(args):
    rng = random.Random(args.version)
    for name in sorted(os.listdir(args.dir)):
        path = os.path.join(args.dir, name)
        if name.endswith(".csv"):
            rows = read_csv(path)
            cells = len(rows) * len(HEADER)
            for _ in range(int(cells * args.edit)):
                r = rows[rng.randrange(len(rows))]
                column = rng.randrange(1, len(HEADER))
                r[column] = row(rng, int(r[0]))[column]
            start = len(rows)
            rows.extend(row(rng, start + k) for k in range(max(1, int(len(rows) * args.append))))
            write_csv(path, rows)
        elif name.endswith(".jsonl"):
            with open(path) as inp:
                count = sum(1 for _ in inp)
            with open(path, "a") as out:
                for k in range(max(1, int(count * args.append))):
                    out.write(json.dumps({"id": count + k, "text": f"sample {rng.randrange(10**9)}", "label": rng.randrange(10)}) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("init")
    p.add_argument("dir")
    p.add_argument("--csvs", type=int, default=24)
    p.add_argument("--min-mb", type=float, default=1.0)
    p.add_argument("--max-mb", type=float, default=4.0)
    p.add_argument("--jsonl-mb", type=float, default=0)
    p = sub.add_parser("step")
    p.add_argument("dir")
    p.add_argument("--version", type=int, required=True)
    p.add_argument("--edit", type=float, default=0.01)
    p.add_argument("--append", type=float, default=0.005)
    args = parser.parse_args()
    init(args) if args.command == "init" else step(args)


if __name__ == "__main__":
    main()
