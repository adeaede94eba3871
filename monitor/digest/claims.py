"""Claims: how a side effect (a digest e-mail, an alert delivery) happens once across processes.

A process first *claims* the row of the side effect inside `BEGIN IMMEDIATE` (status claimed, the
claimant `host:pid:nonce` and an expiry), then acts outside any transaction, then records the
outcome. Another process that finds an unexpired claim leaves the row alone; a claim whose process
was killed expires and the next run takes it over and tries again.

The guarantee is therefore *at-least-once, at most once per claim*: two live processes never act on
the same row, and nothing claimed is lost. A crash between the side effect and the commit of its
outcome (for e-mail: after the server acknowledged the end of SMTP DATA, before `sent` was
committed) makes the next run send it again once the claim expired, so e-mail cannot be
exactly-once; the repeat carries the same Message-ID, which lets mail systems drop it.

Time: the caller passes `now` (read once at the boundary); `Clock` advances it by the monotonic
time elapsed since, so claims taken late in a long run still expire at the right moment.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from monitor.store.leases import lease_owner


def claimant() -> str:
    """An id for this process's claims: host:pid:nonce."""
    return lease_owner()


class Clock:
    """`now` as given, advanced by the monotonic time elapsed since this object was made."""

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware (UTC)")
        self.start = now
        self._t0 = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._t0)


def claim_ttl(timeout_s: float) -> timedelta:
    """How long a claim holds: room for connect, send and quit at the network timeout, plus a margin."""
    return timedelta(seconds=max(60.0, 4 * timeout_s + 30.0))
