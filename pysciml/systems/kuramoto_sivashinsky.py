"""Kuramoto–Sivashinsky equation, pseudo-spectral in space (seed 001 §4.3, seed 003 §5.3).

    u_t = -u u_x - u_xx - u_xxxx,   x ∈ [0, L) periodic,

on ``N`` equispaced points ``x_j = j L / N``; the state is the real-space field ``u(x_j)`` ``[N]``.
Derivatives are spectral on the ``np.fft.rfft`` modes ``m = 0..N/2`` with ``k = 2π m / L``: the linear
part has the Fourier symbol ``k² - k⁴`` (``-∂x² - ∂x⁴``); the nonlinear term is written conservatively,
``N(u) = -½ ∂x(u²)``, with the Nyquist mode of the first derivative set to zero (as for any odd
derivative, cf. ``scipy.fftpack.diff`` used by the LPSDA generator). Dealiasing: with ``dealias=True``
the 2/3 rule removes the modes ``m >= N/3`` of ``u²`` before differentiation; the default is
``dealias=False``, matching the LPSDA generator and the Linot & Graham data (both undealiased).

Presets (``preset=``):

* ``"linot"`` — L = 22, N = 64 (Linot & Graham 2020/2023, seed 003 §5.3). Initial conditions: the
  random-sine family below with wavenumbers ``l ∈ {1, 2, 3}`` — exactly the linearly unstable modes
  ``k = 2π l / 22 < 1`` (our choice; the source codes start from small random fields and discard a
  transient). Set ``burn_in > 0`` to integrate every initial field for that long so that samples lie on the
  attractor (default 0 for this preset).
* ``"lpsda"`` — L = 64, N = 256 (Brandstetter et al. 2022 generator, used by seed 001 with fixed L):
  ``u0(x) = Σ_{i=1}^{10} A_i sin(2π l_i x / L + φ_i)``, ``A_i ~ U(-0.5, 0.5)``, ``φ_i ~ U(0, 2π)``,
  ``l_i ∈ {1, 2}``. Default ``burn_in = 72``: LPSDA discards the first 360 steps of ``Δt = 0.2`` of each
  trajectory, i.e. 72 time units.

The burn-in integrates all initial fields at once with the batched spectral ETDRK4 solver (fixed step
``BURN_IN_DT = 0.05``, four steps per LPSDA step; Cox & Matthews 2002, Kassam & Trefethen 2005), a few FFTs per
step for the whole batch.

``L`` and ``N`` given explicitly override the preset. The spatial mean ``∫u dx / L`` is conserved
(the ``m = 0`` mode has zero symbol and ``∂x`` kills it). Stiff: the most negative eigenvalue of the
linear part is ``k_max² - k_max⁴`` with ``k_max = π N / L`` (≈ -4.8e3 for linot, -2.5e4 for lpsda).
"""

from __future__ import annotations

import dataclasses
from functools import cached_property
from typing import Any

import numpy as np
import torch

from ..errors import ValidationError
from ._common import Array, check_choice, check_int, check_positive, const, namespace
from .base import System, SystemParams

#: (L, N, sine wavenumbers of the random initial condition) per preset.
_PRESETS = {"linot": (22.0, 64, (1, 2, 3)), "lpsda": (64.0, 256, (1, 2))}
#: Default burn-in time per preset (LPSDA: 360 discarded steps of dt = 0.2).
_BURN_IN = {"linot": 0.0, "lpsda": 360 * 0.2}
#: Fixed ETDRK4 step of the burn-in.
BURN_IN_DT = 0.05
_SINE_BLOCK = 2 ** 18  # grid values per block of the random-sine sum


@dataclasses.dataclass(frozen=True)
class KuramotoSivashinskyParams(SystemParams):
    """Preset, domain length ``L``, grid size ``N`` (even), dealiasing flag and burn-in time (``None``: the
    preset's default)."""

    preset: str = "linot"
    L: float | None = None
    N: int | None = None
    dealias: bool = False
    burn_in: float | None = None

    def __post_init__(self) -> None:
        check_choice("preset", self.preset, tuple(_PRESETS))
        length, n, _ = _PRESETS[self.preset]
        object.__setattr__(self, "L", check_positive("L", length if self.L is None else self.L))
        n = check_int("N", n if self.N is None else self.N, 8)
        if n % 2:
            raise ValueError(f"N must be even (real FFT with a Nyquist mode), got {n}")
        object.__setattr__(self, "N", n)
        if not isinstance(self.dealias, (bool, np.bool_)):
            raise ValueError(f"dealias must be True or False, got {self.dealias!r}")
        burn_in = _BURN_IN[self.preset] if self.burn_in is None else self.burn_in
        object.__setattr__(self, "burn_in", check_positive("burn_in", burn_in, allow_zero=True))


class KuramotoSivashinsky(System):
    """Pseudo-spectral KS on ``N`` real-space points, semilinear ``L u + N(u)``, stiff."""

    name = "kuramoto_sivashinsky"
    Params = KuramotoSivashinskyParams
    semilinear = True
    stiff = True
    default_t_span = (0.0, 100.0)
    params: KuramotoSivashinskyParams

    @property
    def dim(self) -> int:
        return int(self.params.N)

    def grid(self) -> np.ndarray:
        """Grid points ``x_j = j L / N`` ``[N]``."""
        return np.arange(self.dim) * (self.params.L / self.dim)

    def wavenumbers(self) -> np.ndarray:
        """``k = 2π m / L`` for the ``np.fft.rfft`` modes ``m = 0..N/2`` ``[N/2 + 1]``."""
        return 2.0 * np.pi * np.arange(self.dim // 2 + 1) / self.params.L

    def fourier_symbol(self) -> np.ndarray:
        """Diagonal of the linear operator on the rfft modes, ``k² - k⁴`` ``[N/2 + 1]`` (real)."""
        k = self.wavenumbers()
        return k ** 2 - k ** 4

    @cached_property
    def _nl_symbol(self) -> np.ndarray:
        """``-½ i k`` times the dealiasing mask, Nyquist zeroed ``[N/2 + 1]`` complex."""
        k = self.wavenumbers()
        sym = -0.5j * k
        sym[-1] = 0.0
        if self.params.dealias:
            sym[np.arange(k.size) >= self.dim / 3.0] = 0.0
        return sym

    @staticmethod
    def _spectral(symbol: np.ndarray, u: Array) -> Array:
        """Apply the real-space operator with rfft symbol ``symbol`` to ``u [..., N]`` (numpy or torch)."""
        xp, n = namespace(u), u.shape[-1]
        if xp is torch:
            return torch.fft.irfft(const(xp, symbol, u) * torch.fft.rfft(u, dim=-1), n=n, dim=-1)
        return np.fft.irfft(symbol * np.fft.rfft(u, axis=-1), n=n, axis=-1)

    def _operator_matrix(self, symbol: np.ndarray) -> np.ndarray:
        """Dense real-space matrix ``[N, N]`` of a Fourier multiplier (columns = images of unit vectors)."""
        return self._spectral(symbol, np.eye(self.dim)).T

    @cached_property
    def _linear_matrix(self) -> np.ndarray:
        return self._operator_matrix(self.fourier_symbol())

    @cached_property
    def _nl_matrix(self) -> np.ndarray:
        """``-½ D P`` (spectral derivative after the dealiasing projection) ``[N, N]``."""
        return self._operator_matrix(self._nl_symbol)

    def linear_operator(self) -> np.ndarray:
        """Dense real-space matrix of ``-∂x² - ∂x⁴`` ``[N, N]`` (symmetric circulant)."""
        return self._linear_matrix.copy()

    def split_field(self, dtype: torch.dtype = torch.float64) -> Any:
        """``SplitField(FourierMultiplier(k² - k⁴), N)``: exponential steps work on the Fourier modes (one FFT
        per stage and per evaluation of ``N``), IMEX solves are divisions there."""
        from ..integrators import FourierMultiplier, SplitField

        symbol = torch.as_tensor(self.fourier_symbol(), dtype=dtype)
        nl_symbol = torch.as_tensor(self._nl_symbol)

        def nonlinear_hat(t: torch.Tensor, u: torch.Tensor) -> torch.Tensor:  # rfft of -½∂x(u²): one FFT
            return nl_symbol * torch.fft.rfft(u * u, dim=-1)

        return SplitField(FourierMultiplier(symbol, self.dim), self.nonlinear_torch, autonomous=True,
                          nonlinear_in_basis=nonlinear_hat)

    def _nonlinear(self, u: Array) -> Any:
        """``-½ ∂x(u²)`` (dealiased if ``dealias``) ``[batch, N]``."""
        return self._spectral(self._nl_symbol, u * u)

    def _field(self, u: Array) -> Any:
        """``-u u_x - u_xx - u_xxxx`` on the grid, ``[batch, N]`` (``torch.fft`` for tensors)."""
        return self._spectral(self.fourier_symbol(), u) + self._nonlinear(u)

    def jvp_torch(self, t: float | torch.Tensor, y: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``J(u) v = (-∂x² - ∂x⁴) v - ∂x P(u v)`` (the derivative of ``-½ ∂x P(u²)`` is ``-∂x P(u ·)``):
        two FFT pairs, the cost of one evaluation of the field, instead of forward-mode autodiff."""
        return self._spectral(self.fourier_symbol(), v) + self._spectral(self._nl_symbol, 2.0 * y * v)

    def jacobian(self, t: float | np.ndarray, y: np.ndarray) -> np.ndarray:
        """``L + (-½ D P)·2 diag(u) = L - D P diag(u)`` ``[batch, N, N]`` (dense)."""
        y = np.asarray(y, dtype=np.float64)
        return self._linear_matrix + 2.0 * self._nl_matrix * y[..., None, :]

    def _random_sines(self, rng: np.random.Generator, n: int) -> np.ndarray:
        modes = np.asarray(_PRESETS[self.params.preset][2])
        amp = rng.uniform(-0.5, 0.5, size=(n, 10, 1))
        phase = rng.uniform(0.0, 2.0 * np.pi, size=(n, 10, 1))
        ell = rng.choice(modes, size=(n, 10, 1))
        x = self.grid()
        out = np.empty((n, self.dim))
        block = max(1, _SINE_BLOCK // self.dim)  # the [block, 10, N] intermediate stays small
        for i in range(0, n, block):
            sl = slice(i, i + block)
            out[sl] = (amp[sl] * np.sin(2.0 * np.pi * ell[sl] * x / self.params.L + phase[sl])).sum(axis=1)
        return out

    def initial_conditions(self, n: int, seed: int | None = 0) -> np.ndarray:
        """``[n, N]`` random-sine fields (LPSDA recipe, preset wavenumbers), burnt in for ``burn_in`` time units."""
        u0 = self._random_sines(np.random.default_rng(seed), n)
        if self.params.burn_in > 0:
            u0 = self._burn_in(u0, float(self.params.burn_in))
        return u0

    def _burn_in(self, u0: np.ndarray, duration: float) -> np.ndarray:
        """Integrate every field of ``u0 [n, N]`` for ``duration`` at once (batched ETDRK4, step ``BURN_IN_DT``)."""
        from ..integrators import odeint

        steps = max(1, int(np.ceil(duration / BURN_IN_DT - 1e-9)))
        with torch.no_grad():
            sol = odeint(self.split_field(torch.float64), torch.as_tensor(u0, dtype=torch.float64),
                         torch.tensor([0.0, duration], dtype=torch.float64), method="etdrk4",
                         step_size=duration / steps, max_steps=steps + 1)
        out = sol.ys[:, -1].numpy()
        if not np.all(np.isfinite(out)):
            raise ValidationError(f"KS burn-in of {duration:g} time units diverged; check L={self.params.L} and "
                                  f"N={self.params.N} (grid too coarse?)")
        return out

    def invariants(self, y: np.ndarray) -> dict[str, np.ndarray]:
        """Spatial mean ``(1/N) Σ_j u_j`` (conserved) of ``y [..., N]``."""
        return {"mean": np.asarray(y, dtype=np.float64).mean(-1)}
