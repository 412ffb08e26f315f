"""Reading NLB-format NWB files into numpy blocks (the engine behind :class:`nlbtut.NWBDataset`).

This module does what ``nlb_tools.nwb_interface.NWBDataset.load`` and the multi-file part of its
constructor do, with the same numbers, but without building the pandas objects the official code
goes through:

* ``pynwb`` opens the file; the units table is read as its flat HDF5 arrays (``spike_times``,
  ``obs_intervals`` and their index arrays) instead of ``units.to_dataframe()``, which makes one
  Python object per unit and per interval.
* Spikes are binned unit by unit straight into one preallocated float16 array per block
  (``spikes``, ``heldout_spikes``) with the official rule ``int(round(t * 1000, 6))``; there is no
  per-unit DataFrame, no ``pd.concat`` of the blocks and no ``sort_index`` copy.
* Several files (the DANDI test file and train file) are laid out first (the official shift rule:
  each file starts at the next 100 ms boundary at or after the end of the previous file + 50 ms)
  and then every file is written into its slice of the final arrays, so the recording is never
  concatenated or re-indexed.

These steps are written by hand because no library bins NWB spike trains onto a shared clock with
the official rounding and NaN rules; pynwb and h5py do the file reading.

Times are converted to ``timedelta64[ns]`` with :func:`seconds_to_ns`, the exact float-to-ns
rule of pandas 1.3.4 (the reference the benchmark was run with), so clock times do not depend on
the pandas version installed.
"""

from __future__ import annotations

import logging
import numbers
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nlbtut.errors import DataError, DataFileNotFoundError

logger = logging.getLogger("nlbtut.nwb")

__all__ = [
    "seconds_to_ns",
    "to_timedelta_s",
    "channel_order",
    "FileReader",
    "assemble",
]

_INAT = np.iinfo(np.int64).min
_MS = 1_000_000  # ns per ms


# ----------------------------------------------------------------------------------------------
# time conversion
# ----------------------------------------------------------------------------------------------
def seconds_to_ns(values: Any) -> np.ndarray:
    """Float seconds -> int64 ns, exactly as ``pd.to_timedelta(x, unit="s")`` in pandas 1.3.4.

    The integer part and the fraction (rounded to 9 decimals) are scaled separately and the
    fraction truncated, so ``0.001`` is exactly 1,000,000 ns. NaN becomes NaT (int64 min).
    """
    data = np.asarray(values, dtype=np.float64)
    mask = np.isnan(data)
    with np.errstate(invalid="ignore"):
        base = np.where(mask, 0.0, data).astype(np.int64)
        frac = np.round(data - base, 9)
        out = base * 1_000_000_000 + np.where(mask, 0.0, frac * 1_000_000_000).astype(np.int64)
    out[mask] = _INAT
    return out


def to_timedelta_s(values: Any) -> Any:
    """``pd.to_timedelta(values, unit="s")`` with pandas-1.3.4 rounding and a ``ns`` dtype.

    Float input uses :func:`seconds_to_ns`; other input (already timedelta, object) goes through
    pandas. A Series keeps its index and name.
    """
    if isinstance(values, pd.Series):
        arr = values.to_numpy()
        if arr.dtype.kind in "fiub":
            ns = seconds_to_ns(arr.astype(np.float64)).view("timedelta64[ns]")
            return pd.Series(ns, index=values.index, name=values.name)
        out = pd.to_timedelta(values, unit="s") if arr.dtype.kind != "m" else values
        return out.astype("timedelta64[ns]")
    arr = np.asarray(values)
    if arr.dtype.kind in "fiub":
        return seconds_to_ns(arr.astype(np.float64)).view("timedelta64[ns]")
    return np.asarray(pd.to_timedelta(arr, unit="s")).astype("timedelta64[ns]")


# ----------------------------------------------------------------------------------------------
# column order
# ----------------------------------------------------------------------------------------------
def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Number) and not isinstance(x, bool)


def channel_order(channels: list) -> np.ndarray:
    """Positions that sort channel names the way ``DataFrame.sort_index(axis=1)`` does.

    pandas sorts a level that mixes numbers and strings with numbers first (ascending), then
    strings (ascending); a homogeneous level sorts normally. The sort is stable.
    """
    keyed = [
        ((0, float(c), "") if _is_number(c) else (1, 0.0, str(c)), i)
        for i, c in enumerate(channels)
    ]
    return np.array([i for _, i in sorted(keyed, key=lambda t: (t[0], t[1]))], dtype=np.int64)


# ----------------------------------------------------------------------------------------------
# one file
# ----------------------------------------------------------------------------------------------
@dataclass
class _SpikeBlock:
    name: str  # "spikes" or "heldout_spikes"
    positions: np.ndarray  # row positions in the units table, in sorted-unit-id order
    channels: list  # unit ids, sorted
    first_unit: int  # units-table position of the block's first unit (official obs mask)


@dataclass
class _Series:
    name: str
    ts: Any  # the pynwb TimeSeries
    channels: list  # sorted channel names
    perm: np.ndarray  # stored column -> sorted column order
    rows: np.ndarray  # row of each sample on the file's 1 ms grid
    dtype: np.dtype
    covers_all: bool  # every grid row has a sample


@dataclass
class FileReader:
    """An open NWB file, its metadata read, its arrays still on disk.

    ``FileReader(source, split_heldout, skip_fields)`` reads the trials table, the unit table's
    small columns and the time-series timestamps; :meth:`fill` later writes the spikes and
    continuous data into the caller's arrays. ``close()`` closes the file.
    """

    source: Any
    split_heldout: bool = True
    skip_fields: list = field(default_factory=list)

    def __post_init__(self) -> None:
        from pynwb import NWBHDF5IO, NWBFile

        self._io = None
        if isinstance(self.source, (str, os.PathLike)):
            self.label = os.fspath(self.source)
            logger.info("Loading %s", self.label)
            try:
                self._io = NWBHDF5IO(self.label, "r")
                nwbfile = self._io.read()
            except (OSError, ValueError, KeyError) as exc:
                self.close()
                raise DataError(f"Could not read {self.label} as an NWB file: {exc}") from exc
        elif isinstance(self.source, NWBFile):
            nwbfile = self.source
            self.label = f"NWBFile {nwbfile.identifier!r}"
        else:
            raise DataError(
                "NWBDataset expects a path to an NWB file or folder, or an open pynwb.NWBFile; "
                f"got {type(self.source).__name__}"
            )
        self.nwbfile = nwbfile
        try:
            self._read_metadata()
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self._io is not None:
            self._io.close()
            self._io = None

    # -- metadata ------------------------------------------------------------------------------
    def _read_metadata(self) -> None:
        nwbfile = self.nwbfile
        if nwbfile.trials is None:
            raise DataError(f"{self.label} has no trials table: not an NLB-format NWB file")
        if nwbfile.units is None:
            raise DataError(f"{self.label} has no units table: not an NLB-format NWB file")
        self.descriptions: dict[str, str] = {}
        self.trial_info = self._read_trials()
        self._read_units()
        self.series = self._find_series()

    def _read_trials(self) -> pd.DataFrame:
        trials = self.nwbfile.trials
        trial_info = (
            trials.to_dataframe()
            .reset_index()
            .rename({"id": "trial_id", "stop_time": "end_time"}, axis=1)
        )
        for name in trials.colnames:
            col = getattr(trials, name, None)
            if col is None:
                logger.warning("Field %s not found in NWB file trials table", name)
                continue
            self.descriptions[name] = col.description
        for col in trial_info.columns:
            if isinstance(col, str) and col.endswith("_time"):
                trial_info[col] = to_timedelta_s(trial_info[col])
        return trial_info

    def _read_units(self) -> None:
        units = self.nwbfile.units
        colnames = set(units.colnames)
        for required in ("spike_times", "obs_intervals") + (
            ("heldout",) if self.split_heldout else ()
        ):
            if required not in colnames:
                extra = (
                    " (pass split_heldout=False to load a file without held-out labels)"
                    if required == "heldout"
                    else ""
                )
                raise DataError(
                    f"{self.label}: the units table has no {required!r} column, which NLB-format "
                    f"files have; columns found: {sorted(colnames)}{extra}"
                )
        self.unit_ids = np.asarray(units.id.data[:])
        n_units = len(self.unit_ids)
        if n_units == 0:
            raise DataError(f"{self.label}: the units table is empty")
        st = units["spike_times"]
        self._spike_index = np.concatenate([[0], np.asarray(st.data[:], dtype=np.int64)])
        self._spike_data = st.target.data
        oi = units["obs_intervals"]
        self._obs_index = np.concatenate([[0], np.asarray(oi.data[:], dtype=np.int64)])
        self._obs = np.asarray(oi.target.data[:], dtype=np.float64).reshape(-1, 2)
        if np.any(np.diff(self._obs_index) == 0):
            bad = self.unit_ids[np.flatnonzero(np.diff(self._obs_index) == 0)[0]]
            raise DataError(f"{self.label}: unit {bad} has no obs_intervals")
        # data end: the latest end of the units' last intervals, on the 1 ms grid
        last_ends = self._obs[self._obs_index[1:] - 1, 1]
        self.n_bins = int(round(float(np.max(last_ends)) * 1000.0))
        if self.split_heldout:
            heldout = np.asarray(units["heldout"].data[:]).astype(bool)
            masks = [("spikes", ~heldout), ("heldout_spikes", heldout)]
        else:
            masks = [("spikes", np.ones(n_units, dtype=bool))]
        self.blocks: list[_SpikeBlock] = []
        for name, mask in masks:
            pos = np.flatnonzero(mask)
            if len(pos) == 0:
                continue
            ids = self.unit_ids[pos].tolist()
            order = channel_order(ids)
            self.blocks.append(
                _SpikeBlock(
                    name=name,
                    positions=pos[order],
                    channels=[ids[i] for i in order],
                    first_unit=int(pos[0]),
                )
            )

    def _find_series(self) -> dict[str, _Series]:
        from pynwb import ProcessingModule, TimeSeries
        from pynwb.core import MultiContainerInterface

        found: dict[str, Any] = {}

        def visit(obj: Any) -> None:
            for child in obj.children:
                if isinstance(child, TimeSeries):
                    if child.name in self.skip_fields:
                        continue
                    found[child.name] = child
                    self.descriptions[child.name] = child.description
                elif isinstance(child, ProcessingModule):
                    visit(child)
                elif isinstance(child, MultiContainerInterface):
                    for sub in child.children:
                        if isinstance(sub, TimeSeries):
                            name = f"{child.name}_{sub.name}"
                            if name in self.skip_fields:
                                continue
                            found[name] = sub
                            self.descriptions[name] = sub.description

        visit(self.nwbfile)
        series: dict[str, _Series] = {}
        for name, ts in found.items():
            s = self._prepare_series(name, ts)
            if s is not None:
                series[name] = s
        return series

    def _prepare_series(self, name: str, ts: Any) -> _Series | None:
        shape = ts.data.shape
        if len(shape) > 2:
            raise DataError(
                f"{self.label}: time series {name!r} has shape {shape}; NWBDataset takes 1-D or "
                "2-D (time x channels) series. Skip it with skip_fields=[...]"
            )
        n = shape[0]
        n_cols = 1 if len(shape) == 1 else shape[1]
        if ts.timestamps is not None:
            seconds = np.asarray(ts.timestamps[()], dtype=np.float64)
        else:
            seconds = np.arange(n) / ts.rate + ts.starting_time
        # the official check: round(clock seconds, 6) must be one of the grid's timestamps
        ns = seconds_to_ns(seconds)
        with np.errstate(invalid="ignore"):
            r = np.round(ns * 1e-9, 6)
            k = np.rint(r * 1000.0)
            ok = (k >= 0) & (k < self.n_bins) & (np.round(k / 1000.0, 6) == r)
        if not np.all(ok):
            bad = int(np.flatnonzero(~ok)[0])
            msg = (
                f"Dropping {name} due to timestamp mismatch: {int((~ok).sum())} of its {n} "
                f"timestamps (first at {float(seconds[bad])!r} s) are not on the 1 ms grid of "
                f"{self.label}, which runs from 0 to {self.n_bins / 1000:g} s."
            )
            logger.warning(msg)
            warnings.warn(msg, UserWarning, stacklevel=7)
            return None
        rows = k.astype(np.int64)
        if np.any(rows[1:] <= rows[:-1]) and len(np.unique(rows)) != len(rows):
            raise DataError(f"{self.label}: time series {name!r} has repeated timestamps")
        comments = ts.comments or ""
        if "columns=" in comments:
            names = comments.split("[")[-1].split("]")[0].split(",")
            if len(names) != n_cols:
                raise DataError(
                    f"{self.label}: time series {name!r} names {len(names)} columns in its "
                    f"comments ({comments!r}) but its data has {n_cols}"
                )
        else:
            names = [f"{i:04d}" for i in range(n_cols)]
        perm = channel_order(names)
        return _Series(
            name=name,
            ts=ts,
            channels=[names[i] for i in perm],
            perm=perm,
            rows=rows,
            dtype=np.dtype(ts.data.dtype),
            covers_all=len(rows) == self.n_bins,
        )

    # -- layout --------------------------------------------------------------------------------
    def columns(self) -> dict[str, tuple[list, np.dtype, bool]]:
        """``{signal_type: (channels, dtype, covers_every_row)}`` of this file."""
        cols: dict[str, tuple[list, np.dtype, bool]] = {}
        for s in self.series.values():
            cols[s.name] = (s.channels, s.dtype, s.covers_all)
        for b in self.blocks:  # spikes win over a time series of the same name, as officially
            cols[b.name] = (b.channels, np.dtype(np.float16), True)
        return cols

    # -- data ----------------------------------------------------------------------------------
    def fill(self, arrays: dict[str, tuple[np.ndarray, dict]], row0: int) -> None:
        """Write this file's data into ``arrays[signal] = (array, {channel: column})`` at ``row0``."""
        n = self.n_bins
        for s in self.series.values():
            if s.name in {b.name for b in self.blocks}:
                continue
            arr, colmap = arrays[s.name]
            values = np.asarray(s.ts.data[()])
            if values.ndim == 1:
                values = values[:, None]
            cols = np.array([colmap[c] for c in s.channels])
            dest = arr[row0 : row0 + n]
            if _is_contiguous(cols) and cols[0] == 0 and len(cols) == arr.shape[1]:
                dest[s.rows] = values[:, s.perm]
            else:
                dest[s.rows[:, None], cols[None, :]] = values[:, s.perm]
            del values
        for b in self.blocks:
            arr, colmap = arrays[b.name]
            self._bin_block(b, arr[row0 : row0 + n], np.array([colmap[c] for c in b.channels]))

    def _bin_block(self, block: _SpikeBlock, dest: np.ndarray, cols: np.ndarray) -> None:
        n = self.n_bins
        full = _is_contiguous(cols)
        csl = slice(int(cols[0]), int(cols[-1]) + 1) if full else cols
        # official NaN mask: bins outside the first unit's observed intervals, for every unit
        u = block.first_unit
        mask = np.ones(n, dtype=bool)
        for start, end in self._obs[self._obs_index[u] : self._obs_index[u + 1]]:
            s = int(np.ceil(round(start * 1000.0, 6)))
            e = int(np.floor(round(end * 1000.0, 6)))
            mask[s:e] = False
        outside = False
        for j, pos in enumerate(block.positions):
            t = np.asarray(
                self._spike_data[self._spike_index[pos] : self._spike_index[pos + 1]],
                dtype=np.float64,
            )
            if len(t) == 0:
                continue
            idx = np.round(t * 1000.0, 6).astype(np.int64)
            if idx.min() < 0 or idx.max() >= n:
                unit = self.unit_ids[pos]
                raise DataError(
                    f"{self.label}: unit {unit} has spikes at {t.min():.6f}..{t.max():.6f} s, "
                    f"outside the recording 0..{n / 1000:g} s given by the units' obs_intervals"
                )
            if np.any(idx[1:] < idx[:-1]):
                uniq, counts = np.unique(idx, return_counts=True)
            else:
                starts = np.flatnonzero(np.concatenate([[True], idx[1:] != idx[:-1]]))
                uniq = idx[starts]
                counts = np.diff(np.concatenate([starts, [len(idx)]]))
            dest[uniq, cols[j]] = counts.astype(dest.dtype)
            if not outside and mask[uniq].any():
                outside = True
        if outside:
            logger.warning("Spikes found outside of observed interval.")
        rows = np.flatnonzero(mask)
        if len(rows):
            if full:
                dest[rows, csl] = np.nan
            else:
                dest[rows[:, None], cols[None, :]] = np.nan


def _is_contiguous(cols: np.ndarray) -> bool:
    return len(cols) > 0 and bool(np.all(np.diff(cols) == 1))


# ----------------------------------------------------------------------------------------------
# several files -> one DataFrame
# ----------------------------------------------------------------------------------------------
def _file_offsets(n_bins: list[int], bin_width: int = 1) -> list[int]:
    """Start row (ms) of each file on the shared clock: the official shift rule.

    File i >= 1 starts at the next multiple of 100 ms at or after (last timestamp of file i-1,
    after its own shift) + 50 bins.
    """
    offsets = [0]
    for i in range(1, len(n_bins)):
        last_ms = offsets[i - 1] + (n_bins[i - 1] - 1) * bin_width
        # Timedelta.total_seconds() of pandas 1.3.4 works in whole microseconds
        past_end = (last_ms * 1000) / 1e6 + round(50 * bin_width / 1000, 4)
        offsets.append(int(np.ceil(past_end * 10) * 100))
    return offsets


def assemble(
    readers: list[FileReader], bin_width: int = 1
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Lay the files out on one clock, fill the arrays and build ``(data, trial_info, descriptions)``.

    One file gives the official single-file result; several files give the official multi-file
    result (columns sorted like pandas 1.3.4 after ``pd.concat``, gaps between files NaN).
    """
    n_bins = [r.n_bins for r in readers]
    offsets = _file_offsets(n_bins, bin_width)
    total = offsets[-1] + n_bins[-1]
    # union of columns; dtype kept where every row is filled, else a float that holds NaN
    spec: dict[str, tuple[list, np.dtype, bool]] = {}
    for r in readers:
        for sig, (chans, dtype, covers) in r.columns().items():
            if sig in spec:
                old_chans, old_dtype, old_cov = spec[sig]
                merged = list(old_chans) + [c for c in chans if c not in set(old_chans)]
                same = merged == list(old_chans) and list(chans) == list(old_chans)
                spec[sig] = (merged, np.result_type(old_dtype, dtype), old_cov and covers and same)
            else:
                spec[sig] = (list(chans), dtype, covers)
    multi = len(readers) > 1
    arrays: dict[str, tuple[np.ndarray, dict]] = {}
    frames = []
    index = pd.TimedeltaIndex(
        (np.arange(total, dtype=np.int64) * (_MS * bin_width)).view("timedelta64[ns]"),
        name="clock_time",
    )
    # arrays are column-major: the layout pandas keeps a block in (no copy when wrapped), and
    # one unit's spikes land in one contiguous column
    spike_sigs = {b.name for r in readers for b in r.blocks}
    for sig in sorted(spec):
        chans, dtype, covers = spec[sig]
        chans = [chans[i] for i in channel_order(chans)]
        if dtype.kind != "f" and (multi or not covers):
            dtype = np.dtype(np.float64)
        if sig in spike_sigs:
            # zero pages from the OS (no pass over memory); NaN where no file has the unit
            arr = np.zeros((total, len(chans)), dtype=dtype, order="F")
            _nan_outside_files(arr, sig, chans, readers, offsets)
        elif dtype.kind == "f":
            arr = np.full((total, len(chans)), np.nan, dtype=dtype, order="F")
        else:
            arr = np.zeros((total, len(chans)), dtype=dtype, order="F")
        arrays[sig] = (arr, {c: i for i, c in enumerate(chans)})
    for r, off in zip(readers, offsets):
        r.fill(arrays, off)
    for sig in sorted(spec):
        arr, colmap = arrays[sig]
        cols = pd.MultiIndex.from_product([[sig], list(colmap)], names=("signal_type", "channel"))
        frames.append(pd.DataFrame(arr, index=index, columns=cols, copy=False))
    data = concat_columns(frames)
    data.index.name = "clock_time"
    # trial info: shift the later files' times and trial ids, then concatenate like pandas does
    infos = []
    descriptions: dict[str, str] = {}
    tcount = 0
    for r, off in zip(readers, offsets):
        ti = r.trial_info
        if off:
            ti = ti.copy()
            shift = np.timedelta64(off * bin_width * _MS, "ns")
            for col in ti.columns:
                if isinstance(col, str) and col.endswith("_time"):
                    ti[col] = ti[col] + shift
            ti["trial_id"] = ti["trial_id"] + tcount
        tcount += len(ti)
        infos.append(ti)
        descriptions.update(r.descriptions)
    trial_info = (
        infos[0] if not multi else pd.concat(infos, axis=0, join="outer").reset_index(drop=True)
    )
    return data, trial_info, descriptions


def _nan_outside_files(
    arr: np.ndarray, sig: str, chans: list, readers: list[FileReader], offsets: list[int]
) -> None:
    """NaN in the rows between files and, within a file, in the columns that file lacks."""
    end = 0
    for r, off in zip(readers, offsets):
        arr[end:off] = np.nan
        have = next((set(b.channels) for b in r.blocks if b.name == sig), set())
        lack = np.array([i for i, c in enumerate(chans) if c not in have], dtype=np.int64)
        # contiguous runs of missing columns: plain slices, no fancy-index copies
        for run in np.split(lack, np.flatnonzero(np.diff(lack) != 1) + 1) if len(lack) else []:
            arr[off : off + r.n_bins, run[0] : run[-1] + 1] = np.nan
        end = off + r.n_bins
    arr[end:] = np.nan


def concat_columns(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """``pd.concat(frames, axis=1)`` without copying the blocks (pandas 2 and 3)."""
    if len(frames) == 1:
        return frames[0]
    if int(pd.__version__.split(".")[0]) >= 3:
        return pd.concat(frames, axis=1)
    return pd.concat(frames, axis=1, copy=False)


def list_nwb_files(fpath: str, prefix: str) -> list[str]:
    """The official file search, with errors that say what was looked for and what exists."""
    from glob import glob

    if not os.path.exists(fpath):
        raise DataFileNotFoundError(
            f"Specified file or directory not found: {fpath}. Download the dataset with "
            "`nlbtut download <dataset>` or generate synthetic data with `nlbtut synth`."
        )
    if not os.path.isdir(fpath):
        return [fpath]
    filenames = sorted(glob(os.path.join(fpath, prefix + "*.nwb")))
    if not filenames:
        present = sorted(os.path.basename(p) for p in glob(os.path.join(fpath, "*.nwb")))
        if present:
            hint = (
                f" The folder holds {len(present)} NWB file(s): {', '.join(present[:6])}"
                f"{', ...' if len(present) > 6 else ''}; a prefix such as '*train', '*test', "
                "'*full', '*small', '*medium' or '*large' (or '' for all) selects among them."
            )
        else:
            sub = sorted(d for d in os.listdir(fpath) if os.path.isdir(os.path.join(fpath, d)))
            hint = " The folder holds no .nwb file" + (
                f"; sub-folders: {', '.join(sub[:6])}" if sub else ""
            )
        raise DataFileNotFoundError(
            f"No matching files with prefix {prefix!r} found in directory {fpath}.{hint}"
        )
    return filenames
