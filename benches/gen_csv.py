#!/usr/bin/env python3
"""Two versions of a large CSV differing in about 1% of rows (changed, deleted, appended).

    python3 benches/gen_csv.py --mb 1024 --out /tmp/rows   # writes old.csv and new.csv
"""
import argparse
import os
import random


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=1024)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(11)
    target = args.mb * 1024 * 1024
    species = ["Adelie", "Gentoo", "Chinstrap"]
    islands = ["Torgersen", "Biscoe", "Dream"]
    with open(os.path.join(args.out, "old.csv"), "w") as old, open(os.path.join(args.out, "new.csv"), "w") as new:
        header = "id,species,island,bill_length_mm,body_mass_g,note\n"
        old.write(header)
        new.write(header)
        written, i = 0, 0
        while written < target:
            row = f"{i},{species[i % 3]},{islands[i % 7 % 3]},{30 + (i * 7919) % 300 / 10},{2500 + (i * 104729) % 4000},sample row {i}\n"
            old.write(row)
            written += len(row)
            r = rng.random()
            if r < 0.004:
                continue  # deleted in the new version
            if r < 0.008:
                row = row.replace(",sample row", ",edited row")
            new.write(row)
            if r > 0.998:
                new.write(f"{i}.5,Adelie,Dream,40.0,4000,appended row\n")
            i += 1


if __name__ == "__main__":
    main()
