"""Whether a structure lies in a model's domain: its elements were all trained on, and every atom's
environment, as the network sees it, resembles some training atom's.

The network's view of an atom is the rotation-invariant (0e) channels of its node features before the
last block, all members side by side (``node_invariants`` of the ensemble's output). Per element the
training atoms give a mean and a scale per channel; an atom's distance is the root-mean-square of its
standardised channels, divided by that element's edge: the largest distance among its training atoms,
with a margin of ``MARGIN`` (an atom like one trained on scores at most 1/MARGIN). A structure
is in the domain when it holds no unseen element and no atom's distance exceeds 1; its score is the
largest distance. ``nextham domain`` fits the statistics on a run's training split, stores them in the
checkpoint (key ``domain``) and measures on a split how well the flag finds the structures where the
model is worse than H(0).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..conventions import element_symbol

CHECKPOINT_KEY = "domain"
QUANTILE = 1.0  # the edge is this quantile of the training atoms' distances (1: the farthest) ...
MARGIN = 1.1    # ... times this: the maximum over a structure's atoms must not flag the training set itself
# a channel that barely varies over an element's training atoms (ideal crystals) would make every new
# atom look far: its scale is at least this fraction of the channel's spread over all training atoms
SCALE_FLOOR = 0.1


@dataclass
class DomainStatistics:
    """Per element: channel means and scales of the training atoms' node invariants, and the distance
    (``QUANTILE`` of the training atoms' times ``MARGIN``) that marks the domain's edge."""

    elements: dict  # symbol -> {"mean": [...], "scale": [...], "threshold": float, "atoms": int}
    quantile: float = QUANTILE

    @classmethod
    def fit(cls, features: dict, quantile: float = QUANTILE) -> "DomainStatistics":
        """``features``: {symbol: (atoms, channels) array} of the training atoms."""
        every = np.concatenate(list(features.values()))
        floor = SCALE_FLOOR * every.std(axis=0) + 1e-12
        elements = {}
        for symbol, values in sorted(features.items()):
            mean = values.mean(axis=0)
            scale = np.sqrt(values.var(axis=0) + floor ** 2)
            distances = _distances(values, mean, scale)
            elements[symbol] = {"mean": mean.tolist(), "scale": scale.tolist(),
                                "threshold": MARGIN * float(np.quantile(distances, quantile)) + 1e-12,
                                "atoms": len(values)}
        return cls(elements, quantile)

    def to_dict(self) -> dict:
        return {"elements": self.elements, "quantile": self.quantile}

    @classmethod
    def from_dict(cls, data: dict) -> "DomainStatistics":
        return cls(dict(data["elements"]), float(data.get("quantile", QUANTILE)))

    def atom_scores(self, symbols, features) -> np.ndarray:
        """Each atom's distance in units of its element's threshold (inf for an element never trained on)."""
        features = np.asarray(features, dtype=np.float64)
        scores = np.full(len(symbols), np.inf)
        for symbol in set(symbols):
            if symbol not in self.elements:
                continue
            rows = np.array([s == symbol for s in symbols])
            stats = self.elements[symbol]
            scores[rows] = _distances(features[rows], np.asarray(stats["mean"]), np.asarray(stats["scale"])) / stats["threshold"]
        return scores

    def assess(self, symbols, features) -> dict:
        """The domain verdict of one structure: ``in_domain``, ``domain_score`` (largest atom score; > 1
        is outside), the atom it comes from and why."""
        scores = self.atom_scores(list(symbols), features)
        worst = int(np.argmax(scores))
        unseen = sorted({s for s in symbols if s not in self.elements})
        if unseen:
            reason = unseen_reason(unseen)
        elif scores[worst] > 1.0:
            reason = (f"atom {worst} ({symbols[worst]}) lies {scores[worst]:.1f}x as far from the training atoms "
                      f"as the domain's edge")
        else:
            reason = ""
        return {"in_domain": not reason, "domain_score": float(scores[worst]) if np.isfinite(scores[worst]) else None,
                "domain_reason": reason}


def unseen_reason(unseen) -> str:
    """Why a structure holding the elements ``unseen`` (none of them trained on) is out of the domain."""
    return f"{', '.join(sorted(unseen))} in no training structure"


def _distances(values, mean, scale) -> np.ndarray:
    return np.sqrt(np.mean(((values - mean) / scale) ** 2, axis=-1))


def atom_features(output, batch) -> list:
    """[(symbols, (atoms, channels) array)] per structure of a batch, from the ensemble's output."""
    invariants = output["node_invariants"].detach().double().cpu().numpy()
    numbers = batch.atomic_numbers.cpu().numpy()
    structures = batch.node_batch.cpu().numpy()
    return [([element_symbol(int(z)) for z in numbers[structures == b]], invariants[structures == b])
            for b in range(batch.num_structures)]


def fit_domain(module, loader, quantile: float = QUANTILE) -> DomainStatistics:
    """Domain statistics of the atoms ``loader`` yields (a training split), as ``module`` sees them."""
    by_symbol = {}
    module.eval()
    with torch.no_grad():
        for batch in loader:
            for symbols, values in atom_features(module(batch), batch):
                for symbol, row in zip(symbols, values):
                    by_symbol.setdefault(symbol, []).append(row)
    return DomainStatistics.fit({s: np.stack(rows) for s, rows in by_symbol.items()}, quantile)


def module_domain(module) -> DomainStatistics | None:
    """The domain statistics a loaded module's checkpoint held (the first of combined ones), or None."""
    stored = getattr(module, "stored_domain", None)
    return DomainStatistics.from_dict(stored) if stored else None


def store_domain(file, statistics: DomainStatistics):
    """Write ``statistics`` into the checkpoint ``file`` (atomically; the rest of it unchanged)."""
    from pathlib import Path

    from ..io.atomic import atomic_write

    checkpoint = torch.load(file, map_location="cpu", weights_only=False)
    checkpoint[CHECKPOINT_KEY] = statistics.to_dict()
    atomic_write(Path(file), lambda temporary: torch.save(checkpoint, temporary))


def flag_table(rows) -> dict:
    """How well the flag finds harm: ``rows`` = [(in_domain, model_mae, h0_mae)] per structure. Counts
    of structures where the model is worse than H(0) (harmed) or not, flagged (out of domain) or not."""
    table = {"harmed_flagged": 0, "harmed_unflagged": 0, "helped_flagged": 0, "helped_unflagged": 0}
    for in_domain, model, baseline in rows:
        table[f"{'harmed' if model > baseline else 'helped'}_{'unflagged' if in_domain else 'flagged'}"] += 1
    harmed = table["harmed_flagged"] + table["harmed_unflagged"]
    helped = table["helped_flagged"] + table["helped_unflagged"]
    table["harm_found"] = table["harmed_flagged"] / harmed if harmed else None
    table["false_alarms"] = table["helped_flagged"] / helped if helped else None
    return table
