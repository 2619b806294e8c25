"""Errors raised on bad input: each names the file and the structure it concerns, so that a user
knows what to fix. Every one is a ``ValueError`` (the command line prints it on one line)."""


class DataError(ValueError):
    """Base class: problems with Hamiltonian data on disk or in memory."""

    def __init__(self, message, path=None, structure=None):
        self.path = str(path) if path is not None else None
        self.structure = structure
        where = []
        if self.path:
            where.append(f"file {self.path}")
        if structure is not None:
            where.append(f"structure {structure!r}")
        prefix = f"[{', '.join(where)}] " if where else ""
        super().__init__(prefix + message)


class CorruptShardError(DataError):
    """A shard cannot be read or its index arrays are inconsistent."""


class MissingBlockError(DataError):
    """An on-site block or the Hermitian partner H_ji(-R) of a stored H_ij(R) is absent."""


class BasisMismatchError(DataError):
    """Orbital counts or shells disagree with the dataset's basis."""


class UnknownElementError(DataError):
    """An element has no basis in the dataset or in the generator's settings."""


class NonFiniteBlockError(DataError):
    """A block contains NaN or inf."""


class ValidationFailedError(DataError):
    """A generated structure fails its physics check (e.g. eigenvalues differ from the SCF's own)."""
