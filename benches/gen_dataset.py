#!/usr/bin/env python3
"""Deterministic dataset generator for dv benchmarks.

Writes FILES files totalling about MB megabytes under OUT, in nested train/val/test folders:
half CSV and JSONL shards (compressible text), half incompressible binary files (images-like).

    python3 benches/gen_dataset.py --files 20000 --mb 500 --out /tmp/ds
"""
import argparse
import os
import random


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--mb", type=float, default=500)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    total = int(args.mb * 1024 * 1024)
    per_file = max(1, total // args.files)
    splits = ["train"] * 8 + ["val", "test"]
    words = ["penguin", "adelie", "gentoo", "chinstrap", "island", "dream", "biscoe", "torgersen"]
    for i in range(args.files):
        split = splits[i % len(splits)]
        folder = os.path.join(args.out, split, f"shard-{i % 100:03d}")
        os.makedirs(folder, exist_ok=True)
        size = max(1, int(per_file * rng.uniform(0.5, 1.5)))
        kind = i % 4
        if kind == 0:
            path = os.path.join(folder, f"rows-{i:06d}.csv")
            lines = ["id,species,island,bill_mm,mass_g"]
            n = 0
            while n < size:
                line = f"{i * 1000 + len(lines)},{rng.choice(words)},{rng.choice(words)},{rng.uniform(30, 60):.1f},{rng.randint(2500, 6500)}"
                lines.append(line)
                n += len(line) + 1
            data = ("\n".join(lines) + "\n").encode()
        elif kind == 1:
            path = os.path.join(folder, f"records-{i:06d}.jsonl")
            out, n = [], 0
            while n < size:
                line = '{"id": %d, "text": "%s", "label": %d}' % (i * 1000 + len(out), " ".join(rng.choice(words) for _ in range(8)), rng.randint(0, 9))
                out.append(line)
                n += len(line) + 1
            data = ("\n".join(out) + "\n").encode()
        else:
            path = os.path.join(folder, f"image-{i:06d}.bin")
            data = rng.randbytes(size)
        with open(path, "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
