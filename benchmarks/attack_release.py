"""Print the independent attack's figures for an open-data release folder (tests/attack/disclosure_attack.py).

    .venv/bin/python benchmarks/attack_release.py OUT/open-data/2018 [--warehouse OUT/warehouse]
        [--previous OLD/open-data/2018 --previous-warehouse OLD/warehouse] [--corrected GSS] [--json]
        [--examples 10]

Earlier releases of the wave (--previous, oldest first) are attacked jointly with the release (differencing);
a warehouse, when given, is the truth every feasible range is checked against (restricted data).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.attack.disclosure_attack import attack_release, load_release, read_truth


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("release", type=Path)
    parser.add_argument("--previous", type=Path, action="append", default=[])
    parser.add_argument("--warehouse", type=Path)
    parser.add_argument("--previous-warehouse", type=Path, action="append", default=[])
    parser.add_argument(
        "--correction-size", type=int, default=1, help="0: no knowledge of the correction's size"
    )
    parser.add_argument(
        "--corrected",
        action="append",
        default=[],
        help="a council (GSS code) known to have sent the last correction, even if none of its rows changed",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--examples", type=int, default=10)
    args = parser.parse_args()
    wave = load_release(args.release).wave
    truth = read_truth(args.warehouse, wave) if args.warehouse else None
    previous_truths = [read_truth(w, wave) for w in args.previous_warehouse]
    report = attack_release(
        args.release,
        args.previous,
        truth,
        previous_truths=previous_truths,
        correction_size=args.correction_size or None,
        corrected=args.corrected,
    )
    print(json.dumps(report.summary(), indent=2) if args.json else report.describe(args.examples))
    return 1 if report.model_errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
