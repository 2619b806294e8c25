"""``nextham data generate | inspect | convert | compact``."""
from __future__ import annotations

import sys
from pathlib import Path



def add_parser(subparsers):
    data = subparsers.add_parser("data", help="generate, inspect and convert Hamiltonian datasets")
    commands = data.add_subparsers(dest="data_command", required=True)

    generate = commands.add_parser("generate", help="compute H(0), H(T), S with PySCF into sharded HDF5")
    generate.add_argument("--config", required=True, help="YAML config: a path or a packaged one (data/generate.yaml, data/embedded.yaml)")
    generate.add_argument("overrides", nargs="*", help="dotted overrides, e.g. output=data/run1 workers=2")
    generate.add_argument("--no-progress", action="store_true")
    generate.set_defaults(handler=run_generate)

    inspect = commands.add_parser("inspect", help="summarise and check a dataset (default: the embedded one)")
    inspect.add_argument("path", nargs="?", default=None, help="dataset folder (manifest.json + shards)")
    inspect.add_argument("--no-check", action="store_true", help="skip the eigenvalue and hermiticity checks")
    inspect.add_argument("--json", default=None, help="also write the summary as JSON to this file")
    inspect.set_defaults(handler=run_inspect)

    convert = commands.add_parser("convert", help="convert between nextham shards and DeepH folders")
    convert.add_argument("source")
    convert.add_argument("destination")
    convert.add_argument("--from", dest="source_format", required=True, choices=["shards", "deeph", "deeph-legacy"])
    convert.add_argument("--to", dest="target_format", required=True, choices=["shards", "deeph", "deeph-legacy"])
    convert.add_argument("--spinful", action="store_true",
                         help="write spinless structures as H ⊗ I2 too (a DeepH-pack training set is all one kind)")
    convert.set_defaults(handler=run_convert)

    compact = commands.add_parser("compact", help="rewrite a dataset's shards compressed (every array, H(T) as its "
                                                  "exact ΔH), checked to read back unchanged")
    compact.add_argument("path", help="dataset folder (manifest.json + shards)")
    compact.add_argument("--compression", default="gzip", help="HDF5 filter (default gzip)")
    compact.add_argument("--no-progress", action="store_true")
    compact.set_defaults(handler=run_compact)


def run_generate(args):
    from ..configs import load_config
    from ..dft.generate import generate_dataset

    config = load_config(args.config, args.overrides)
    summary = generate_dataset(config, progress=not args.no_progress)
    print(f"{summary.written} structures written, {summary.skipped} already present, "
          f"{len(summary.failed)} failed, {summary.seconds:.0f} s -> {summary.output}")
    if summary.kept_failed:
        print(f"{summary.kept_failed} structures failed their SCF or band check in an earlier run and were not "
              f"computed again (retry_failed=true does)")
    for label, reason in summary.failed.items():
        print(f"  failed {label}: {reason}", file=sys.stderr)
    return 1 if summary.failed else 0


def run_inspect(args):
    from ..assets import embedded_dataset_path
    from ..io.dataset_report import format_summary, inspect_dataset
    from ..io.jsonfile import write_json

    path = Path(args.path) if args.path else embedded_dataset_path()
    summary = inspect_dataset(path, check=not args.no_check)
    print(format_summary(summary))
    if args.json:
        write_json(args.json, summary)
    return 0 if summary["all_checks_passed"] else 1


def run_convert(args):
    from ..io.convert import convert

    count = convert(args.source, args.destination, args.source_format, args.target_format, spinful=args.spinful)
    print(f"converted {count} structures: {args.source} ({args.source_format}) -> {args.destination} ({args.target_format})")
    return 0


def run_compact(args):
    from ..io.compact import compact_dataset

    result = compact_dataset(args.path, compression=args.compression, progress=not args.no_progress)
    print(f"compacted {result['shards']} shards of {args.path}: {result['bytes_before'] / 1e6:.1f} MB -> "
          f"{result['bytes_after'] / 1e6:.1f} MB, every structure read back unchanged")
    return 0
