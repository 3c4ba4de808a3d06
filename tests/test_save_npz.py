"""``snnc.backends.artifacts.save_npz`` (issue 18): the archive every backend writes its
``network.npz`` with, byte for byte what numpy's ``write_array`` and ``ZipFile.writestr``
give (the oracle below, the implementation before issue 18), without a copy of each array
beside the archive."""

import io
import tracemalloc
import zipfile

import numpy as np
import pytest

from snnc.backends.artifacts import save_npz


def oracle(arrays: dict) -> bytes:
    """Each array written by numpy into a member of its own, then stored by writestr."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for key in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[key]),
                                      allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def test_the_archive_is_byte_for_byte_numpys():
    rng = np.random.default_rng(7)
    arrays = {
        "weights": rng.random(1000), "mask": rng.random((30, 40)) < 0.5,
        "scalar": np.array(3.5), "empty": np.zeros(0, np.int32),
        "fortran": np.asfortranarray(rng.random((5, 7))), "strided": rng.random((6, 8))[:, ::3],
        "P_post": np.arange(7, dtype=np.int32), "group/name.x": np.array([1, 2], np.uint16),
        "zero_axis": np.zeros((2, 0, 3)), "int64": np.arange(-3, 3), "f32": np.ones(3, "f4"),
    }
    data = save_npz(arrays)
    assert data == oracle(arrays)
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(arrays)
        for key, array in arrays.items():
            assert archive[key].dtype == array.dtype
            assert np.array_equal(archive[key], np.ascontiguousarray(array))


def test_object_arrays_are_refused():
    with pytest.raises(ValueError, match="'?bad'?.*object"):
        save_npz({"ok": np.zeros(2), "bad": np.array([None, 1], dtype=object)})


def test_no_copy_of_an_array_is_made_beside_the_archive():
    """Four arrays of 8 MB: the peak is the archive (about their sum, up to BytesIO's
    growth margin of 1/8), never a member's copy on top (the oracle peaks 8 MB higher)."""
    arrays = {f"a{k}": np.full(1 << 20, float(k)) for k in range(4)}
    total = sum(a.nbytes for a in arrays.values())
    peaks = []
    for write in (save_npz, oracle):
        tracemalloc.start()
        try:
            write(arrays)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert peaks[0] < total * 1.13 + (1 << 20), peaks
    assert peaks[1] > peaks[0] + (6 << 20), peaks  # the oracle's member copy: this test sees it
