"""Write a synthetic session as an NWB file shaped like the NLB'21 files.

Layout (as in the DANDI files, see ``nlb-data-and-results.md`` §2): an
electrodes table with electrode groups and devices, ``/units`` with
``spike_times``, ``electrodes``, ``heldout`` and ``obs_intervals``,
``/intervals/trials`` with the dataset's columns and ``split``, and behaviour
series directly in ``processing/behavior`` with ``comments="columns=[...]"``.

Written with pynwb. Files by recent pynwb (NWB schema >= 2.9) type the
electrodes table ``ElectrodesTable``, which older readers (pynwb < 3, e.g.
the 2.2.0 the official ``nlb_tools`` environment pins) do not know; the
real NLB files, written in 2022, have a plain ``DynamicTable`` there. After
writing, the table is retyped to ``DynamicTable`` so both old and new pynwb
read the file (new pynwb reads it as it reads any older file). The file is
written under a temporary name in the target folder and renamed at the end.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .dynamics import Session, Units

__all__ = ["ElectrodeGroupSpec", "FileMeta", "write_nwb"]


@dataclass(frozen=True)
class ElectrodeGroupSpec:
    """One electrode group (array) and its device."""

    group: str
    device: str
    device_description: str
    location: str
    n_electrodes: int


@dataclass(frozen=True)
class FileMeta:
    """File-level metadata of one NWB file."""

    identifier: str
    session_description: str
    session_start: _dt.datetime
    subject: str
    species: str = "Macaca mulatta"
    institution: str = "nlbtut synthetic data"


def write_nwb(
    path: Path,
    meta: FileMeta,
    session: Session,
    units: Units,
    spike_times: list[np.ndarray],
    electrode_groups: list[ElectrodeGroupSpec],
    obs_intervals: np.ndarray,
) -> Path:
    """Write one NWB file atomically and return its path.

    Parameters
    ----------
    session : Session
        Trials and behaviour to write (latents are not written here).
    units, spike_times : Units, list of ndarray
        Units in table order and their spike times (s).
    obs_intervals : ndarray, (n_intervals, 2)
        Observed intervals (s), the same for every unit.
    """
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.behavior import SpatialSeries
    from pynwb.file import Subject

    nwb = NWBFile(
        session_description=meta.session_description,
        identifier=meta.identifier,
        session_start_time=meta.session_start,
        file_create_date=meta.session_start,
        institution=meta.institution,
        subject=Subject(subject_id=meta.subject, species=meta.species),
    )
    groups = []
    for spec in electrode_groups:
        dev = nwb.create_device(name=spec.device, description=spec.device_description)
        grp = nwb.create_electrode_group(
            name=spec.group,
            description=f"{spec.location} array",
            location=spec.location,
            device=dev,
        )
        groups += [grp] * spec.n_electrodes
    for grp in groups:
        nwb.add_electrode(
            x=np.nan,
            y=np.nan,
            z=np.nan,
            imp=np.nan,
            location=grp.location,
            filtering="unknown",
            group=grp,
            group_name=grp.name,
        )

    nwb.units = _units_table(nwb, units, spike_times, obs_intervals)
    nwb.trials = _trials_table(session)

    if session.behavior:
        module = nwb.create_processing_module("behavior", "Processed behavioral data")
        for b in session.behavior:
            kw = dict(
                name=b.name,
                data=b.data,
                unit=b.unit,
                description=b.description,
                comments=f"columns=[{','.join(b.columns)}]",
                conversion=b.conversion,
            )
            if b.timestamps is None:
                kw.update(starting_time=0.0, rate=1000.0)
            else:
                kw.update(timestamps=b.timestamps)
            if b.spatial:
                module.add(SpatialSeries(reference_frame="screen centre", **kw))
            else:
                module.add(TimeSeries(**kw))

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        with NWBHDF5IO(str(tmp), "w") as io:
            io.write(nwb)
        _retype_electrodes(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _ragged(name: str, description: str, parts: list) -> list:
    """A ragged column as (VectorData, VectorIndex), built from arrays in one go.

    (Building tables row by row makes hdmf convert every element separately,
    which takes minutes for NLB-sized files.)
    """
    from hdmf.common import VectorData, VectorIndex

    parts = [np.asarray(p) for p in parts]
    data = np.concatenate(parts) if parts else np.zeros(0)
    col = VectorData(name=name, description=description, data=data)
    ends = np.cumsum([len(p) for p in parts]).astype(np.int64)
    return [col, VectorIndex(name=f"{name}_index", data=ends, target=col)]


def _units_table(nwb, units: Units, spike_times: list[np.ndarray], obs_intervals: np.ndarray):
    from hdmf.common import DynamicTableRegion, ElementIdentifiers, VectorData, VectorIndex
    from pynwb.misc import Units as UnitsTable

    n = len(units.ids)
    obs = np.asarray(obs_intervals, dtype=np.float64).reshape(-1, 2)
    cols = _ragged(
        "spike_times",
        "the spike times for each unit in seconds",
        [np.asarray(t, dtype=np.float64) for t in spike_times],
    )
    cols += _ragged("obs_intervals", "the observation intervals for each unit", [obs] * n)
    region = DynamicTableRegion(
        name="electrodes",
        description="the electrodes that each spike unit came from",
        data=units.electrode.astype(np.int64),
        table=nwb.electrodes,
    )
    cols += [region, VectorIndex(name="electrodes_index", data=np.arange(1, n + 1), target=region)]
    cols.append(
        VectorData(
            name="heldout",
            data=units.heldout.astype(bool),
            description="Whether the unit is held out in the test data (True) or not (False) "
            "in the Neural Latents Benchmark",
        )
    )
    return UnitsTable(
        name="units",
        description="Sorted single and multi-units",
        id=ElementIdentifiers(name="id", data=units.ids.astype(np.int64)),
        columns=cols,
    )


def _trials_table(session: Session):
    from hdmf.common import ElementIdentifiers, VectorData
    from pynwb.epoch import TimeIntervals

    cols = []
    n = len(session.trials[0].data)
    for c in session.trials:
        if c.ragged:
            cols += _ragged(c.name, c.description, c.data)
        else:
            cols.append(VectorData(name=c.name, description=c.description, data=np.asarray(c.data)))
    return TimeIntervals(
        name="trials",
        description="experimental trials",
        columns=cols,
        id=ElementIdentifiers(name="id", data=np.arange(n)),
    )


def _retype_electrodes(path: Path) -> None:
    """Type the electrodes table ``DynamicTable`` (what NWB < 2.9 and the NLB files use)."""
    import h5py

    with h5py.File(path, "a") as f:
        table = f.get("general/extracellular_ephys/electrodes")
        if table is not None and table.attrs.get("neurodata_type") == "ElectrodesTable":
            table.attrs["neurodata_type"] = "DynamicTable"
            table.attrs["namespace"] = "hdmf-common"
