"""fortimock for Python test suites: the ``fortimock`` binary (installed on PATH with this package), a
pytest plugin with the ``fortimock`` and ``fortimock_lab`` fixtures, a client for the control plane and the
simulators (:class:`Lab`), and the flows a test needs in one call (:mod:`fortimock.flows`).
"""

from .client import (
    FIVE_SEAT_CODE,
    RESET_ORDER,
    SERVICES,
    Appliances,
    ControlPlane,
    FortimockError,
    Json,
    Lab,
    Licenses,
    OperationFailed,
    Phones,
)
from .plugin import Fortimock, find_binary, start

__all__ = [
    "FIVE_SEAT_CODE",
    "RESET_ORDER",
    "SERVICES",
    "Appliances",
    "ControlPlane",
    "Fortimock",
    "FortimockError",
    "Json",
    "Lab",
    "Licenses",
    "OperationFailed",
    "Phones",
    "find_binary",
    "start",
]
