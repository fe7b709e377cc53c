"""A memory ceiling around one piece of work, so that a hostile file cannot take a worker down.

Inside `memory_ceiling(extra)` the process may grow its address space by at most `extra` bytes: an
allocation beyond fails as a MemoryError in that piece of work (the caller turns it into a
rejection) instead of the kernel killing the whole worker, or the machine swapping. Set through the
soft RLIMIT_AS, which an unprivileged process may lower and raise again up to the hard limit.

Linux only, where /proc tells the current size; elsewhere, or with extra=0, it does nothing.
Meant for single-threaded work (a Celery prefork child, a command): the limit is the process's.
"""

import contextlib
import os
from collections.abc import Iterator

try:
    import resource
except ImportError:  # not on every platform
    resource = None


def address_space_bytes() -> int | None:
    """The process's current virtual size, or None where it cannot be read."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@contextlib.contextmanager
def memory_ceiling(extra_bytes: int) -> Iterator[None]:
    current = address_space_bytes() if resource is not None and extra_bytes > 0 else None
    if current is None:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    ceiling = current + extra_bytes
    if hard != resource.RLIM_INFINITY:
        ceiling = min(ceiling, hard)
    if soft != resource.RLIM_INFINITY and soft <= ceiling:
        yield  # already held lower by whoever started us
        return
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
