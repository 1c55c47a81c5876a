"""``pysciml reproduce PAPER``: one command per paper, a report side by side with the paper.

Registry :data:`PAPERS` maps the paper id to its :class:`~pysciml.reproduce.core.Paper`:

* ``000`` — Josias & Brink, "Jacobian Norm Regularisation and Conditioning in Neural ODEs" (SACAIR 2022);
* ``001`` — Janvier, Salomon, Meunier, "Jacobian Regularization Stabilizes Long-Term Integration of Neural
  Differential Equations" (arXiv:2602.04608);
* ``002`` — De Marinis, Guglielmi, Savostianov, Sicilia, Tudisco, "Stability of neural ordinary differential
  equations" (methods in arXiv:2402.13092 and arXiv:2501.10740);
* ``003`` — Alvarez Loya, Serino, Burby, Tang, "Structure-Preserving Neural ODEs for Stiff Systems"
  (arXiv:2503.01775).
* ``004`` — Quaglino, Gallieri, Masci & Koutník, "SNODE: Spectral Discretization of Neural ODEs for System
  Identification" (ICLR 2020, arXiv:1906.07038).

:func:`run` resolves the id and calls :func:`~pysciml.reproduce.core.reproduce` (modes ``smoke``, ``quick``,
``full``; per-run caching; ``results.json``, ``report.md``, ``figures/``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import UnknownNameError
from .alvarez_loya import AlvarezLoya
from .core import MODES, Claim, Paper, RunSpec, Verdict, count_verdict, mean_std, reproduce
from .de_marinis import DeMarinis
from .janvier import JanvierSalomonMeunier
from .josias_brink import JosiasBrink
from .quaglino import Quaglino

__all__ = ["MODES", "PAPERS", "AlvarezLoya", "Claim", "DeMarinis", "JanvierSalomonMeunier", "JosiasBrink", "Paper",
           "Quaglino", "RunSpec", "Verdict", "count_verdict", "get_paper", "mean_std", "reproduce", "run"]

PAPERS: dict[str, Callable[[], Paper]] = {"000": JosiasBrink, "001": JanvierSalomonMeunier, "002": DeMarinis,
                                          "003": AlvarezLoya, "004": Quaglino}


def get_paper(paper_id: str) -> Paper:
    """The :class:`Paper` registered as ``paper_id`` (a key of :data:`PAPERS` such as ``"001"``; leading zeros may
    be omitted: ``"1"``)."""
    key = str(paper_id).strip().zfill(3)
    if key not in PAPERS:
        raise UnknownNameError(f"no reproduction registered for paper {paper_id!r}; available: {sorted(PAPERS)}")
    return PAPERS[key]()


def run(paper_id: str, mode: str = "quick", **options: Any) -> Path:
    """Reproduce paper ``paper_id`` in ``mode``; ``options`` go to :func:`reproduce` (``seeds``, ``out``, ...)."""
    return reproduce(get_paper(paper_id), mode, **options)
