"""Command line for the benchmarks: `python -m benchmarks rerun|reports|waves|cold` (see --help)."""

from __future__ import annotations

import argparse

from maturity.settings import configure_offline_environment


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    rerun = commands.add_parser("rerun", help="council rerun against national run, cold and warm")
    rerun.add_argument("--scale", type=int, default=1, help="demo study scale (default 1)")
    rerun.add_argument("--repeats", type=int, default=3, help="warm repetitions, best taken (default 3)")
    reports = commands.add_parser("reports", help="render all reports in both languages, HTML then PDF")
    reports.add_argument("--workers", type=int, default=None, help="PDF processes (default: one per core)")
    waves = commands.add_parser("waves", help="second wave's national run and rerun against the first's")
    waves.add_argument("--rounds", type=int, default=2, help="alternating rounds (default 2)")
    cold = commands.add_parser("cold", help="cold CLI run and rerun against a plain pandas script")
    cold.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    cold.add_argument("--serve", action="store_true", help="also time a rerun with `maturity serve` running")
    cold.add_argument(
        "--fresh-install", action="store_true", help="also time the first run after a fresh uv sync"
    )
    arguments = parser.parse_args()
    configure_offline_environment()
    if arguments.command == "rerun":
        from benchmarks import rerun as benchmark

        print(benchmark.run(arguments.scale, arguments.repeats))
    elif arguments.command == "waves":
        from benchmarks import waves as benchmark

        print(benchmark.run(arguments.rounds))
    elif arguments.command == "cold":
        from benchmarks import cold as benchmark

        print(benchmark.run(arguments.rounds, arguments.serve, arguments.fresh_install))
    elif arguments.command == "reports":
        from benchmarks import reports as benchmark

        print(benchmark.run(arguments.workers))


if __name__ == "__main__":
    main()
