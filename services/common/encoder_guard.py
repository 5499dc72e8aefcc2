"""When the direct OTLP encoders may run, and the stock encoders when they may not.

The direct span and log encoders (:mod:`services.common.otlp_encoding`,
:mod:`services.common.otlp_log_encoding`) read private fields of the SDK's
spans and of the stock OTLP/HTTP exporters, which any SDK release may rename.
They run only on the SDK versions their equivalence tests passed on
(:data:`TESTED_VERSIONS`); on any other, the exporters behave as the stock
ones, after one warning per process. On a tested version, a batch whose
direct encoding fails with the kind of error a changed private field gives
(:data:`DRIFT_ERRORS`) is encoded by the stock encoder instead, and so is
every later batch of that exporter, after one warning.

The exporters' kept-alive transport (services.common.otlp_transport) plugs
into a private argument of the same exporters, so it runs on the same
versions only: on any other, the exporters send through the stock one.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

log = logging.getLogger(__name__)

# The versions of GUARDED_PACKAGES (released together, same version) on which
# tests/unit/common/test_otlp_encoding.py, test_otlp_log_encoding.py and
# test_otlp_transport.py passed;
# add a version here only after running them on it.
TESTED_VERSIONS: tuple[str, ...] = ("1.45.1",)
GUARDED_PACKAGES: tuple[str, ...] = ("opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http")
# What reading a renamed or retyped private field raises (an unpacked tuple
# that grew a field raises ValueError).
DRIFT_ERRORS: tuple[type[Exception], ...] = (
    AttributeError,
    TypeError,
    ValueError,
    KeyError,
    IndexError,
)


def installed_versions() -> dict[str, str]:
    """The installed version of each of :data:`GUARDED_PACKAGES` (``"none"`` if absent)."""
    versions = {}
    for package in GUARDED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "none"
    return versions


@functools.cache
def direct_encoding_supported() -> bool:
    """True when the installed SDK is one the direct encoders were tested on.

    Decided once per process; when not, one warning names the installed and
    the tested versions.
    """
    untested = {p: v for p, v in installed_versions().items() if v not in TESTED_VERSIONS}
    if untested:
        log.warning(
            "the direct OTLP encoders were tested with %s %s, but %s is installed: "
            "exporting with the stock OTLP encoders",
            "/".join(GUARDED_PACKAGES),
            ", ".join(TESTED_VERSIONS),
            ", ".join(f"{package} {version}" for package, version in untested.items()),
        )
    return not untested


class GuardedEncoder:
    """Encodes a batch with ``direct`` while it works, else with ``stock``.

    ``active`` is False from the start on an untested SDK (the exporter then
    runs the stock export as it is); it turns False for good when ``direct``
    raises one of :data:`DRIFT_ERRORS`, and that batch is encoded by ``stock``.
    """

    def __init__(
        self,
        what: str,
        direct: Callable[[Sequence[Any]], bytes],
        stock: Callable[[Sequence[Any]], bytes],
    ) -> None:
        self.what = what
        self.direct = direct
        self.stock = stock
        self.active = direct_encoding_supported()

    def disable(self, error: BaseException) -> None:
        """Use the stock encoder from now on, saying why once."""
        if self.active:
            self.active = False
            log.warning(
                "the direct OTLP %s encoder failed (%s: %s), probably on a changed private "
                "field of the SDK: exporting this and every later batch with the stock encoder",
                self.what,
                type(error).__name__,
                error,
            )

    def __call__(self, batch: Sequence[Any]) -> bytes:
        """The request body of ``batch``."""
        if self.active:
            try:
                return self.direct(batch)
            except DRIFT_ERRORS as error:
                self.disable(error)
        return self.stock(batch)
