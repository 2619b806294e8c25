"""``nextham`` console entry point. Commands are registered in COMMANDS beside their parsers."""
from __future__ import annotations

import argparse
import sys

from . import config_commands, data_commands, model_commands, predict_commands

COMMANDS = {
    "data": data_commands,
    "model": model_commands,  # fit, test, domain, bands: a model's training and evaluation
    "predict": predict_commands,
    "configs": config_commands,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nextham", description="Deep-learning Kohn–Sham Hamiltonians (NextHAM).")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, module in COMMANDS.items():
        module.add_parser(subparsers)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; finished work was kept", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError) as error:  # DataError is a ValueError: it names file and structure
        print(f"nextham: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
