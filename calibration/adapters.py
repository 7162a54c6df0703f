"""Feed one CalibrationSet to each backend's calibration API, sample for sample."""
from __future__ import annotations

from edgeship.calibration.calibration_set import CalibrationSet


def onnxruntime_reader(calib: CalibrationSet, input_name: str):
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._batches = iter(calib.samples())

        def get_next(self):
            batch = next(self._batches, None)
            return None if batch is None else {input_name: batch}

        def rewind(self):
            self._batches = iter(calib.samples())

    return Reader()


def nncf_dataset(calib: CalibrationSet):
    import nncf

    return nncf.Dataset(list(calib.samples()))


def torch_calibrate(model, calib: CalibrationSet) -> None:
    """Run every sample through a PT2E-prepared model so its observers record ranges."""
    import torch

    with torch.no_grad():
        for batch in calib.samples():
            model(torch.from_numpy(batch))
