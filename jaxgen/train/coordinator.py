"""The job's coordination service in a small process of its own.

`jax.distributed` starts its coordination service (the key-value store, barriers and
heartbeats that every process's client talks to) inside process 0. When process 0 dies, the
service dies with it, and the other processes' clients abort with pages of logs, racing the
one-line `PeerLostError` that jaxgen gives when any other process dies. Started here
instead, in a child of process 0 that outlives it until the others have disconnected (at
most `LINGER_SECONDS`), the service stays up while the others notice the loss themselves (a
failed collective, or `PeerWatch` after `WATCH_SECONDS`) and leave in one line, as they do
for any other peer.

On a normal end, process 0 shuts its client down (JAX's shutdown barrier) and then tells
the child to shut the service down, in JAX's own order. Run as a script, this file is the
child: it imports nothing of jaxgen, so it starts in the time of `import jax`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import IO, Any, cast

LINGER_SECONDS = 30  # > WATCH_SECONDS: the others leave on their own before it must go


class Sidecar:
    """Process 0's handle on the service's process, in place of JAX's in-process service."""

    def __init__(self, bind_address: str, num_processes: int, **options: Any) -> None:
        args = [bind_address, str(num_processes)]
        args += [f"{k}={int(v)}" for k, v in sorted(options.items())]
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C to the job's terminal reaches the job only
        )

    def shutdown(self) -> None:
        """Called by `jax.distributed.shutdown` after this process's client has left."""
        with contextlib.suppress(OSError, ValueError):
            cast(IO[bytes], self.proc.stdin).write(b"shutdown\n")
            cast(IO[bytes], self.proc.stdin).close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class _ServiceInChild:
    """`jaxlib._jax` as `jax._src.distributed` sees it, with the service factory replaced."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def get_distributed_runtime_service(self, address: str, num_processes: int, **kw: Any) -> Any:
        tls = any(kw.get(k) for k in ("mtls_cert_file", "mtls_key_file", "mtls_ca_file"))
        if tls or kw.get("recoverable"):
            # Mutual TLS or recoverable mode: JAX's own in-process service, as JAX starts it.
            return self._real.get_distributed_runtime_service(address, num_processes, **kw)
        options = {k: kw[k] for k in ("heartbeat_timeout", "shutdown_timeout") if k in kw}
        return Sidecar(address, num_processes, **options)


@contextlib.contextmanager
def service_in_child() -> Iterator[None]:
    """While active, `jax.distributed.initialize` on process 0 starts the service in a child."""
    from jax._src import distributed

    real = distributed._jax
    distributed._jax = _ServiceInChild(real)
    try:
        yield
    finally:
        distributed._jax = real


def _serve(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the job's processes decide when to stop
    from jax._src.lib import _jax

    address, num = argv[0], int(argv[1])
    options = {k: int(v) for k, v in (a.split("=", 1) for a in argv[2:])}
    service = _jax.get_distributed_runtime_service(address, num, **options)
    if sys.stdin.readline().strip() == "shutdown":
        service.shutdown()
        os._exit(0)
    # Process 0 is gone without a shutdown: serve the others until they have left (their
    # connections closed), so that a job started again soon binds the address afresh.
    import time

    port = address.rsplit(":", 1)[1]
    deadline = time.monotonic() + LINGER_SECONDS
    time.sleep(1.0)
    while time.monotonic() < deadline and _connections(int(port)):
        time.sleep(0.25)
    os._exit(0)


def _connections(port: int) -> int:
    """Established TCP connections to `port` on this machine (Linux; else assumed some)."""
    count, seen = 0, False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        seen = True
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            count += state == "01" and int(local.rsplit(":", 1)[1], 16) == port
    return count if seen else 1


if __name__ == "__main__":
    _serve(sys.argv[1:])
