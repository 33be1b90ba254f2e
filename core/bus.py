"""Cache invalidation: one channel that every serving process listens to.

A write commits, then publishes what it changed (``rec:<handle key>``, ``tenant:<prefix>``,
``key:<api key id>``, or ``*`` for everything). Every process drops those entries from
its in-process caches. In the embedded profile the bus is an in-process call; with
Redis it is one pub/sub channel.

The promise is that an update is visible to the very next resolution in every process.
Pub/sub alone does not quite give that: the invalidation can sit unread in a socket
buffer while the event loop serves a request that arrived in the same tick. So the
subscriber reads its socket without blocking (``drain()``) at the start of each
resolution, and hiredis parses what arrived. A process that loses its subscription
cannot know what it missed, so it reports itself disconnected (callers then bypass
their caches) and flushes everything when it reconnects.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fcntl
import logging
import socket
import termios
from collections.abc import Callable
from urllib.parse import unquote, urlparse

import hiredis
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from core import redisconn
from core.settings import Settings

log = logging.getLogger("idnest.bus")


def channel_for(namespace: str) -> str:
    """One channel per database (see ``Settings.redis_namespace``)."""
    return f"{namespace}:invalidate"


FLUSH_ALL = "*"
Handler = Callable[[str], None]


class InvalidationBus:
    """In-process bus: publishing calls the handlers directly."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []
        self.connected = True
        self.published = 0
        self._watch: asyncio.Task[None] | None = None
        # The last change-log id the watch has read (core.tenant_watch); None before it ran.
        self.log_seen: int | None = None

    def subscribe(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def deliver(self, message: str) -> None:
        for handler in self._handlers:
            try:
                handler(message)
            except Exception:  # a broken handler must not stop the others
                log.exception("invalidation handler failed for %r", message)

    async def publish(self, *messages: str) -> None:
        for m in messages:
            self.deliver(m)
        self.published += len(messages)

    def drain(self) -> None:
        """Apply invalidations that have arrived but are not yet read (no-op here)."""

    @property
    def watching(self) -> bool:
        """Whether this process follows the change log (core.tenant_watch)."""
        return self._watch is not None

    async def start(self) -> None:
        # A serving process (the CLI never starts its bus) hears other processes' tenant
        # changes from the database instead (core.tenant_watch).
        # On SQLite it follows written identifiers too (core.tenant_watch).
        from core import tenant_watch

        watch = tenant_watch.watch_forever(self, records=tenant_watch.follows_records())
        self._watch = asyncio.get_running_loop().create_task(watch)

    async def stop(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()


class RedisInvalidationBus(InvalidationBus):
    """Redis pub/sub bus, read without blocking so that no request sees a stale entry.

    With ``settings`` naming Sentinels (core.redisconn), the subscriber asks Sentinel
    where the master is on every (re)connect, and the publisher is a Sentinel client: a
    Redis failover is a lost subscription like any other, then a flush on the new master.
    """

    def __init__(self, url: str, channel: str, settings: Settings | None = None) -> None:
        super().__init__()
        self.url = url
        self.channel = channel
        self.connected = False
        self._settings = settings if settings is not None and settings.redis_sentinels else None
        self._publisher = (
            redisconn.client(self._settings)
            if self._settings is not None
            else aioredis.Redis.from_url(url)
        )
        self._sock: socket.socket | None = None
        self._reader = hiredis.Reader()
        self._reconnect_task: asyncio.Task[None] | None = None
        self._waiting = array.array("i", [0])
        self._stopping = False
        self.publish_failures = 0

    async def publish(self, *messages: str) -> None:
        if not messages:
            return
        # Our own process first, so the writer's next read is fresh even before
        # the message comes back round.
        for m in messages:
            self.deliver(m)
        # One message may carry many keys, newline-separated (handles never hold
        # control characters), so a bulk write is not a million publishes.
        try:
            for i in range(0, len(messages), 1000):
                await self._publisher.publish(self.channel, "\n".join(messages[i : i + 1000]))
            # A fence. Redis may answer PUBLISH before it has written the message to the
            # subscribers' sockets (both go out in the same pass, in no promised order). By
            # the time a later command is answered, that pass is over and the messages are
            # in every local subscriber's socket, where its next drain() finds them.
            await self._publisher.ping()
        except (aioredis.RedisError, OSError) as exc:
            # The write is committed; it must not be reported as failed. Every process
            # that cannot reach Redis has lost its subscription and bypasses its cache,
            # and flushes it when it subscribes again, so nothing stale is served.
            self.publish_failures += 1
            log.warning("invalidation bus: could not publish %d messages: %s", len(messages), exc)
            return
        self.published += len(messages)

    def _connect(self) -> socket.socket:
        parsed = urlparse(self.url)
        if self._settings is not None:
            try:
                host, port = redisconn.master_address(self._settings)
            except RedisError as exc:  # no Sentinel answered, or none knows a master
                raise ConnectionError(f"no Redis master from Sentinel: {exc}") from exc
        else:
            host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
        sock = socket.create_connection((host, port), timeout=5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        commands: list[tuple[str, ...]] = []
        if parsed.password:
            user = unquote(parsed.username) if parsed.username else None
            password = unquote(parsed.password)
            commands.append(("AUTH", user, password) if user else ("AUTH", password))
        commands.append(("SUBSCRIBE", self.channel))
        reader = hiredis.Reader()
        for cmd in commands:
            sock.sendall(hiredis.pack_command(cmd))  # type: ignore[arg-type]
            reply = None
            while reply is None or reply is False:
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("redis closed the connection")
                reader.feed(data)
                reply = reader.gets()
            if isinstance(reply, hiredis.ReplyError):
                raise ConnectionError(f"redis refused {cmd[0]}: {reply}")
        sock.setblocking(False)
        self._reader = reader
        return sock

    async def start(self) -> None:
        self._stopping = False
        try:
            self._attach(await asyncio.to_thread(self._connect))
        except OSError as exc:
            log.warning("invalidation bus: cannot subscribe (%s); caches bypassed", exc)
            self._schedule_reconnect()

    def _attach(self, sock: socket.socket) -> None:
        self._sock = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._read_ready)
        # Anything may have changed while we were not listening.
        self.deliver(FLUSH_ALL)
        self.connected = True

    def _detach(self) -> None:
        self.connected = False
        if self._sock is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._sock.fileno())
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None
        self.deliver(FLUSH_ALL)

    def _schedule_reconnect(self) -> None:
        if self._stopping or (self._reconnect_task and not self._reconnect_task.done()):
            return
        self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = 0.1
        while not self._stopping:
            await asyncio.sleep(delay)
            try:
                self._attach(await asyncio.to_thread(self._connect))
                log.info("invalidation bus: subscribed again")
                return
            except OSError as exc:
                log.debug("invalidation bus: reconnect failed: %s", exc)
                delay = min(delay * 2, 5.0)

    def drain(self) -> None:
        """Called before every resolution: usually nothing has arrived, and asking the
        kernel how much is waiting (FIONREAD) costs a third of a failing recv()."""
        sock = self._sock
        if sock is None:
            return
        try:
            fcntl.ioctl(sock.fileno(), termios.FIONREAD, self._waiting, True)
        except OSError:
            self._read_ready()  # a broken socket: let the full path notice and detach
            return
        if self._waiting[0]:
            self._read_ready()

    def _read_ready(self) -> None:
        """The event loop's callback: reads what arrived, and notices a closed socket
        (readable with nothing waiting), which drain()'s quick check cannot."""
        sock = self._sock
        if sock is None:
            return
        while True:
            try:
                data = sock.recv(262144)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                log.warning("invalidation bus: lost the subscription; caches bypassed")
                self._detach()
                self._schedule_reconnect()
                return
            self._reader.feed(data)
            while (reply := self._reader.gets()) is not False:
                if isinstance(reply, list) and len(reply) == 3 and reply[0] == b"message":
                    for message in reply[2].decode("utf-8", "replace").split("\n"):
                        self.deliver(message)

    async def ping(self) -> None:
        await self._publisher.ping()

    async def stop(self) -> None:
        self._stopping = True
        if self._reconnect_task:
            self._reconnect_task.cancel()
        self._detach()
        await self._publisher.aclose()


_bus: InvalidationBus | None = None


def get_bus() -> InvalidationBus:
    global _bus
    if _bus is None:
        from core.settings import get_settings

        settings = get_settings()
        _bus = (
            RedisInvalidationBus(
                settings.redis_url, channel_for(settings.redis_namespace), settings
            )
            if settings.uses_redis
            else InvalidationBus()
        )
    return _bus


def set_bus(bus: InvalidationBus | None) -> None:
    global _bus
    _bus = bus
