"""The crossover comparison scores a read against the adjudicated value, else the consensus of the
OTHER readers' unaided reads, so aided and unaided reads drawn from the same distribution show no
systematic difference. The old rule (the consensus of all unaided reads, the reader's own included)
made aided reads look 45% worse (issue 15); it is kept here only to show the test can tell."""

import numpy as np
import pytest

from scoring.agreement.mrmc import crossover_errors, fom_jackknife, mean_fom_jackknife, or_hillis, or_hillis_mean

nan = np.nan


def test_reference_is_the_mean_of_the_other_readers_unaided_reads():
    errors = crossover_errors(unaided=np.array([[2.0, 4.0, 6.0]]), aided=np.array([[3.0, 3.0, 3.0]]))
    # references: reader 1 (4 + 6) / 2 = 5, reader 2 (2 + 6) / 2 = 4, reader 3 (2 + 4) / 2 = 3
    assert errors[0, :, 0].tolist() == [3.0, 0.0, 3.0]  # unaided
    assert errors[1, :, 0].tolist() == [2.0, 1.0, 0.0]  # aided


def test_an_adjudicated_value_is_the_reference_where_there_is_one():
    unaided = np.array([[2.0, 4.0, 6.0], [1.0, 1.0, 1.0]])
    errors = crossover_errors(unaided=unaided, aided=unaided + 1, adjudicated=np.array([5.0, nan]))
    assert errors[0, :, 0].tolist() == [3.0, 1.0, 1.0] and errors[1, :, 0].tolist() == [2.0, 0.0, 2.0]
    assert errors[0, :, 1].tolist() == [0.0, 0.0, 0.0] and errors[1, :, 1].tolist() == [1.0, 1.0, 1.0]


def test_the_median_study_setting_takes_the_median_of_the_others():
    errors = crossover_errors(unaided=np.array([[0.0, 1.0, 2.0, 8.0]]), aided=np.zeros((1, 4)), combine="median")
    assert errors[1, :, 0].tolist() == [2.0, 2.0, 1.0, 1.0]  # medians of (1,2,8) (0,2,8) (0,1,8) (0,1,2)


def test_a_read_is_scored_only_when_paired_and_a_reference_exists():
    unaided = np.array([[1.0, 2.0, nan], [3.0, 5.0, nan], [3.0, nan, nan]])
    aided = np.array([[1.0, nan, 2.0], [3.0, 3.0, 3.0], [3.0, nan, nan]])
    errors = crossover_errors(unaided=unaided, aided=aided)
    # case 1: reader 1 paired (reference 2); reader 2 has no aided read, reader 3 no unaided read
    assert errors[:, 0, 0].tolist() == [1.0, 1.0] and np.isnan(errors[:, 1:, 0]).all()
    # case 2: readers 1 and 2 paired (references 5 and 3); reader 3 has no unaided read
    assert errors[:, 0, 1].tolist() == [2.0, 2.0] and errors[:, 1, 1].tolist() == [2.0, 0.0]
    assert np.isnan(errors[:, 2, 1]).all()
    # case 3: only reader 1 read it, and their own read is no reference for themselves
    assert np.isnan(errors[:, :, 2]).all()


def test_the_vectorised_jackknife_of_a_mean_equals_leaving_each_case_out():
    rng = np.random.default_rng(3)
    values = rng.integers(0, 5, (2, 4, 12)).astype(float)
    values[:, 1, :5] = nan  # a reader who read only some of the cases
    values[:, 3, 7] = nan

    def fom(reader, condition, cases):
        return float(np.nanmean(values[condition, reader, cases]))

    full, jack = fom_jackknife(fom=fom, n_readers=4, n_cases=12)
    fast_full, fast_jack = mean_fom_jackknife(values)
    assert fast_full == pytest.approx(full) and fast_jack == pytest.approx(jack)
    assert or_hillis_mean(values).ci95 == pytest.approx(or_hillis(fom=full, jack=jack).ci95)


def _iid_study(rng, readers=4, cases=30):
    severity = rng.normal(4.0, 1.5, (cases, 1)) + rng.normal(0.0, 0.5, (1, readers))
    unaided, aided = (np.clip(np.rint(severity + rng.normal(0, 1, (cases, readers))), 0, 8) for _ in range(2))
    return unaided, aided


def _old_rule_difference(unaided, aided) -> float:
    consensus = unaided.mean(axis=1, keepdims=True)  # includes the reader's own unaided read
    return float(np.abs(aided - consensus).mean() - np.abs(unaided - consensus).mean())


def test_aided_and_unaided_reads_from_one_distribution_show_no_systematic_difference():
    rng = np.random.default_rng(15)
    new, old = [], []
    for _ in range(300):
        unaided, aided = _iid_study(rng)
        new.append(or_hillis_mean(crossover_errors(unaided=unaided, aided=aided)).difference)
        old.append(_old_rule_difference(unaided, aided))
    new, old = np.array(new), np.array(old)
    standard_error = new.std(ddof=1) / np.sqrt(len(new))
    assert abs(new.mean()) < 0.05 and abs(new.mean()) < 3 * standard_error
    assert old.mean() > 0.1 and old.mean() > 10 * old.std(ddof=1) / np.sqrt(len(old))  # the old bias
