"""nlbtut.submission: building, combining, saving and validating submissions.

One test per malformed-submission case checks the message names the group, the
key, what was expected and what was found; a hypothesis fuzz test feeds odd
nested structures and checks nothing but SubmissionError (or the documented
SubmissionWarning) escapes.
"""

from __future__ import annotations

import copy
import warnings

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_parity_evaluation import make_eval_case

from nlbtut.errors import DataError, SubmissionError
from nlbtut.submission import (
    ALL_KEYS,
    SubmissionWarning,
    combine_submissions,
    load_h5,
    make_submission,
    save_submission,
    validate_submission,
)

N_IN, N_OUT = 12, 5


@pytest.fixture(scope="module")
def maze():
    """Targets and a valid submission for mc_maze_small at 5 ms (140 bins, 40 fp bins)."""
    return make_eval_case("mc_maze_small", 5, n_heldin=N_IN, n_heldout=N_OUT, seed=7)


def _problems(sub, ref, **kw) -> list[str]:
    with pytest.raises(SubmissionError) as err:
        validate_submission(sub, ref, **kw)
    assert str(err.value).count("\n") == len(err.value.problems)  # one line per problem
    return err.value.problems


def test_valid_submission_passes(maze):
    targets, sub = maze
    validate_submission(sub, targets)
    validate_submission(sub, None)


# --------------------------------------------------------------------------- make / combine


def test_make_submission_group_names_and_dtype():
    r = lambda n, t, c: np.full((n, t, c), 0.05, dtype=np.float32)  # noqa: E731
    sub5 = make_submission("mc_maze_small", r(4, 140, 7), r(4, 140, 3), r(2, 140, 7), r(2, 140, 3))
    assert list(sub5) == ["mc_maze_small"]
    assert sorted(sub5["mc_maze_small"]) == sorted(ALL_KEYS[:4])
    assert sub5["mc_maze_small"]["eval_rates_heldin"].dtype == np.float64
    sub20 = make_submission(
        "DMFC_RSG", r(4, 75, 7), r(4, 75, 3), r(2, 75, 7), r(2, 75, 3), r(2, 10, 7), r(2, 10, 3),
        bin_width=20,
    )  # fmt: skip
    assert list(sub20) == ["dmfc_rsg_20"] and len(sub20["dmfc_rsg_20"]) == 6


def test_make_submission_rejects_inconsistent_arrays():
    r = lambda n, t, c: np.full((n, t, c), 0.05)  # noqa: E731
    with pytest.raises(SubmissionError) as err:
        make_submission("mc_maze_small", r(4, 140, 7), r(5, 140, 3), r(2, 140, 7), r(2, 140, 4))
    msg = str(err.value)
    assert (
        "mc_maze_small: train_rates_heldout" in msg and "4 training trials expected, got 5" in msg
    )
    assert (
        "mc_maze_small: eval_rates_heldout" in msg and "3 held-out neurons expected, got 4" in msg
    )
    with pytest.raises(SubmissionError, match="bin_width=10"):
        make_submission("mc_maze", r(1, 1, 1), r(1, 1, 1), r(1, 1, 1), r(1, 1, 1), bin_width=10)
    with pytest.raises(SubmissionError, match="Unknown NLB dataset 'mc_mzae'"):
        make_submission("mc_mzae", r(1, 1, 1), r(1, 1, 1), r(1, 1, 1), r(1, 1, 1))


def test_combine_submissions_scaling():
    subs = [make_eval_case(n, 5, n_heldin=4, n_heldout=2, seed=i)[1]
            for i, n in enumerate(["mc_maze_large", "mc_maze_medium", "mc_maze_small"])]  # fmt: skip
    combined = combine_submissions(*subs)
    assert list(combined) == ["mc_maze_large", "mc_maze_medium", "mc_maze_small"]
    assert (
        combined["mc_maze_small"]["eval_rates_heldin"]
        is subs[2]["mc_maze_small"]["eval_rates_heldin"]
    )
    with pytest.raises(SubmissionError, match="mc_maze_large: group appears in more than one"):
        combine_submissions(subs[0], subs[0])
    with pytest.raises(SubmissionError, match="argument 1: expected a submission dict, got list"):
        combine_submissions(subs[0], [])


# --------------------------------------------------------------------------- files


def test_save_submission_layout_and_roundtrip(maze, tmp_path):
    targets, sub = maze
    path = save_submission(sub, tmp_path / "out" / "sub.h5")
    assert path.is_file() and [p.name for p in path.parent.iterdir()] == ["sub.h5"]
    with h5py.File(path, "r") as f:
        assert list(f) == ["mc_maze_small"]
        assert f["mc_maze_small"]["eval_rates_heldin"].dtype == np.float32
        assert f["mc_maze_small"]["eval_rates_heldin"].compression == "gzip"
    back = load_h5(path)
    for k, v in sub["mc_maze_small"].items():
        np.testing.assert_allclose(back["mc_maze_small"][k], v, rtol=1e-6)
    validate_submission(path, targets)  # paths work for the validator too
    tpath = save_submission(targets, tmp_path / "targets.h5")
    back_t = load_h5(tpath)["mc_maze_small"]
    assert back_t["eval_cond_idx"].dtype == object
    assert all(
        np.array_equal(a, b)
        for a, b in zip(back_t["eval_cond_idx"], targets["mc_maze_small"]["eval_cond_idx"])
    )
    assert back_t["train_behavior"].dtype == np.float32


def test_save_submission_is_atomic(tmp_path):
    path = tmp_path / "sub.h5"
    save_submission({"mc_maze": {"a": np.ones(3)}}, path)
    before = path.read_bytes()
    with pytest.raises(DataError, match="b: cannot write an object array"):
        save_submission(
            {"mc_maze": {"a": np.ones(3), "b": np.array(["x", None], dtype=object)}}, path
        )
    assert path.read_bytes() == before  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["sub.h5"]  # no temporary left behind


# --------------------------------------------------------------------------- malformed cases


def test_missing_and_unknown_groups(maze):
    targets, sub = maze
    probs = _problems({"mc_maze_smal": sub["mc_maze_small"]}, targets)
    assert any("mc_maze_smal: unknown dataset group (did you mean 'mc_maze_small'?)" in p
               for p in probs)  # fmt: skip
    assert any("mc_maze_small: missing group" in p for p in probs)
    # a group the targets do not have: a problem when strict, a warning otherwise
    other = make_eval_case("mc_rtt", 5, n_heldin=3, n_heldout=2, seed=1)[1]
    probs = _problems({**sub, **other}, targets)
    assert probs == ["mc_rtt: no targets/inputs for this group (they have: mc_maze_small)"]
    with pytest.warns(SubmissionWarning, match="mc_rtt: no targets"):
        validate_submission({**sub, **other}, targets, strict=False)
    with pytest.warns(SubmissionWarning, match="mc_rtt: no targets"):
        probs = _problems(other, targets, strict=False)
    assert "no group of the submission has targets" in probs[-1]


def test_missing_and_unknown_keys(maze):
    targets, sub = maze
    bad = copy.deepcopy(sub)
    del bad["mc_maze_small"]["train_rates_heldout"]
    bad["mc_maze_small"]["eval_rates_heldin_foward"] = bad["mc_maze_small"].pop(
        "eval_rates_heldin_forward"
    )
    probs = _problems(bad, targets)
    assert any("mc_maze_small: train_rates_heldout: missing" in p for p in probs)
    assert any(
        "mc_maze_small: 'eval_rates_heldin_foward': unknown key (did you mean "
        "'eval_rates_heldin_forward'?)" in p
        for p in probs
    )
    assert any(
        "mc_maze_small: eval_rates_heldin_forward: missing; forward predictions need both" in p
        for p in probs
    )


@pytest.mark.parametrize(
    ("key", "shape", "fragment"),
    [
        ("train_rates_heldin", (29, 140, N_IN), "30 training trials expected, got 29"),
        ("eval_rates_heldout", (14, 139, N_OUT), "140 time bins expected, got 139"),
        ("eval_rates_heldin", (14, 140, N_IN + 1), f"{N_IN} held-in neurons expected, got 13"),
        ("eval_rates_heldout_forward", (14, 41, N_OUT), "40 forward-prediction bins expected"),
    ],
)
def test_shape_mismatches(maze, key, shape, fragment):
    targets, sub = maze
    bad = copy.deepcopy(sub)
    bad["mc_maze_small"][key] = np.full(shape, 0.1)
    (prob,) = _problems(bad, targets)
    assert prob.startswith(f"mc_maze_small: {key}: expected shape (")
    assert f"got {shape}" in prob and fragment in prob


def test_wrong_bin_width(maze):
    targets, sub = maze
    # 5 ms arrays under a 20 ms group name: no reference, the registry window decides
    probs = _problems({"mc_maze_small_20": sub["mc_maze_small"]}, None)
    assert len(probs) == 6
    assert any(
        "mc_maze_small_20: eval_rates_heldin: expected shape (14, 35, 12)" in p
        and "35 time bins expected, got 140 - that is the count at 5 ms bins, but group "
        "'mc_maze_small_20' is for 20 ms bins"
        in p
        for p in probs
    )
    assert any("10 forward-prediction bins expected, got 40 - that is the count at 5 ms" in p
               for p in probs)  # fmt: skip


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("nan", "expected finite rates, found 3 NaN values"),
        ("inf", "expected finite rates, found 3 infinite values"),
        ("neg", "expected rates >= 0 (spikes/bin), found 3 negative values"),
        ("str", "expected a real numeric dtype (float, spikes/bin), got dtype <U1"),
        ("bool", "expected a real numeric dtype (float, spikes/bin), got dtype bool"),
        ("2d", "expected a 3-D array (trials x time bins x neurons), got shape (14, 140)"),
        ("ragged", "expected a 3-D float array, got an unconvertible list"),
        ("dict", "expected a 3-D array, got a nested group/dict"),
    ],
)
def test_bad_values(maze, value, fragment):
    targets, sub = maze
    bad = copy.deepcopy(sub)
    arr = bad["mc_maze_small"]["eval_rates_heldin"]
    if value in ("nan", "inf", "neg"):
        arr[0, :3, 0] = {"nan": np.nan, "inf": np.inf, "neg": -0.5}[value]
    else:
        arr = {
            "str": np.full((14, 140, N_IN), "x"),
            "bool": arr > 0,
            "2d": arr[..., 0],
            "ragged": [[1.0], [1.0, 2.0]],
            "dict": {"x": arr},
        }[value]
    bad["mc_maze_small"]["eval_rates_heldin"] = arr
    (prob,) = _problems(bad, targets)
    assert prob.startswith("mc_maze_small: eval_rates_heldin: ") and fragment in prob


def test_every_problem_is_reported_at_once(maze):
    targets, sub = maze
    bad = copy.deepcopy(sub)
    g = bad["mc_maze_small"]
    g["train_rates_heldin"][0, 0, 0] = np.nan
    g["eval_rates_heldout"] = -g["eval_rates_heldout"]
    g["eval_rates_heldin"] = g["eval_rates_heldin"][:, :, :3]
    del g["train_rates_heldout"]
    bad["mc_rtt_7"] = {}
    probs = _problems(bad, targets)
    assert len(probs) == 5
    assert str(probs) and all(p.split(":")[0] in ("mc_maze_small", "mc_rtt_7") for p in probs)


def test_rates_in_spikes_per_second_warn(maze):
    targets, sub = maze
    hz = {g: {k: v * 200.0 for k, v in d.items()} for g, d in sub.items()}  # 5 ms: x200
    with pytest.warns(
        SubmissionWarning, match="spikes/s at 5 ms bins; rates must be in spikes/bin"
    ):
        validate_submission(hz, targets)
    # plausible in Hz but far above the observed counts (sparse held-out spikes here)
    sparse = copy.deepcopy(targets)
    held = sparse["mc_maze_small"]["eval_spikes_heldout"]
    held[:] = np.random.default_rng(0).random(held.shape) < 0.004
    with pytest.warns(SubmissionWarning, match="times the observed held-out count"):
        validate_submission(sub, sparse)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_submission(sub, targets)  # the correct one does not warn


def test_against_input_tensors(maze):
    _, sub = maze
    g = sub["mc_maze_small"]
    z = lambda a: np.zeros_like(a)  # noqa: E731
    inputs = {
        "train_spikes_heldin": z(g["train_rates_heldin"]),
        "train_spikes_heldout": z(g["train_rates_heldout"]),
        "train_spikes_heldin_forward": np.zeros((30, 40, N_IN)),
        "eval_spikes_heldin": z(g["eval_rates_heldin"]),
    }
    validate_submission(sub, inputs)
    validate_submission(sub, {"mc_maze_small": inputs})
    inputs["eval_spikes_heldin"] = np.zeros((13, 140, N_IN))
    probs = _problems(sub, inputs)
    eval_keys = [k for k in ALL_KEYS if k.startswith("eval_")]
    assert [p.split(":")[1].strip() for p in probs] == eval_keys
    assert all("13 evaluation trials expected, got 14" in p for p in probs)
    two = {**sub, "mc_rtt": sub["mc_maze_small"]}
    assert "flat input tensors describe one dataset" in _problems(two, inputs)[0]


def test_not_a_submission():
    assert "expected a dict" in _problems([1, 2], None)[0]
    assert "no dataset group found" in _problems({}, None)[0]
    with pytest.raises(SubmissionError, match="submission file not found"):
        validate_submission("/nonexistent/sub.h5", None)


# --------------------------------------------------------------------------- fuzzing

_float_arrays = hnp.arrays(
    dtype=st.sampled_from(
        [
            np.float64,
            np.float32,
            np.float16,
            np.int64,
            np.uint8,
            np.bool_,
            np.complex64,
            np.dtype("U2"),
            np.dtype("m8[s]"),
        ]
    ),  # fmt: skip
    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4),
)
_leaf = st.one_of(
    _float_arrays,
    st.none(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.lists(st.one_of(st.floats(), st.lists(st.floats(), max_size=3)), max_size=4),
)
_keys = st.one_of(st.sampled_from(list(ALL_KEYS)), st.text(max_size=8), st.integers())
_groups = st.one_of(
    st.sampled_from(["mc_maze_small", "mc_maze_small_20", "dmfc_rsg", "mc_rtt_20"]),
    st.text(max_size=10),
    st.integers(),
)
_submissions = st.one_of(
    _leaf,
    st.dictionaries(
        _groups, st.one_of(_leaf, st.dictionaries(_keys, _leaf, max_size=7)), max_size=4
    ),
)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(sub=_submissions, use_targets=st.booleans(), strict=st.booleans())
def test_fuzz_validator_raises_only_submission_error(maze, sub, use_targets, strict):
    targets, _ = maze
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning other than SubmissionWarning fails
        warnings.simplefilter("ignore", SubmissionWarning)
        try:
            validate_submission(sub, targets if use_targets else None, strict=strict)
        except SubmissionError as err:
            assert err.problems and str(err)
