"""API request rates, counted in Redis at a constant cost per request.

DRF's own throttles keep every request's timestamp of the last period in one cache entry,
read, unpickled, trimmed, pickled and written back on every request: at the default
1,200 per minute a busy client's entry holds up to 1,200 timestamps, so the throttle's cost
grows with the rate it allows. These count instead, with the sliding-window counter: the
requests of the current fixed window plus those of the previous window weighted by the
share of it still inside the sliding period. One Lua script checks and counts atomically
in one round trip; a refused request is not counted, as with DRF's throttles. The rates,
scopes and cache keys are DRF's (`DEFAULT_THROTTLE_RATES`, `throttle_user_<id>`), and the
counters live in the default cache (Redis).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework import throttling

# KEYS: this window's counter, the previous window's. ARGV: the limit, the previous
# window's weight (0-1), the counter's lifetime in ms. Returns {counted (0/1), this
# window's count, the previous window's count}.
_SLIDING_WINDOW = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if previous * tonumber(ARGV[2]) + current >= tonumber(ARGV[1]) then
    return {0, current, previous}
end
current = redis.call('INCR', KEYS[1])
if current == 1 then
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return {1, current, previous}
"""


_script: Any = None


def _count(key: str, window: int, *, limit: int, weight: float, lifetime: int) -> list[int]:
    """[counted (0/1), this window's count, the previous window's count]. On Redis, the
    script (EVALSHA, loaded when the server does not know it yet); on another cache (the
    test suite's local memory), the same steps through the cache's API, not atomically."""
    global _script
    keys = [f"{key}:{window}", f"{key}:{window - 1}"]
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        client = cache._cache.get_client(write=True)
        if _script is None:
            _script = client.register_script(_SLIDING_WINDOW)
        keys = [cache.make_key(k) for k in keys]
        counts = _script(keys=keys, args=[limit, repr(weight), lifetime * 1000], client=client)
        return [int(n) for n in counts]
    found = cache.get_many(keys)
    current, previous = int(found.get(keys[0], 0)), int(found.get(keys[1], 0))
    if previous * weight + current >= limit:
        return [0, current, previous]
    current = 1 if cache.add(keys[0], 1, lifetime) else cache.incr(keys[0])
    return [1, current, previous]


class SlidingWindowMixin:
    """`allow_request` and `wait` for a DRF SimpleRateThrottle, counted in Redis."""

    num_requests: int | None
    duration: int | None
    rate: str | None
    key: str | None
    timer: Any

    if TYPE_CHECKING:

        def get_cache_key(self, request: Any, view: Any) -> str | None: ...

    def allow_request(self, request: Any, view: Any) -> bool:
        if self.rate is None or not self.num_requests or not self.duration:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = float(self.timer())
        window = int(now // self.duration)
        self.elapsed = now - window * self.duration
        weight = 1 - self.elapsed / self.duration
        counted, self.current, self.previous = _count(
            self.key, window, limit=self.num_requests, weight=weight, lifetime=self.duration * 2
        )
        return bool(counted)

    def wait(self) -> float | None:
        """Whole seconds after which the sliding count is under the limit again."""
        if not self.num_requests or not self.duration:
            return None
        left = self.duration - self.elapsed  # until this window ends
        room = self.num_requests - self.current
        if room > 0 and self.previous:
            # The previous window's weight falls until its share fits in the room left.
            left = min(left, self.duration * (1 - room / self.previous) - self.elapsed)
        return float(math.floor(max(left, 0)) + 1)


class UserRateThrottle(SlidingWindowMixin, throttling.UserRateThrottle):
    """DRF's `user` scope: per signed-in user, per client address otherwise."""


class AnonRateThrottle(SlidingWindowMixin, throttling.AnonRateThrottle):
    """DRF's `anon` scope: per client address, anonymous callers only."""
