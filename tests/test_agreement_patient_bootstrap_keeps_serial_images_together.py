"""With patient ids the bootstrap resamples patients: serial images of one patient always move together,
and on clustered data the interval is wider than when cases are resampled as if independent."""

import numpy as np
import pytest

from scoring.agreement import agreement_summary, bootstrap_ci
from scoring.agreement.bootstrap import _fast_replicates
from scoring.agreement.summary import _slow_replicates

NAMES = ["alice", "bob", "charlie"]
DOMAIN = list(range(9))


def clustered(seed: int, patients: int = 30, images: int = 4) -> tuple[np.ndarray, list[str]]:
    """Serial images of a patient share the patient's severity and each rater's reading of it."""
    rng = np.random.default_rng(seed)
    severity = np.repeat(rng.integers(0, 9, patients), images)
    reader_view = np.repeat(rng.integers(-2, 3, (patients, 3)), images, axis=0)
    noise = rng.integers(-1, 2, (patients * images, 3)) * (rng.random((patients * images, 3)) < 0.2)
    values = np.clip(severity[:, None] + reader_view + noise, 0, 8).astype(float)
    return values, [f"p{p}" for p in np.repeat(np.arange(patients), images)]


def test_serial_images_of_one_patient_always_move_together():
    patients = ["p1", "p1", "p1", "p2", "p3", "p3"]
    cases = np.arange(6, dtype=float)[:, None]  # each row carries its own case number
    seen = []

    def record(matrix):
        counts = np.bincount(matrix[:, 0].astype(int), minlength=6)
        seen.append(counts)
        return float(matrix.mean())

    bootstrap_ci(cases, record, n_boot=200, seed=1, clusters=patients)
    for counts in seen:
        assert counts[0] == counts[1] == counts[2] and counts[4] == counts[5]
        assert counts[0] * 3 + counts[3] + counts[4] * 2 == sum(counts)
    assert len({tuple(c) for c in seen}) > 1  # it does resample


def test_patient_resampling_gives_a_wider_interval_on_clustered_data():
    m, patients = clustered(3)
    by_case = agreement_summary(m, NAMES, domain=DOMAIN, categorical=True, n_boot=400, seed=2)
    by_patient = agreement_summary(m, NAMES, domain=DOMAIN, categorical=True, n_boot=400, seed=2, clusters=patients)
    for key in ("interval", "ordinal"):
        case_ci, patient_ci = by_case["krippendorff_alpha"][key]["ci95"], by_patient["krippendorff_alpha"][key]["ci95"]
        assert patient_ci[1] - patient_ci[0] > 1.3 * (case_ci[1] - case_ci[0])
    assert by_case["krippendorff_alpha"]["interval"]["value"] == by_patient["krippendorff_alpha"]["interval"]["value"]


def test_the_standard_error_of_a_mean_doubles_with_four_identical_images_per_patient():
    rng = np.random.default_rng(0)
    m = np.repeat(rng.normal(size=(50, 1)), 4, axis=0)
    patients = list(np.repeat(np.arange(50), 4))

    def mean(matrix):
        return float(matrix.mean())

    case_ci = bootstrap_ci(m, mean, n_boot=2000, seed=1)
    patient_ci = bootstrap_ci(m, mean, n_boot=2000, seed=1, clusters=patients)
    # Four copies carry the information of one: sqrt(4) = 2 times the case-bootstrap width.
    ratio = (patient_ci[1] - patient_ci[0]) / (case_ci[1] - case_ci[0])
    assert ratio == pytest.approx(2.0, rel=0.15)


def test_fast_and_library_replicates_agree_with_patient_resampling_and_jackknife():
    m, patients = clustered(5, patients=15, images=3)
    m[np.random.default_rng(1).random(m.shape) < 0.1] = np.nan
    m[:, 0][np.isnan(m).all(axis=1)] = 4.0
    for jackknife, clusters in [(False, patients), (True, patients), (True, None)]:
        fast = _fast_replicates(m, np.arange(9.0), ["interval", "ordinal"], True, 30, 3, clusters, jackknife=jackknife)
        slow = _slow_replicates(m, DOMAIN, ["interval", "ordinal"], True, 30, 3, clusters, jackknife=jackknife)
        for key in ("interval", "ordinal", "kappa"):
            np.testing.assert_allclose(fast[key], slow[key], rtol=0, atol=1e-9)
    jackknife = _fast_replicates(m, np.arange(9.0), ["interval"], False, 30, 3, patients, jackknife=True)
    assert len(jackknife["interval"]) == 15  # one value per patient left out


def test_one_cluster_label_per_case_is_required():
    m, patients = clustered(1, patients=3, images=2)
    with pytest.raises(ValueError, match="cluster labels"):
        agreement_summary(m, NAMES, domain=DOMAIN, categorical=True, n_boot=10, clusters=patients[:-1])
