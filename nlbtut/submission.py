"""Building, combining, saving and validating NLB'21 submissions.

A submission is the official nested structure::

    {group: {"train_rates_heldin":  (n_train, T, n_heldin),
             "train_rates_heldout": (n_train, T, n_heldout),
             "eval_rates_heldin":   (n_eval, T, n_heldin),
             "eval_rates_heldout":  (n_eval, T, n_heldout),
             # optional, both or neither
             "eval_rates_heldin_forward":  (n_eval, T_fp, n_heldin),
             "eval_rates_heldout_forward": (n_eval, T_fp, n_heldout)}}

with ``group = nlbtut.datasets.group_name(dataset, bin_width)`` (``"mc_maze"``,
``"mc_maze_20"``, ...) and every array in **spikes/bin** (not spikes/s).

:func:`validate_submission` checks a submission against the eval targets (the
``make_eval_target_tensors`` layout, e.g. the public ``eval_data_test.h5``) or
against the input tensors it was made from, and reports *every* problem in one
:class:`~nlbtut.errors.SubmissionError`. The official ``nlb_tools`` has no such
check: a malformed file fails deep inside ``evaluate`` with an ``AssertionError``
or a ``KeyError``, so this check is written by hand.

Example
-------
>>> import numpy as np
>>> from nlbtut.submission import make_submission
>>> r = lambda n, c: np.full((n, 140, c), 0.05)
>>> sub = make_submission("mc_maze_small", r(75, 107), r(75, 35), r(25, 107), r(25, 35))
>>> list(sub), sorted(sub["mc_maze_small"])[:2]
(['mc_maze_small'], ['eval_rates_heldin', 'eval_rates_heldout'])
"""

from __future__ import annotations

import difflib
import os
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nlbtut.datasets import DATASETS, get_dataset_info, group_name
from nlbtut.errors import DataError, DataFileNotFoundError, SubmissionError

__all__ = [
    "REQUIRED_KEYS",
    "FORWARD_KEYS",
    "VALID_GROUPS",
    "SubmissionWarning",
    "make_submission",
    "combine_submissions",
    "save_submission",
    "load_h5",
    "validate_submission",
]

REQUIRED_KEYS: tuple[str, ...] = (
    "train_rates_heldin",
    "train_rates_heldout",
    "eval_rates_heldin",
    "eval_rates_heldout",
)
FORWARD_KEYS: tuple[str, ...] = ("eval_rates_heldin_forward", "eval_rates_heldout_forward")
ALL_KEYS: tuple[str, ...] = REQUIRED_KEYS + FORWARD_KEYS
# group name -> (dataset, bin width in ms)
VALID_GROUPS: dict[str, tuple[str, int]] = {
    group_name(name, bw): (name, bw) for name in DATASETS for bw in (5, 20)
}
# input-tensor keys (make_train_input_tensors / make_eval_input_tensors output)
INPUT_KEYS: tuple[str, ...] = (
    "train_spikes_heldin",
    "train_spikes_heldout",
    "train_spikes_heldin_forward",
    "train_spikes_heldout_forward",
    "eval_spikes_heldin",
)
# a mean predicted rate above this many spikes/s is taken for rates in spikes/s
MAX_PLAUSIBLE_RATE_HZ = 200.0


class SubmissionWarning(UserWarning):
    """A submission looks suspicious but can be scored (e.g. rates in spikes/s)."""


# --------------------------------------------------------------------------- building


def make_submission(
    dataset: str,
    train_rates_heldin: np.ndarray,
    train_rates_heldout: np.ndarray,
    eval_rates_heldin: np.ndarray,
    eval_rates_heldout: np.ndarray,
    eval_rates_heldin_forward: np.ndarray | None = None,
    eval_rates_heldout_forward: np.ndarray | None = None,
    *,
    bin_width: int = 5,
) -> dict[str, dict[str, np.ndarray]]:
    """Put rate predictions into the official submission structure.

    Parameters
    ----------
    dataset : str
        NLB dataset name (``"mc_maze"``, ..., ``"mc_maze_small"``).
    train_rates_heldin, train_rates_heldout : ndarray
        Rates on the training trials, (n_train, T, n_heldin) and
        (n_train, T, n_heldout), spikes/bin.
    eval_rates_heldin, eval_rates_heldout : ndarray
        Rates on the evaluation trials, (n_eval, T, n_heldin/n_heldout), spikes/bin.
    eval_rates_heldin_forward, eval_rates_heldout_forward : ndarray, optional
        Forward-prediction rates (n_eval, 200 ms / bin_width, n_heldin/n_heldout),
        spikes/bin. Give both or neither.
    bin_width : int
        5 or 20 (ms); picks the group name (``"mc_maze"`` or ``"mc_maze_20"``).

    Returns
    -------
    dict
        ``{group: {key: float array}}``.

    Raises
    ------
    SubmissionError
        If the arrays are inconsistent (trial, bin or neuron counts disagree, the
        bin count does not fit the dataset window at ``bin_width``, NaN, negative
        values, only one forward array).

    Example
    -------
    >>> import numpy as np
    >>> z = lambda n, t, c: np.full((n, t, c), 0.1)
    >>> sub = make_submission("mc_rtt", z(4, 30, 98), z(4, 30, 32), z(2, 30, 98), z(2, 30, 32),
    ...                       bin_width=20)
    >>> list(sub)
    ['mc_rtt_20']
    """
    try:
        group = group_name(dataset, bin_width)
    except (TypeError, ValueError) as exc:
        raise SubmissionError(str(exc), [str(exc)]) from exc
    arrays = {
        "train_rates_heldin": train_rates_heldin,
        "train_rates_heldout": train_rates_heldout,
        "eval_rates_heldin": eval_rates_heldin,
        "eval_rates_heldout": eval_rates_heldout,
        "eval_rates_heldin_forward": eval_rates_heldin_forward,
        "eval_rates_heldout_forward": eval_rates_heldout_forward,
    }
    group_dict: dict[str, Any] = {k: v for k, v in arrays.items() if v is not None}
    sub = {group: group_dict}
    validate_submission(sub, None)
    return {group: {k: np.asarray(v, dtype=np.float64) for k, v in group_dict.items()}}


def combine_submissions(*subs: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Merge submissions of different groups into one (e.g. the three scaling datasets).

    EvalAI wanted ``mc_maze_large``, ``mc_maze_medium`` and ``mc_maze_small`` in
    one file; this is the dict version of ``combine_h5``.

    Raises
    ------
    SubmissionError
        If an argument is not a dict or a group appears twice.

    Example
    -------
    >>> combine_submissions({"mc_maze_large": {}}, {"mc_maze_small": {}}).keys()
    dict_keys(['mc_maze_large', 'mc_maze_small'])
    """
    out: dict[str, dict[str, Any]] = {}
    problems = []
    for i, sub in enumerate(subs):
        if not isinstance(sub, Mapping):
            problems.append(f"argument {i}: expected a submission dict, got {type(sub).__name__}")
            continue
        for group, value in sub.items():
            if group in out:
                problems.append(f"{group}: group appears in more than one submission")
            else:
                out[group] = dict(value) if isinstance(value, Mapping) else value
    if problems:
        raise SubmissionError(_format(problems), problems)
    return out


# --------------------------------------------------------------------------- files


def save_submission(submission: Mapping[str, Mapping[str, Any]], path: str | os.PathLike) -> Path:
    """Write a submission to HDF5, atomically, in the ``save_to_h5`` layout.

    One HDF5 group per dataset group; floating arrays are stored as float32 and
    integer arrays as int32 with gzip compression, like ``nlb_tools.save_to_h5``.
    Any nested dict of arrays can be written this way (target dicts too: object
    arrays of index arrays such as ``eval_cond_idx`` become variable-length data).
    The file is written to a temporary name in the same folder and then renamed,
    so an interrupted write never leaves a half-written file. An existing file
    is replaced.

    Returns
    -------
    Path
        The written file.
    """
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            _write_h5_group(f, submission)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _write_h5_group(group: Any, d: Mapping[str, Any]) -> None:
    for key, value in d.items():
        if isinstance(value, Mapping):
            _write_h5_group(group.create_group(str(key)), value)
            continue
        arr = np.asarray(value)
        if arr.dtype == object:  # ragged index lists (eval_cond_idx), as save_to_h5 does
            import h5py

            items = [np.asarray(a) for a in arr.ravel()]
            if not all(a.dtype.kind in "fiub" for a in items):
                raise DataError(
                    f"{key}: cannot write an object array whose items are not numeric arrays "
                    f"(item dtypes {sorted({str(a.dtype) for a in items})})"
                )
            is_float = any(np.issubdtype(a.dtype, np.floating) for a in items)
            base = np.float32 if is_float else np.int32
            data = np.empty(len(items), dtype=object)
            data[:] = [a.astype(base).ravel() for a in items]
            group.create_dataset(str(key), data=data, dtype=h5py.vlen_dtype(base))
            continue
        if np.issubdtype(arr.dtype, np.floating):
            arr = arr.astype(np.float32)
        elif np.issubdtype(arr.dtype, np.integer):
            arr = arr.astype(np.int32)
        if arr.ndim == 0:
            group.create_dataset(str(key), data=arr)
        else:
            group.create_dataset(str(key), data=arr, compression="gzip")


def load_h5(path: str | os.PathLike) -> dict[str, Any]:
    """Read a whole HDF5 file (submission or targets) into nested dicts of arrays.

    Like ``nlb_tools.h5_to_dict``: every dataset is read with ``ds[()]``, so a
    variable-length dataset (``eval_cond_idx``) becomes a 1-D object array of
    int arrays.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DataFileNotFoundError(f"HDF5 file not found: {path}")

    def read(obj: Any) -> Any:
        if isinstance(obj, h5py.Group):
            return {k: read(v) for k, v in obj.items()}
        return obj[()]

    with h5py.File(path, "r") as f:
        return read(f)


# --------------------------------------------------------------------------- validation


def validate_submission(
    submission: Any,
    targets_or_inputs: Any = None,
    *,
    strict: bool = True,
) -> None:
    """Check a submission and raise one error that lists every problem found.

    Parameters
    ----------
    submission : dict or str or Path
        ``{group: {key: array}}`` (see the module docstring), or an HDF5 file of it.
    targets_or_inputs : dict or str or Path or None
        What to check the shapes against:

        * eval targets in the official layout ``{group: {"eval_spikes_heldout",
          "train_behavior", "eval_spikes_heldin_forward", ...}}`` (the output of
          ``make_eval_target_tensors``, or its HDF5 file such as the public
          ``eval_data_test.h5``);
        * the input tensors, flat (``{**train_input, **eval_input}`` with keys
          ``train_spikes_heldin``, ``train_spikes_heldout``, ``eval_spikes_heldin``,
          ...; the submission must then hold one group) or nested per group;
        * ``None``: only internal consistency and the window length of the
          dataset at the group's bin width are checked.
    strict : bool
        If True, a target group the submission lacks and a submission group
        without targets are problems. If False (what :func:`~nlbtut.evaluation.evaluate`
        uses), they only warn, as the official ``evaluate`` skips them.

    Raises
    ------
    SubmissionError
        Listing every problem, each naming the group, the key, what was expected
        and what was found: missing or unknown groups/keys, arrays that are not
        real numeric 3-D arrays, trial / time-bin / neuron counts that disagree
        with the targets or with each other, bins of the other bin width, NaN or
        infinite values, negative rates, a forward array without its partner.
        ``.problems`` holds the list.

    Warns
    -----
    SubmissionWarning
        When rates look like spikes/s rather than spikes/bin (mean rate above
        200 spikes/s, or more than 20 times the observed held-out spike count),
        and for skipped groups when ``strict=False``.

    Example
    -------
    >>> import numpy as np
    >>> try:
    ...     validate_submission({"mc_maze": {"eval_rates_heldout": -np.ones((2, 140, 45))}})
    ... except SubmissionError as err:
    ...     print(len(err.problems) > 1)
    True
    """
    from nlbtut.errors import NLBTutError

    problems: list[str] = []
    try:
        submission = _maybe_load(submission, "submission")
        refs = _reference_shapes(targets_or_inputs, submission, problems)
    except NLBTutError as exc:
        if isinstance(exc, SubmissionError):
            raise
        raise SubmissionError(str(exc), [str(exc)]) from exc
    if not isinstance(submission, Mapping):
        problems.append(
            f"submission: expected a dict {{group: {{key: array}}}} or an HDF5 file path, "
            f"got {type(submission).__name__}"
        )
    elif len(submission) == 0:
        problems.append("submission: no dataset group found (expected e.g. 'mc_maze')")
    else:
        for group, content in submission.items():
            _check_group(group, content, refs, problems, strict)
        if refs is not None:
            _check_group_coverage(submission, refs, problems, strict)
    if problems:
        raise SubmissionError(_format(problems), problems)


def _format(problems: list[str]) -> str:
    head = f"the submission has {len(problems)} problem{'s' if len(problems) > 1 else ''}:"
    return "\n".join([head] + [f"  - {p}" for p in problems])


def _maybe_load(obj: Any, what: str) -> Any:
    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj)
        if not path.is_file():
            raise SubmissionError(f"{what} file not found: {path}", [f"{what}: no file {path}"])
        try:
            return load_h5(path)
        except OSError as exc:
            msg = f"{what} file {path} is not a readable HDF5 file ({exc})"
            raise SubmissionError(msg, [msg]) from exc
    return obj


def _shape(value: Any) -> tuple[int, ...] | None:
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and all(isinstance(s, (int, np.integer)) for s in shape):
        return tuple(int(s) for s in shape)
    return None


class _Ref(dict):
    """Expected sizes of one group: n_train, n_eval, n_bins, n_heldin, n_heldout, n_fp."""


def _reference_shapes(tgt: Any, submission: Any, problems: list[str]) -> dict[str, _Ref] | None:
    """Expected sizes per group from targets or inputs; None when there is no reference."""
    if tgt is None:
        return None
    tgt = _maybe_load(tgt, "targets")
    if not isinstance(tgt, Mapping):
        raise SubmissionError(
            f"targets_or_inputs: expected a dict or an HDF5 path, got {type(tgt).__name__}",
            [f"targets_or_inputs: got {type(tgt).__name__}"],
        )
    if any(k in tgt for k in INPUT_KEYS + ("eval_spikes_heldout",)):
        # flat input tensors: one dataset, the submission's only group
        groups = list(submission) if isinstance(submission, Mapping) else []
        if len(groups) != 1:
            problems.append(
                "targets_or_inputs: flat input tensors describe one dataset, but the submission "
                f"has {len(groups)} groups {groups}; pass {{group: inputs}} instead"
            )
            return {}
        return {groups[0]: _ref_from(tgt)}
    return {str(g): _ref_from(v) for g, v in tgt.items() if isinstance(v, Mapping)}


def _ref_from(d: Mapping[str, Any]) -> _Ref:
    ref = _Ref()
    s = {k: _shape(v) for k, v in d.items()}

    def dim(key: str, axis: int, ndim: int | None = None) -> int | None:
        shp = s.get(key)
        if shp is None or len(shp) <= axis or (ndim is not None and len(shp) != ndim):
            return None
        return shp[axis]

    # eval targets (make_eval_target_tensors layout)
    ref["n_eval"] = dim("eval_spikes_heldout", 0, 3) or dim("eval_spikes_heldin", 0, 3)
    ref["n_bins"] = dim("eval_spikes_heldout", 1, 3) or dim("eval_spikes_heldin", 1, 3)
    ref["n_heldout"] = dim("eval_spikes_heldout", 2, 3) or dim("train_spikes_heldout", 2, 3)
    ref["n_heldin"] = (
        dim("eval_spikes_heldin_forward", 2, 3)
        or dim("eval_spikes_heldin", 2, 3)
        or dim("train_spikes_heldin", 2, 3)
    )
    if ref["n_heldin"] is None and dim("psth", 2, 3) and ref["n_heldout"]:
        ref["n_heldin"] = dim("psth", 2, 3) - ref["n_heldout"]
    ref["n_fp"] = dim("eval_spikes_heldin_forward", 1, 3) or dim(
        "train_spikes_heldin_forward", 1, 3
    )
    ref["n_train"] = dim("train_behavior", 0) or dim("train_spikes_heldin", 0, 3)
    ref["n_train_bins"] = dim("train_behavior", 1, 3) or dim("train_spikes_heldin", 1, 3)
    if ref["n_bins"] is None:
        ref["n_bins"] = ref["n_train_bins"]
    ref["has_forward_targets"] = ref["n_fp"] is not None
    spk = d.get("eval_spikes_heldout")
    ref["spikes"] = spk
    return ref


def _to_array(group: str, key: str, value: Any, problems: list[str]) -> np.ndarray | None:
    """The value as a real numeric 3-D array, or None after recording why not."""
    if isinstance(value, Mapping):
        problems.append(f"{group}: {key}: expected a 3-D array, got a nested group/dict")
        return None
    if hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, np.ndarray):
        try:
            value = value[()]  # h5py dataset
        except Exception:  # noqa: BLE001 - anything unreadable is reported
            pass
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - ragged lists and odd objects
        problems.append(
            f"{group}: {key}: expected a 3-D float array, got an unconvertible "
            f"{type(value).__name__} ({type(exc).__name__})"
        )
        return None
    if arr.dtype.kind not in "fiu":
        problems.append(
            f"{group}: {key}: expected a real numeric dtype (float, spikes/bin), got dtype {arr.dtype}"
        )
        return None
    if arr.ndim != 3:
        problems.append(
            f"{group}: {key}: expected a 3-D array (trials x time bins x neurons), "
            f"got shape {arr.shape}"
        )
        return None
    return arr


def _check_values(group: str, key: str, arr: np.ndarray, problems: list[str]) -> None:
    if arr.size == 0:
        problems.append(f"{group}: {key}: array is empty, shape {arr.shape}")
        return
    if arr.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            n_nan = int(np.count_nonzero(np.isnan(arr)))
            n_inf = int(np.count_nonzero(np.isinf(arr)))
        if n_nan:
            problems.append(f"{group}: {key}: expected finite rates, found {n_nan} NaN values")
        if n_inf:
            problems.append(f"{group}: {key}: expected finite rates, found {n_inf} infinite values")
    with np.errstate(invalid="ignore"):
        n_neg = int(np.count_nonzero(arr < 0))
    if n_neg:
        problems.append(
            f"{group}: {key}: expected rates >= 0 (spikes/bin), found {n_neg} negative values "
            f"(min {np.nanmin(arr)!r})"
        )


def _check_group(
    group: Any, content: Any, refs: dict[str, _Ref] | None, problems: list[str], strict: bool
) -> None:
    if not isinstance(group, str):
        problems.append(
            f"{group!r}: group names must be str like 'mc_maze', got {type(group).__name__}"
        )
        return
    if group not in VALID_GROUPS:
        close = difflib.get_close_matches(group, VALID_GROUPS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(
            f"{group}: unknown dataset group{hint}; expected one of {', '.join(VALID_GROUPS)}"
        )
        return
    if not isinstance(content, Mapping):
        problems.append(
            f"{group}: expected a dict of rate arrays with keys {', '.join(REQUIRED_KEYS)}, "
            f"got {type(content).__name__}"
        )
        return
    dataset, bw = VALID_GROUPS[group]
    info = get_dataset_info(dataset)
    for key in content:
        if key not in ALL_KEYS:
            close = difflib.get_close_matches(str(key), ALL_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{group}: {key!r}: unknown key{hint}; expected {', '.join(ALL_KEYS)}")
    for key in REQUIRED_KEYS:
        if key not in content:
            problems.append(f"{group}: {key}: missing (required keys: {', '.join(REQUIRED_KEYS)})")
    fwd_present = [k for k in FORWARD_KEYS if k in content]
    if len(fwd_present) == 1:
        other = FORWARD_KEYS[1 - FORWARD_KEYS.index(fwd_present[0])]
        problems.append(
            f"{group}: {other}: missing; forward predictions need both {FORWARD_KEYS[0]} "
            f"and {FORWARD_KEYS[1]}"
        )

    arrays: dict[str, np.ndarray] = {}
    for key in ALL_KEYS:
        if key in content:
            arr = _to_array(group, key, content[key], problems)
            if arr is not None:
                arrays[key] = arr
                _check_values(group, key, arr, problems)

    ref = None if refs is None else refs.get(group)
    if refs is not None and ref is None:
        return  # coverage problems are reported by _check_group_coverage
    _check_shapes(group, bw, info, arrays, ref, problems)
    _check_units(group, bw, arrays, ref)


def _check_shapes(
    group: str,
    bw: int,
    info: Any,
    arrays: dict[str, np.ndarray],
    ref: _Ref | None,
    problems: list[str],
) -> None:
    """Trial, bin and neuron counts against the reference (or each other)."""
    other_bw = 20 if bw == 5 else 5
    # expected sizes; from the reference when there is one, else from the first array seen
    exp: dict[str, int | None] = {}
    if ref is not None:
        exp = {k: ref.get(k) for k in ("n_train", "n_eval", "n_heldin", "n_heldout", "n_fp")}
        exp["n_bins"] = ref.get("n_bins")
        exp["n_train_bins"] = ref.get("n_train_bins") or ref.get("n_bins")
    if exp.get("n_bins") is None:
        exp["n_bins"] = info.n_bins(bw)
    if exp.get("n_train_bins") is None:
        exp["n_train_bins"] = exp["n_bins"]
    if exp.get("n_fp") is None:
        exp["n_fp"] = info.n_fp_bins(bw)
    bins_for = {
        "n_bins": (info.n_bins(bw), info.n_bins(other_bw)),
        "n_train_bins": (info.n_bins(bw), info.n_bins(other_bw)),
        "n_fp": (info.n_fp_bins(bw), info.n_fp_bins(other_bw)),
    }
    layout = {
        "train_rates_heldin": ("n_train", "n_train_bins", "n_heldin"),
        "train_rates_heldout": ("n_train", "n_train_bins", "n_heldout"),
        "eval_rates_heldin": ("n_eval", "n_bins", "n_heldin"),
        "eval_rates_heldout": ("n_eval", "n_bins", "n_heldout"),
        "eval_rates_heldin_forward": ("n_eval", "n_fp", "n_heldin"),
        "eval_rates_heldout_forward": ("n_eval", "n_fp", "n_heldout"),
    }
    words = {
        "n_train": "training trials",
        "n_eval": "evaluation trials",
        "n_bins": "time bins",
        "n_train_bins": "time bins",
        "n_fp": "forward-prediction bins",
        "n_heldin": "held-in neurons",
        "n_heldout": "held-out neurons",
    }
    source = "the targets/inputs" if ref is not None else "the other arrays"
    for key in ALL_KEYS:
        if key not in arrays:
            continue
        shape = arrays[key].shape
        names = layout[key]
        expected = []
        mismatches = []
        for axis, name in enumerate(names):
            want = exp.get(name)
            if want is None:  # first array seen sets it (internal consistency)
                exp[name] = want = shape[axis]
            expected.append(want)
            if shape[axis] != want:
                msg = f"{want} {words[name]} expected, got {shape[axis]}"
                if name in bins_for and shape[axis] == bins_for[name][1] != bins_for[name][0]:
                    msg += (
                        f" - that is the count at {other_bw} ms bins, but group {group!r} "
                        f"is for {bw} ms bins"
                    )
                elif name in bins_for and ref is None:
                    msg += f" ({info.name} window at {bw} ms)"
                elif ref is not None:
                    msg += f" (from {source})"
                mismatches.append(msg)
        if mismatches:
            problems.append(
                f"{group}: {key}: expected shape {tuple(expected)} (trials x time bins x neurons), "
                f"got {shape}: " + "; ".join(mismatches)
            )


def _check_units(group: str, bw: int, arrays: dict[str, np.ndarray], ref: _Ref | None) -> None:
    """Warn when rates look like spikes/s rather than spikes/bin."""
    rates = [arrays[k] for k in ("eval_rates_heldin", "eval_rates_heldout") if k in arrays]
    if not rates:
        return
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vals = np.concatenate([r.astype(np.float64).ravel() for r in rates])
        vals = vals[np.isfinite(vals)]
        if vals.size == 0:
            return
        mean_rate = float(vals.mean())
        hz = mean_rate * 1000.0 / bw
        msg = None
        if hz > MAX_PLAUSIBLE_RATE_HZ:
            msg = (
                f"{group}: mean predicted rate is {mean_rate:.3g} spikes/bin = {hz:.3g} spikes/s "
                f"at {bw} ms bins; rates must be in spikes/bin (did you submit spikes/s?)"
            )
        elif ref is not None and "eval_rates_heldout" in arrays and ref.get("spikes") is not None:
            spikes = np.asarray(ref["spikes"], dtype=np.float64)
            pred = arrays["eval_rates_heldout"]
            if spikes.shape == pred.shape:
                obs = float(np.nanmean(spikes)) if np.isfinite(spikes).any() else 0.0
                got = float(np.nanmean(pred.astype(np.float64)))
                if obs > 0 and np.isfinite(got) and got > 20 * obs:
                    msg = (
                        f"{group}: eval_rates_heldout mean {got:.3g} spikes/bin is {got / obs:.0f} "
                        f"times the observed held-out count {obs:.3g} spikes/bin (spikes/s?)"
                    )
    if msg:
        warnings.warn(msg, SubmissionWarning, stacklevel=4)


def _check_group_coverage(
    submission: Mapping[str, Any], refs: dict[str, _Ref], problems: list[str], strict: bool
) -> None:
    sub_groups = [g for g in submission if isinstance(g, str) and g in VALID_GROUPS]
    ref_groups = [g for g in refs if g in VALID_GROUPS]
    extra = [g for g in sub_groups if g not in refs]
    missing = [g for g in ref_groups if g not in submission]
    for g in extra:
        msg = f"{g}: no targets/inputs for this group (they have: {', '.join(refs) or 'none'})"
        if strict:
            problems.append(msg)
        else:
            warnings.warn(msg + "; skipped", SubmissionWarning, stacklevel=4)
    for g in missing:
        msg = f"{g}: missing group (the targets/inputs have it)"
        if strict:
            problems.append(msg)
    if sub_groups and not strict and len(extra) == len(sub_groups):
        problems.append(
            "no group of the submission has targets: submission has "
            f"{', '.join(sub_groups)}, targets have {', '.join(refs) or 'none'}"
        )
