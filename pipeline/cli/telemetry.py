"""Keep OpenVINO and NNCF from phoning home.

openvino.convert_model and nncf report usage through openvino_telemetry unless a consent file says no; with
no file they send. edgeship runs on CI machines and closed networks, so it records the documented opt-out
(the consent file that `opt_in_out --opt_out` writes) unless the user already decided. Writing the file
directly avoids the opt-out event that `opt_in_out` itself sends.
"""
from __future__ import annotations


def opt_out_of_openvino_telemetry() -> None:
    try:
        from openvino_telemetry.utils.opt_in_checker import ConsentCheckResult, OptInChecker
    except ImportError:
        return
    checker = OptInChecker()
    try:
        if checker.check(enable_opt_in_dialog=False) == ConsentCheckResult.NO_FILE:
            checker.update_result(ConsentCheckResult.DECLINED)
    except OSError:
        pass  # read-only home: nothing we can record
