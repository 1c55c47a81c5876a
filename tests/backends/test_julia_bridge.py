"""The Julia bridge without Julia: wire protocol, worker process lifecycle (with a pure-Python test-double
handler), return-code mapping, worker replies → Solution, and the Python ↔ Julia parameter mapping."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import pysciml
from pysciml.backends._julia_worker import ProtocolError, encode_message, read_message, read_project_toml
from pysciml.backends.julia import (
    JULIA_SYSTEMS,
    JuliaWorker,
    julia_parameters,
    solution_from_result,
    status_from_retcode,
)
from pysciml.errors import BackendUnavailableError, ValidationError
from pysciml.status import Status

HERE = Path(__file__).resolve().parent
FAKE = "julia_fake_handler:FakeHandler"


def _roundtrip(obj: object) -> object:
    r, w = os.pipe()
    try:
        data = encode_message(obj)
        assert len(data) < 60_000  # fits the pipe buffer: write then read in one thread
        os.write(w, data)
        return read_message(r, timeout=5.0)
    finally:
        os.close(r)
        os.close(w)


def test_message_roundtrip_keeps_numpy_arrays_exactly() -> None:
    rng = np.random.default_rng(0)
    c_order = rng.standard_normal((3, 4, 5))
    payload = {
        "c": c_order,
        "fortran": np.asfortranarray(rng.standard_normal((4, 3))),
        "strided": c_order[:, ::2, 1],
        "ints": np.arange(7, dtype=np.int64),
        "empty": np.zeros((0, 3)),
        "scalar": np.float64(2.5),
        "codes": ["Success", "ReturnCode.MaxIters"],
        "nested": {"x": 1, "t": (1.0, None)},
    }
    out = _roundtrip(payload)
    assert out.keys() == payload.keys()
    for key in ("c", "fortran", "strided", "ints", "empty"):
        assert out[key].dtype == payload[key].dtype and out[key].shape == payload[key].shape
        np.testing.assert_array_equal(out[key], payload[key])
    assert out["scalar"] == 2.5 and out["codes"] == payload["codes"] and out["nested"] == payload["nested"]


def test_messages_cannot_carry_arbitrary_objects() -> None:
    """Frames are unpickled with an allow-list: containers, scalars and numpy arrays only."""
    import collections

    with pytest.raises(ProtocolError, match="not allowed"):
        _roundtrip({"x": collections.OrderedDict(a=1)})
    with pytest.raises(ProtocolError, match="not allowed"):
        _roundtrip(Path("/tmp"))


def test_arrays_travel_as_out_of_band_buffers() -> None:
    big = np.arange(4096, dtype=np.float64)
    frame = encode_message({"y": big})
    assert big.tobytes() in frame  # raw buffer, not re-encoded
    n_buffers = int.from_bytes(frame[8:12], "little")
    assert n_buffers == 1


def test_read_message_times_out_and_detects_closed_pipe() -> None:
    r, w = os.pipe()
    start = time.monotonic()
    with pytest.raises(ProtocolError, match="timed out"):
        read_message(r, timeout=0.2)
    assert time.monotonic() - start < 2.0
    os.close(w)
    with pytest.raises(ProtocolError, match="closed"):
        read_message(r, timeout=1.0)
    os.close(r)


@pytest.mark.parametrize(("code", "status"), [
    ("Success", Status.SUCCESS), ("ReturnCode.Success", Status.SUCCESS), ("Terminated", Status.SUCCESS),
    ("MaxIters", Status.MAX_STEPS), ("ReturnCode.MaxIters", Status.MAX_STEPS),
    ("DtLessThanMin", Status.STEP_SIZE_TOO_SMALL), ("DtNaN", Status.NON_FINITE),
    ("Unstable", Status.NON_FINITE),
    ("ConvergenceFailure", Status.FAILED), ("InitialFailure", Status.FAILED), ("Failure", Status.FAILED),
    ("Default", Status.FAILED), ("SomethingNew", Status.FAILED),
])
def test_status_from_retcode(code: str, status: Status) -> None:
    assert status_from_retcode(code) is status


def _reply(y: np.ndarray, codes: list[str]) -> dict:
    n = len(codes)
    return {"y": y, "codes": codes, "nfev": np.full(n, 10), "njev": np.full(n, 2), "steps": np.full(n, 5)}


def test_solution_from_result_contract_and_nonfinite_flag() -> None:
    system = pysciml.systems.get("robertson")
    t = np.array([0.0, 1.0, 2.0])
    y = np.ones((3, 3, 3))
    y[1, 2] = np.nan  # a failed run's tail
    y[2, 1, 0] = np.inf  # "Success" but non-finite → flagged
    sol = solution_from_result(_reply(y, ["ReturnCode.Success", "MaxIters", "Success"]), t_eval=t, dim=3,
                               method="Rodas5P", rtol=1e-6, atol=1e-9, system=system, wall_time=0.1)
    assert isinstance(sol, pysciml.Solution)
    assert sol.status.dtype == np.int8
    assert sol.status.tolist() == [Status.SUCCESS, Status.MAX_STEPS, Status.NON_FINITE]
    assert "MaxIters" in sol.messages[1] and sol.backend == "julia" and sol.system == "robertson"
    assert sol.nfev.dtype == np.int64 and sol.nfev.shape == (3,)
    np.testing.assert_array_equal(sol.t, t)
    with pytest.raises(ProtocolError, match="shape"):
        solution_from_result(_reply(y[:, :2], ["Success"] * 3), t_eval=t, dim=3, method="Rodas5P", rtol=1e-6,
                             atol=1e-9, system=system, wall_time=0.1)


def test_julia_parameter_vectors_match_the_python_systems() -> None:
    rob = pysciml.systems.get("robertson", k1=0.05, y2_scale=1e4)
    names, values = julia_parameters(rob)
    assert names == ("k1", "k2", "k3", "y2_scale")
    np.testing.assert_array_equal(values, [0.05, 3e7, 1e4, 1e4])
    _, values = julia_parameters(pysciml.systems.get("rigid_body"))
    np.testing.assert_allclose(values, [1.6, 1.0, 2.0 / 3.0])
    tg = pysciml.systems.get("transient_growth", variant="growth", epsilon=0.2)
    _, values = julia_parameters(tg)
    np.testing.assert_array_equal(values, [*tg.linear_operator().ravel(), 0.2])
    ks = pysciml.systems.get("kuramoto_sivashinsky", preset="lpsda", dealias=True)
    _, values = julia_parameters(ks)
    np.testing.assert_array_equal(values, [64.0, 1.0])
    assert julia_parameters(pysciml.systems.get("two_body"))[1].shape == (0,)
    assert set(JULIA_SYSTEMS) <= set(pysciml.systems.available())
    missing = sorted(set(pysciml.systems.available()) - set(JULIA_SYSTEMS))
    for name in missing:
        with pytest.raises(ValidationError, match="backend='python'"):
            julia_parameters(pysciml.systems.get(name))


def test_read_project_toml(tmp_path: Path) -> None:
    path = tmp_path / "Project.toml"
    path.write_text('name = "X"  # comment\n\n[deps]\nA = "uuid-a"\n[compat]\nA = "1.2"\njulia = "1.10"\n')
    assert read_project_toml(path) == {"": {"name": "X"}, "deps": {"A": "uuid-a"},
                                       "compat": {"A": "1.2", "julia": "1.10"}}


# ----------------------------------------------------- the real worker process, test-double handler
def _worker(mode: str = "ok", start_timeout: float = 60.0) -> JuliaWorker:
    env = dict(os.environ, FAKE_HANDLER_MODE=mode,
               PYTHONPATH=os.pathsep.join([str(HERE), *sys.path]))
    return JuliaWorker(handler=FAKE, env=env, start_timeout=start_timeout)


def test_worker_roundtrip_errors_and_shutdown() -> None:
    worker = _worker()
    info = worker.start()
    try:
        assert info["pid"] != os.getpid()
        assert info["torch_imported"] is False  # the worker's import chain never pulls torch
        x = np.arange(12.0).reshape(3, 4)
        b = np.linspace(0, 1, 4)
        np.testing.assert_array_equal(worker.call("affine", x=x, a=3.0, b=b), 3.0 * x + b)
        echoed = worker.call("echo", u0s=np.asfortranarray(x), codes=["a"])
        np.testing.assert_array_equal(echoed["u0s"], x)
        with pytest.raises(RuntimeError, match="deliberate failure"):
            worker.call("fail")
        with pytest.raises(RuntimeError, match="unknown worker operation"):
            worker.call("nope")
        assert worker.call("affine", x=x, a=0.0, b=b).shape == (3, 4)  # still serving after errors
    finally:
        proc = worker._proc
        worker.close()
    assert not worker.alive and proc is not None and proc.returncode == 0


def test_worker_crash_is_reported_not_hung() -> None:
    worker = _worker()
    worker.start()
    with pytest.raises(BackendUnavailableError, match="lost the Julia worker"):
        worker.call("crash", timeout=30.0)
    assert not worker.alive
    with pytest.raises(BackendUnavailableError, match="not running"):
        worker.call("echo")


def test_worker_start_failure_carries_the_reason() -> None:
    with pytest.raises(BackendUnavailableError, match="could not find Julia.*pip install pysciml\\[julia\\]"):
        _worker("fail").start()


def test_worker_start_is_bounded_by_the_timeout() -> None:
    worker = _worker("hang", start_timeout=1.5)
    start = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="did not start within 1.5 s") as info:
        worker.start()
    assert time.monotonic() - start < 10.0
    assert not worker.alive
    # the message says what takes so long and how to allow more time
    assert "precompiles" in str(info.value) and "PYSCIML_JULIA_START_TIMEOUT=<seconds>" in str(info.value)


def test_slow_start_shows_elapsed_time(capsys: pytest.CaptureFixture[str]) -> None:
    worker = _worker("slow", start_timeout=60.0)
    try:
        assert worker.start()["julia_version"] == "fake"
    finally:
        worker.close()
    err = capsys.readouterr().err
    assert "starting the Julia worker" in err and "elapsed" in err and "00:0" in err


def test_instantiate_runs_with_this_python_and_no_conda(tmp_path: Path) -> None:
    """Pkg.instantiate runs with JULIA_PYTHONCALL_EXE = this interpreter and JULIA_CONDAPKG_BACKEND=Null."""
    from pysciml.backends.julia import instantiate_project

    record = tmp_path / "env.txt"
    exe = tmp_path / "julia"
    exe.write_text(f"#!/bin/sh\necho \"$JULIA_PYTHONCALL_EXE|$JULIA_CONDAPKG_BACKEND|$*\" > {record}\n")
    exe.chmod(0o755)
    (tmp_path / "proj").mkdir()
    instantiate_project(str(exe), str(tmp_path / "proj"), timeout=30.0)
    python, backend, args = record.read_text().strip().split("|")
    assert python == sys.executable and backend == "Null"
    assert f"--project={tmp_path / 'proj'}" in args and "Pkg.instantiate()" in args


def test_slow_instantiate_shows_elapsed_time_and_is_bounded(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from pysciml.backends.julia import instantiate_project

    exe = tmp_path / "julia"
    exe.write_text("#!/bin/sh\nexec sleep 60\n")  # exec: the kill reaches the sleep
    exe.chmod(0o755)
    (tmp_path / "proj").mkdir()
    start = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="did not finish within 3 s.*PYSCIML_JULIA_START_TIMEOUT"):
        instantiate_project(str(exe), str(tmp_path / "proj"), timeout=3.0)
    assert time.monotonic() - start < 10.0
    err = capsys.readouterr().err
    assert "installing and precompiling the Julia packages" in err and "elapsed" in err


def test_juliapkg_mode_uses_a_pysciml_owned_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pysciml.backends.julia import JuliaProbe, _worker_env

    for var in ("PYTHON_JULIACALL_EXE", "PYTHON_JULIACALL_PROJECT", "PYSCIML_JULIAPKG_PROJECT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PYTHON_JULIAPKG_PROJECT", str(tmp_path / "shared"))
    env = _worker_env(JuliaProbe(True, "fake", "/opt/julia/bin/julia", "1.11.0"))
    assert env["PYSCIML_JULIAPKG_PROJECT"] == str(tmp_path / ".cache" / "pysciml" / "juliapkg-project")
    assert env["PYTHON_JULIAPKG_EXE"] == "/opt/julia/bin/julia"
    monkeypatch.setenv("PYSCIML_JULIAPKG_PROJECT", str(tmp_path / "mine"))
    assert _worker_env(JuliaProbe(True, "fake", "/x", "1.11.0"))["PYSCIML_JULIAPKG_PROJECT"] == str(
        tmp_path / "mine")


def test_real_julia_handler_fails_cleanly_offline_without_julia(tmp_path: Path) -> None:
    """The production handler in a worker: juliapkg (offline, private project folder) finds no Julia."""
    if importlib.util.find_spec("juliacall") is None:  # find_spec: importing juliacall would start Julia
        pytest.skip("juliacall is not installed")
    from pysciml.backends._julia_worker import DEFAULT_HANDLER, PROJECT_ENV
    from pysciml.backends.julia import probe_julia, shipped_project_dir

    if probe_julia().available:
        pytest.skip("Julia is installed here; this test covers machines without it")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON_JULIACALL_")}
    # PYTHON_JULIAPKG_PROJECT plays the juliapkg project every juliacall user of the environment shares
    env.update(PYTHON_JULIAPKG_OFFLINE="yes", PYTHON_JULIAPKG_PROJECT=str(tmp_path / "shared"),
               PYSCIML_JULIAPKG_PROJECT=str(tmp_path / "jlenv"), **{PROJECT_ENV: str(shipped_project_dir())})
    worker = JuliaWorker(handler=DEFAULT_HANDLER, env=env, start_timeout=60.0)
    start = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="failed to start.*Julia"):
        worker.start()
    assert time.monotonic() - start < 30.0
    # opt-in registration went to pysciml's own juliapkg project, with our compat bounds ...
    deps = json.loads((tmp_path / "jlenv" / "pyjuliapkg" / "juliapkg.json").read_text())
    assert deps["packages"]["OrdinaryDiffEqRosenbrock"] == {"uuid": "43230ef6-c299-4910-a778-202eb28ce4ce",
                                                            "version": "2"}
    assert deps["packages"]["SciMLBase"]["version"] == read_project_toml(
        shipped_project_dir() / "Project.toml")["compat"]["SciMLBase"]
    # ... and nothing into the shared one
    assert not (tmp_path / "shared" / "pyjuliapkg" / "juliapkg.json").exists()


# ----------------------------------------------- JuliaBackend / sensitivity plumbing over a stand-in worker
@pytest.fixture
def linear_worker(monkeypatch: pytest.MonkeyPatch):
    from pysciml.backends import julia as jl

    worker = _worker()
    worker.handler = "julia_fake_handler:LinearFakeHandler"
    worker.start()
    monkeypatch.setattr(jl, "get_worker", lambda: worker)
    yield worker
    worker.close()


def test_backend_solve_packs_the_request_and_maps_the_reply(linear_worker: JuliaWorker) -> None:
    from pysciml.backends.julia import JuliaBackend

    system = pysciml.systems.get("transient_growth", epsilon=0.0)
    y0 = np.array([[0.3, -0.7], [1.0, 0.5]])
    t = np.linspace(0.0, 2.0, 5)
    sol = JuliaBackend().solve(system, y0, t, method="etdrk4", rtol=1e-6, atol=np.array([1e-8, 1e-9]),
                               max_steps=123, n_jobs=1, progress=False, options={"dt": 0.05})
    sent = linear_worker.call("last")
    assert sent["system"] == "transient_growth" and sent["alg"] == "ETDRK4"  # canonical spelling
    assert sent["maxiters"] == 123 and sent["dt"] == 0.05 and sent["reltol"] == 1e-6
    np.testing.assert_array_equal(sent["abstol"], [1e-8, 1e-9])
    np.testing.assert_array_equal(sent["params"], [-1.0, 4.0, 0.0, -1.0, 0.0])
    np.testing.assert_array_equal(sent["u0s"], y0)
    assert sol.method == "ETDRK4" and sol.backend == "julia" and sol.y.shape == (2, 5, 2)
    assert sol.status.tolist() == [Status.SUCCESS, Status.MAX_STEPS]
    import scipy.linalg

    np.testing.assert_allclose(sol.y[0, -1], scipy.linalg.expm(2.0 * system.linear_operator()) @ y0[0])


@pytest.mark.parametrize(("system", "method", "options", "match"), [
    ("transient_growth", "ETDRK4", {}, "fixed-step: pass dt"),
    ("rigid_body", "ETDRK4", {"dt": 0.1}, "needs a semilinear system"),
    ("rigid_body", "Rodas5P", {"first_step": 0.1}, "unknown option"),
    ("vehicle", "Rodas5P", {}, "not defined in the julia backend"),
])
def test_backend_solve_rejects_bad_requests_before_starting_julia(system: str, method: str, options: dict,
                                                                  match: str) -> None:
    from pysciml.backends.julia import JuliaBackend

    sys_obj = pysciml.systems.get(system)
    y0 = sys_obj.initial_conditions(1, seed=0)
    with pytest.raises(ValidationError, match=match):
        JuliaBackend().solve(sys_obj, y0, np.array([0.0, 1.0]), method=method, rtol=1e-6, atol=1e-8,
                             max_steps=10, n_jobs=1, progress=False, options=options)


def test_sensitivity_maps_gradients_to_parameter_names(linear_worker: JuliaWorker) -> None:
    system = pysciml.systems.get("transient_growth", epsilon=0.0)
    t = np.linspace(0.0, 1.0, 4)
    res = pysciml.sensitivity(system, [0.3, -0.7], t, np.zeros((4, 2)), sensealg="QuadratureAdjoint")
    sent = linear_worker.call("last")
    assert sent["sensealg"] == "QuadratureAdjoint" and sent["alg"] == "Rodas5P" and sent["loss"] == "sse"
    assert list(res.grad_params) == ["A11", "A12", "A21", "A22", "epsilon"]
    assert res.grad_y0.shape == (2,) and res.y.shape == (4, 2)
    assert res.loss == pytest.approx(0.5 * float(np.sum(res.y ** 2)))


def test_torch_autograd_wrapper_passes_gradcheck(linear_worker: JuliaWorker) -> None:
    """gradcheck of JuliaTrajectoryFunction: forward = worker solve, backward = worker VJP (loss='dot')."""
    import torch

    from pysciml.sensitivity import julia_trajectory

    t = np.linspace(0.0, 1.5, 4)
    theta = torch.tensor([-1.0, 4.0, 0.0, -1.0, 0.0], dtype=torch.float64, requires_grad=True)
    y0 = torch.tensor([0.3, -0.7], dtype=torch.float64, requires_grad=True)

    def fn(th: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        return julia_trajectory("transient_growth", th, x0, t, method="Rodas5P")

    assert torch.autograd.gradcheck(fn, (theta, y0), eps=1e-6, atol=1e-6)
