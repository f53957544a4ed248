"""One sanitise in this fresh process, measured: ``python -m tests.data.sanitise_once FILE [OUT]``.

Prints one JSON object: the outcome (``accepted`` with the type, or ``refused`` with the HTTP
status and message), the CPU seconds of the sanitise and its peak memory above this process's
idle size (after the imports: the state of an idle worker). Pillow allocates in C, where
tracemalloc sees nothing; the kernel's high-water mark sees everything. Linux carries
``ru_maxrss`` over from the parent across fork and exec (a child of a 1 GB pytest starts at
1 GB), so the mark is reset at idle (``/proc/self/clear_refs``) and read from ``VmHWM``; the
``ru_maxrss`` difference is reported too, as a cross-check. The stored bytes of an accepted
file are written to OUT when given.
"""

import json
import re
import resource
import sys
from pathlib import Path

from app.errors import STATUS_BY_ERROR
from app.services.errors import ServiceError
from app.services.uploads import sanitise_upload


def peak_rss_bytes() -> int:
    """This process's peak resident size so far, as getrusage reports it (Linux: KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def high_water_mark_bytes() -> int:
    """The peak resident size of this process's memory since the last reset (VmHWM)."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) * 1024


def reset_high_water_mark() -> int:
    """Reset VmHWM to the current resident size; return it (the idle size)."""
    Path("/proc/self/clear_refs").write_text("5")
    return high_water_mark_bytes()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def sanitise_measured(path: Path, out: Path | None) -> dict:
    """Sanitise the file once; its outcome, CPU seconds and peak bytes above the idle size."""
    idle_maxrss = peak_rss_bytes()
    idle = reset_high_water_mark()
    start = cpu_seconds()
    data = path.read_bytes()  # the request body counts: a worker holds it while sanitising
    try:
        stored = sanitise_upload(data)
        outcome = {"outcome": "accepted", "status": 201, "mime_type": stored.mime_type}
        outcome["bytes"] = len(stored.data)
        if out is not None:
            out.write_bytes(stored.data)
    except ServiceError as refused:
        status = STATUS_BY_ERROR[type(refused)]
        outcome = {"outcome": "refused", "status": status, "message": refused.message}
    outcome["cpu_seconds"] = round(cpu_seconds() - start, 3)
    outcome["peak_bytes_above_idle"] = high_water_mark_bytes() - idle
    outcome["maxrss_bytes_above_idle"] = peak_rss_bytes() - idle_maxrss
    return outcome


if __name__ == "__main__":
    target = Path(sys.argv[1])
    output = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    print(json.dumps(sanitise_measured(target, output)))
