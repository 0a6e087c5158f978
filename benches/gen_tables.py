#!/usr/bin/env python3
"""A history of many small tables, one version at a time: the shape of most teams' data.

    python3 benches/gen_tables.py init DIR [--tables 400]
    python3 benches/gen_tables.py step DIR --version N [--changed 0.03]

`init` writes version 0: TABLES tables (four in five CSV with quoted text fields, the rest
JSONL) of 20 to 3,000 rows each (a few KB to a few hundred KB), in folders by region and
topic. `step` turns DIR into version N in place: a fraction (--changed) of the tables change,
half by appended rows and half by edited cells; every tenth version adds two tables and
removes one. Everything is seeded by the version number, so the same commands always give the
same bytes. Copy DIR with `cp -a` to re-extract a version (new inodes, the same mtimes), as
unpacking an archive of each version would.
"""
import argparse
import csv
import io
import json
import os
import random

REGIONS = ["north", "south", "east", "west", "central"]
TOPICS = ["sales", "sensors", "survey", "traffic", "weather", "labels"]
CATEGORIES = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
LABELS = ["cat", "dog", "bird", "fish"]
HEADER = ["id", "date", "region", "value", "count", "category", "label", "note"]
MTIME = 1_700_000_000


def record(rng, i):
    return {
        "id": i,
        "date": f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
        "region": rng.choice(REGIONS),
        "value": round(rng.uniform(-100, 100), 3),
        "count": rng.randrange(0, 10_000),
        "category": rng.choice(CATEGORIES),
        "label": rng.choice(LABELS) if rng.random() > 0.02 else "",
        "note": rng.choice(["", "ok", "checked, twice", 'said "fine"', "n/a"]),
    }


def write_table(path, rows):
    if path.endswith(".csv"):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        for r in rows:
            writer.writerow([r[k] for k in HEADER])
        text = out.getvalue()
    else:
        text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows)
    with open(path, "w") as f:
        f.write(text)
    os.utime(path, (MTIME, MTIME))


def read_table(path):
    with open(path) as f:
        if path.endswith(".csv"):
            rows = list(csv.DictReader(f))
            for r in rows:
                r["id"] = int(r["id"])
            return rows
        return [json.loads(line) for line in f]


def new_table(root, rng, n):
    region, topic = rng.choice(REGIONS), rng.choice(TOPICS)
    ext = "csv" if rng.random() < 0.8 else "jsonl"
    folder = os.path.join(root, region, topic)
    os.makedirs(folder, exist_ok=True)
    rows = int(20 * (150 ** rng.random()))
    path = os.path.join(folder, f"table_{n:05d}.{ext}")
    write_table(path, [record(rng, i) for i in range(rows)])


def tables(root):
    found = []
    for folder, _, files in os.walk(root):
        found += [os.path.join(folder, f) for f in files]
    return sorted(found)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["init", "step"])
    parser.add_argument("dir")
    parser.add_argument("--tables", type=int, default=400)
    parser.add_argument("--version", type=int, default=0)
    parser.add_argument("--changed", type=float, default=0.03)
    args = parser.parse_args()
    rng = random.Random(args.version * 7919 + 1)
    if args.action == "init":
        for n in range(args.tables):
            new_table(args.dir, rng, n)
        return
    all_tables = tables(args.dir)
    for path in rng.sample(all_tables, max(1, int(len(all_tables) * args.changed))):
        rows = read_table(path)
        if rng.random() < 0.5:
            start = max((r["id"] for r in rows), default=-1) + 1
            rows += [record(rng, start + i) for i in range(rng.randrange(1, 50))]
        else:
            for _ in range(max(1, len(rows) // 50)):
                r = rows[rng.randrange(len(rows))]
                r["value"] = round(rng.uniform(-100, 100), 3)
                r["label"] = rng.choice(LABELS)
        write_table(path, rows)
    if args.version % 10 == 0:
        os.remove(rng.choice(all_tables))
        for k in range(2):
            new_table(args.dir, rng, 10_000 + args.version * 2 + k)


if __name__ == "__main__":
    main()
