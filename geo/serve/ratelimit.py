"""A per-client limit on what anyone can try without being signed in (sign-in attempts, refused writes):
so many a minute from one address, in this server process (gunicorn's workers count apart, which bounds a
client at workers x the limit). Past it the answer is 429 with Retry-After and the audit log gets one row
saying so, not one row per try: a flood cannot fill the disk or bury the log."""
from __future__ import annotations

import threading
import time
from collections import deque

# Addresses remembered at most (the oldest forgotten first): a spray of forged addresses costs bounded memory.
MAX_CLIENTS = 10_000


class Limiter:
    def __init__(self, per_minute: int, window_s: float = 60.0):
        self.per_minute, self.window_s = per_minute, window_s
        self._seen: dict[str, deque] = {}
        self._lock = threading.Lock()

    def blocked(self, client: str | None) -> bool:
        """Whether `client` has used up its tries of the last window."""
        return self._count(client, add=False) >= self.per_minute

    def hit(self, client: str | None) -> tuple[bool, bool]:
        """Count one (failed) try of `client`. -> (still within the limit, the first try past it: audit once)."""
        n = self._count(client, add=True)
        return n <= self.per_minute, n == self.per_minute + 1

    def _count(self, client: str | None, add: bool) -> int:
        now = time.monotonic()
        key = client or "-"
        with self._lock:
            tries = self._seen.pop(key, None) or deque()
            while tries and now - tries[0] > self.window_s:
                tries.popleft()
            if add:
                tries.append(now)
            if tries:
                self._seen[key] = tries             # most recent last: the oldest client is forgotten first
            while len(self._seen) > MAX_CLIENTS:
                self._seen.pop(next(iter(self._seen)))
            return len(tries)

    def retry_after(self) -> int:
        return int(self.window_s)
