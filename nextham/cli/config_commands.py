"""``nextham configs``: list the configs shipped with the package, or copy them to start your own."""
from __future__ import annotations

import shutil
from pathlib import Path


def add_parser(subparsers):
    configs = subparsers.add_parser("configs", help="list the packaged configs (or copy them with --copy DIR)")
    configs.add_argument("--copy", default=None, metavar="DIR", help="copy every packaged config into DIR")
    configs.set_defaults(handler=run_configs)


def run_configs(args):
    from ..configs import CONFIG_ROOT, packaged_configs

    if args.copy:
        target = Path(args.copy)
        for name in packaged_configs():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(CONFIG_ROOT / name, target / name)
        print(f"copied {len(packaged_configs())} configs to {target} (their base: references resolve there first)")
        return 0
    print(f"packaged configs in {CONFIG_ROOT} (use the name with --config, e.g. --config fit):")
    for name in packaged_configs():
        print(f"  {name}")
    return 0
