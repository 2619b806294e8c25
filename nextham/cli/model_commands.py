"""``nextham fit | test | domain | bands`` (and the checkpoint and data plumbing ``predict`` shares)."""
from __future__ import annotations

from pathlib import Path


def _common(parser, checkpoint=False, config_required=True):
    parser.add_argument("--config", required=config_required,
                        help="YAML config: a path or a packaged config (fit; see `nextham configs`)")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. trainer.max_epochs=5")
    if checkpoint:
        parser.add_argument("--ckpt", nargs="+", default=None,
                            help="checkpoint files or run directories (default: <output>/checkpoints/best.ckpt, else "
                                 "the shipped checkpoint the config names); several combine separately trained members")


def add_parser(subparsers):
    fit = subparsers.add_parser("fit", help="train the distance-range members on a dataset")
    _common(fit)
    fit.add_argument("--restart", action="store_true", help="ignore an existing last.ckpt and start afresh")
    fit.set_defaults(handler=run_fit)

    test = subparsers.add_parser("test", help="Gauge MAE report (JSON, Markdown, PNGs) and saved predictions")
    _common(test, checkpoint=True)
    test.add_argument("--split", default="test")
    test.set_defaults(handler=run_test)

    domain = subparsers.add_parser("domain", help="fit the domain check on the training split, store it in the "
                                                  "checkpoint, then test a split with it (report.json's domain table)")
    _common(domain, checkpoint=True)
    domain.add_argument("--split", default="test", help="the split the flag is measured on")
    domain.set_defaults(handler=run_domain)

    bands = subparsers.add_parser("bands", help="band-structure PNG, DFT vs predicted, for one structure")
    _common(bands, checkpoint=True)
    bands.add_argument("--structure", required=True, help="structure label")
    bands.add_argument("--out", default=None, help="PNG path (default <output>/bands_<label>.png)")
    bands.set_defaults(handler=run_bands)


def _config(args):
    from ..configs import load_config
    from ..configs.schema import check_training_config

    return check_training_config(load_config(args.config, args.overrides))


def _checkpoints(args, config):
    """--ckpt; else the run's best.ckpt (its last.ckpt where it has none); else the shipped checkpoint the
    config names (``shipped_checkpoint``)."""
    from ..assets import shipped_checkpoint
    from ..train import best_checkpoint

    if args.ckpt:
        return args.ckpt
    best = best_checkpoint(config)
    if best is not None:
        return [best]
    if config.get("shipped_checkpoint"):
        return [shipped_checkpoint(config["shipped_checkpoint"])]
    raise FileNotFoundError(f"no checkpoint given and none at {Path(config['output']) / 'checkpoints/last.ckpt'}")


def _data_and_module(args):
    from ..train import build_datamodule, load_module

    config = _config(args)
    data = build_datamodule(config)
    checkpoints = _checkpoints(args, config)
    module = load_module(checkpoints)
    data.serve(module, model=f"checkpoint {', '.join(map(str, checkpoints))}")
    return config, data, module, checkpoints


def run_fit(args):
    from ..train import fit

    config = _config(args)
    trainer, module, resumed = fit(config, resume=not args.restart)
    if not trainer.is_global_zero:  # under DDP every rank returns here; one report is enough
        return 0
    if resumed:
        print(f"resumed from {resumed}")
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
    print(f"finished {trainer.current_epoch} epochs; " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items())))
    print(f"checkpoints in {Path(config['output']) / 'checkpoints'}, TensorBoard logs in {Path(config['output']) / 'logs'}")
    return 0


def run_test(args):
    from ..evaluate.report import format_report, run_test as test

    from ..evaluate.domain import module_domain

    config, data, module, checkpoints = _data_and_module(args)
    output = Path(config["output"]) / "test"
    report = test(module, data, config["callbacks"]["kspace"], output, split=args.split, checkpoints=checkpoints,
                  domain=module_domain(module))
    print(format_report(report))
    print(f"report, plots and predictions in {output}")
    return 0


def run_domain(args):
    """Domain statistics from the training split's atoms as the checkpoint's network sees them, written
    into every checkpoint file given; then the test report of ``--split`` with each structure's verdict
    and how many of the structures where the model is worse than H(0) the flag finds."""
    from ..evaluate.domain import fit_domain, store_domain
    from ..evaluate.report import format_report, run_test as test
    from ..train import checkpoint_files

    config, data, module, checkpoints = _data_and_module(args)
    statistics = fit_domain(module, data.loader(data.hparams.train_split))
    files = checkpoint_files(checkpoints)
    for file in files:
        store_domain(file, statistics)
    atoms = sum(stats["atoms"] for stats in statistics.elements.values())
    print(f"domain statistics of {atoms} training atoms ({len(statistics.elements)} elements) written into "
          f"{', '.join(map(str, files))}")
    output = Path(config["output"]) / "domain"
    report = test(module, data, config["callbacks"]["kspace"], output, split=args.split, checkpoints=files,
                  domain=statistics)
    print(format_report(report))
    print(f"report with the domain table in {output}")
    return 0


def run_bands(args):
    import torch

    from ..evaluate.plots import band_comparison_figure, close

    config, data, module, _ = _data_and_module(args)
    record = data.dataset.read(args.structure)
    batch = data.collate([record])
    with torch.no_grad():
        predicted = module(batch)["hamiltonian"]
    figure, label = band_comparison_figure(predicted, batch, 0, align_gauge=config["callbacks"]["kspace"]["align_gauge"])
    out = Path(args.out or Path(config["output"]) / f"bands_{label}.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    close(figure)
    print(f"band structure written to {out}")
    return 0
