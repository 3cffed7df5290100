"""The default cache: Django's Redis cache, keeping its Redis clients.

Django's `RedisCacheClient.get_client` builds a new `redis.Redis` for every cache call
(about 0.05 ms, most of it filling the client's table of response callbacks), twice per
API request for the rate counters alone. A client holds no connection of its own (it takes
one from the pool per command) and is safe to share between threads, so one per connection
pool is kept and reused.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends import redis


class RedisCacheClient(redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client


class RedisCache(redis.RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
