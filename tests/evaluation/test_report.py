"""Stability and rollout reports: files, JSON content, certificates consistent with the sampled Jacobians."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pysciml import odeint, systems
from pysciml.evaluation.report import rollout_report, stability_report
from pysciml.models import Autoencoder, HurwitzLinear, LipschitzMLP, MLPVectorField, StableNODE, StructurePreservingNODE


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    tb = systems.get("two_body")
    y0 = torch.as_tensor(tb.initial_conditions(6, seed=0))
    t = torch.arange(201, dtype=torch.float64) * 0.01
    return t.numpy(), odeint(tb.rhs_torch, y0, t, method="rk4", step_size=0.01).ys.numpy()


def test_rollout_report_files_and_values(data, tmp_path):
    torch.manual_seed(0)
    model = MLPVectorField(4, hidden=16, layers=2).double()
    report = rollout_report(model, data, tmp_path, system="two_body", chunk_size=64, progress=False)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"rollout.json", "rollout_errors.npz", "relative_error.png", "final_error.png",
            "conservation.png"} <= names
    on_disk = json.loads((tmp_path / "rollout.json").read_text())
    assert on_disk["n_steps"] == 200 and on_disk["n_trajectories"] == 6
    assert on_disk["jacobian_error"]["estimator"] == "exact" and on_disk["offline_error"]["eps_sup"] > 0
    assert set(on_disk["conservation"]) == {"angular_momentum", "energy"}
    assert report["trajectory_loss"]["mean"] == pytest.approx(on_disk["trajectory_loss"]["mean"])
    with np.load(tmp_path / "rollout_errors.npz") as z:
        assert z["rel_error"].shape == (6, 201)


def test_true_field_rollout_report_is_zero(data):
    tb = systems.get("two_body")
    report = rollout_report(tb.rhs_torch, data, None, system=tb, progress=False)
    assert report["trajectory_loss"]["total"] <= 1e-24
    assert report["offline_error"]["eps_sup"] == 0.0 and report["jacobian_error"]["mean_sq_fro"] <= 1e-24


def test_stable_node_certificate_bounds_the_sampled_jacobians(data, tmp_path):
    torch.manual_seed(1)
    model = StableNODE(4, alpha=0.2).double()
    report = stability_report(model, data, tmp_path)
    assert {"stability.json", "stability_eigenvalues.png", "stability_abscissae.png"} <= {
        p.name for p in tmp_path.iterdir()}
    cert = report["certificates"]["stable_node"]
    assert cert["method"] == "exact" and not cert["is_lower_bound"]
    # δ = max_D μ₂(DA) bounds μ₂(J) at every point, and ω(J) ≥ α(J) everywhere
    along = report["along_trajectories"]
    assert along["numerical_abscissa"]["max"] <= cert["delta"] + 1e-12
    assert along["spectral_abscissa"]["max"] <= along["numerical_abscissa"]["max"] + 1e-12
    assert cert["flow_lipschitz_bound"] == pytest.approx(np.exp(cert["delta"] * 2.0))
    assert json.loads((tmp_path / "stability.json").read_text())["space"] == "state"


def test_structure_preserving_certificates(data):
    torch.manual_seed(2)
    ae = Autoencoder(4, 3, hidden=16, layers=1).double()
    model = StructurePreservingNODE(ae.encoder, HurwitzLinear(3, shift=0.2).double(),
                                    LipschitzMLP(3, 3, 16, lipschitz=0.7).double(), decoder=ae.decoder,
                                    method="etd1", step_size=0.01)
    report = stability_report(model, data)
    assert report["space"] == "latent" and report["dim"] == 3
    cert = report["certificates"]
    lip = cert["lipschitz_networks"][0]
    assert lip["lipschitz_bound"] <= 0.7 + 1e-12
    hurwitz = cert["hurwitz_operators"][0]
    assert hurwitz["spectral_abscissa"] < hurwitz["certified_abscissa_bound"] == -0.2
    bound = cert["latent_lognorm_bound"]["bound"]
    assert report["along_trajectories"]["numerical_abscissa"]["max"] <= bound + 1e-12
    # the empirical Lipschitz constant of the field is at most ‖A‖₂ + Lip(N)
    a_norm = float(torch.linalg.matrix_norm(model.linear.matrix().detach(), ord=2))
    assert report["empirical_lipschitz_lower_bound"] <= a_norm + lip["lipschitz_bound"] + 1e-12
    rollout = rollout_report(model, data, None, system="two_body", progress=False)
    assert rollout["offline_error"] is None and "autoencoder" in rollout["field_errors_skipped"]


def test_ks_rollout_report_statistics_of_the_true_field(tmp_path):
    ks = systems.get("kuramoto_sivashinsky")
    field = ks.split_field()
    t = torch.arange(0.0, 40.0 + 1e-9, 1.0, dtype=torch.float64)
    truth = odeint(field, torch.as_tensor(ks.initial_conditions(3, seed=4)), t, method="etdrk4", step_size=0.25).ys
    report = rollout_report(field, (t.numpy(), truth.numpy()), tmp_path, system=ks, method="etdrk4", step_size=0.25,
                            pdf_bins=24, estimator="hutchinson", progress=False)
    stats = report["ks_statistics"]
    assert stats["n_finite_rollouts"] == 3 and stats["hellinger"] == pytest.approx(0.0, abs=1e-7)
    assert stats["kl_truth_model"] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(stats["energy_spectrum"]["model"], stats["energy_spectrum"]["truth"], rtol=1e-9)
    assert report["trajectory_loss"]["total"] <= 1e-20
    je = report["jacobian_error"]
    assert je["estimator"] == "hutchinson" and je["mean_sq_fro"] <= 1e-20 * 4.8e3 ** 2  # round-off of |k|⁴ entries
    assert report["conservation"]["mean"]["kind"] == "absolute"
    assert {"ks_joint_pdf.png", "ks_energy_spectrum.png", "ks_autocorrelation.png"} <= {
        p.name for p in tmp_path.iterdir()}


def test_reports_from_a_dataset_file_and_certificates_only(tmp_path):
    from pysciml.data import generate

    path = tmp_path / "test.h5"
    generate("rigid_body", 3, np.linspace(0.0, 1.0, 11), path, method="DOP853", rtol=1e-10, atol=1e-12,
             progress=False)
    rb = systems.get("rigid_body")
    report = rollout_report(rb.rhs_torch, str(path), None, method="dopri5", rtol=1e-10, atol=1e-12, progress=False)
    assert set(report["conservation"]) == {"casimir", "energy"}  # the system is read from the file
    assert report["final_relative_error"]["q95"] < 1e-7
    torch.manual_seed(3)
    cert = stability_report(StableNODE(3).double(), None, tmp_path / "cert")
    assert cert["certificates"]["stable_node"]["flow_lipschitz_bound"] is None
    assert json.loads((tmp_path / "cert" / "stability.json").read_text())["certificates"]["stable_node"]["delta"] \
        == pytest.approx(cert["certificates"]["stable_node"]["delta"])
