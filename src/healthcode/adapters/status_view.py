"""The status read model of a cluster, in Redis: what code display reads instead of the database.

A megacity shows 100 k codes a second at rush hour; each needs the person's stored colour, which
must never be behind a red the system has acknowledged. The statuses table stays the truth; this
is a copy of what showing a code needs of it (colour, rule, `until`), written through by the unit
of work (adapters/db/uow.py) around every commit that changes a status or queues colour work:

1. **Mark, before the commit.** Each person the transaction touched gets a pending mark (a
   counter of writers under way, and a generation number that every mark moves on), and their
   value is dropped. From this moment every reader goes to the database for them. A Redis that
   does not answer refuses the commit (`Unavailable`): a change is never stored where the read
   model cannot hear of it.
2. **Commit.**
3. **Release, after the commit and before the use case returns.** The writer takes its mark
   away. The last writer out (no mark left) reads the person's state from the database again,
   after its own commit and after those of every writer that marked before it, and writes it
   only if the generation is still the one it saw (no writer marked in between; that writer
   will publish). Colour work still queued is published as such: readers go to the database,
   whose path settles it first.

A reader that misses reads the database and may fill the copy, but only where there is neither
a value nor a writer under way, and only while the person's generation is still the one the
reader saw before reading the database: every mark and every last release moves it on (numbers
from one counter of the namespace, never given twice). So a reader whose read predates a
writer's commit can never put it in the copy after that writer began, whether the writer then
published, or failed to (the database went away after the commit): once a change is
acknowledged no reader sees what came before it, and a writer that dies between mark and
release leaves the person read from the database until the mark expires (PENDING_SECONDS),
never a stale colour.

**Replicas for reads** (`HEALTHCODE_REDIS_REPLICA_URLS`): readers ask one of the primary's
replicas, chosen per read, and everything else goes to the primary. The mark is then written
with `WAIT` for every replica in the same round trip: the commit happens only once each replica
holds the mark (a replica that does not take it in `wait_ms`, WAIT_MILLISECONDS unless told,
refuses the change, as a Redis that does not answer does), so no reader on a replica can see the
value from before an acknowledged change: a replica applies the primary's writes in order, and
holds the mark or what came after it. A reader that fails on a replica reads the database. Fills
and drops check the generation on the primary, which a lagging replica's reader saw older: they
are refused, never wrong. Replicas must be run with `replica-serve-stale-data no`, so that one
cut off from its primary refuses reads rather than answering from an old copy.

Redis holds no one's identity: the key is a keyed hash (HMAC-SHA-256 with a secret of the city's
key store) of the person's id, the value their colour, rule reference and review instant. Values
expire after VALUE_SECONDS (the copy holds the people who showed a code lately), and the sunset
deletes the whole namespace.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis

from healthcode.adapters.breaker import Breaker
from healthcode.domain.errors import Unavailable
from healthcode.services.ports import ShownStatus, Viewed

log = logging.getLogger("healthcode.status_view")

TIMEOUT_SECONDS = 0.5
RETRY_SECONDS = 2.0  # after a failed read, readers go to the database this long
PENDING_SECONDS = 3600  # a mark whose writer died is forgotten after this
VALUE_SECONDS = 6 * 3600
BATCH = 1000  # keys per script call
WAIT_MILLISECONDS = 250  # for every replica to hold a mark, before the change is refused
SUNSET_WAITS = 10  # the sunset waits this many times as long for every replica to be empty
QUEUED = "q"  # colour work queued: the database (and its path that settles it) answers


@dataclass(frozen=True, slots=True)
class Queued:
    """Colour work is queued for the person: published as such."""


QUEUED_STATE = Queued()
State = ShownStatus | None | Queued  # None: no stored status

# Generation numbers come from one counter of the namespace (KEYS[1]), so that a number is never
# given twice, not even to a key that expired and came back. KEYS[2..]: the people's keys.

# ARGV: seconds to keep a mark. Each key: one more writer under way, a new generation, no value.
_MARK = """
for i = 2, #KEYS do
  local key = KEYS[i]
  redis.call('HINCRBY', key, 'n', 1)
  redis.call('HSET', key, 'g', redis.call('INCR', KEYS[1]))
  redis.call('HDEL', key, 'v')
  redis.call('EXPIRE', key, ARGV[1])
end
return #KEYS - 1
"""
# ARGV: seconds to keep a mark. Each key: one writer fewer; if none is left under way, a new
# generation (a reader that looked while a writer was under way can no longer fill) which is
# returned for the publication; else -1.
_RELEASE = """
local out = {}
for i = 2, #KEYS do
  local key = KEYS[i]
  local left = redis.call('HINCRBY', key, 'n', -1)
  if left <= 0 then
    redis.call('HSET', key, 'n', 0)
    local gen = redis.call('INCR', KEYS[1])
    redis.call('HSET', key, 'g', gen)
    out[i - 1] = gen
  else
    out[i - 1] = -1
  end
  if redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, ARGV[1]) end
end
return out
"""
# KEYS[1]: the namespace's "closed" flag (the sunset). ARGV: seconds to keep a value, then
# (generation, value) per key of KEYS[2..]. A value is written only where the generation is the
# one its writer saw and no one is under way.
_PUBLISH = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local written = 0
for i = 2, #KEYS do
  local key = KEYS[i]
  local gen = tonumber(redis.call('HGET', key, 'g') or '0')
  local busy = tonumber(redis.call('HGET', key, 'n') or '0')
  if gen == tonumber(ARGV[2 * (i - 1)]) and busy <= 0 then
    redis.call('HSET', key, 'v', ARGV[2 * (i - 1) + 1])
    redis.call('EXPIRE', key, ARGV[1])
    written = written + 1
  end
end
return written
"""
# KEYS[1]: the "closed" flag; KEYS[2]: a person's key. ARGV: value, seconds, the generation the
# reader saw before reading the database. Filled only where there is neither a value nor a
# writer under way, and the generation is still the one the reader saw: no writer marked or
# released the person since, so what the reader read is not older than any acknowledged change.
_FILL = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('HEXISTS', KEYS[2], 'v') == 1 then return 0 end
if tonumber(redis.call('HGET', KEYS[2], 'n') or '0') > 0 then return 0 end
if tonumber(redis.call('HGET', KEYS[2], 'g') or '0') ~= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[2], 'v', ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
"""


# KEYS[1]: a person's key. ARGV: the generation the reader saw. The value goes only if nothing
# moved since (a writer's own publication is never taken away).
_DROP = """
if tonumber(redis.call('HGET', KEYS[1], 'g') or '0') ~= tonumber(ARGV[1]) then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'n') or '0') > 0 then return 0 end
return redis.call('HDEL', KEYS[1], 'v')
"""


def encode(state: State) -> str:
    if isinstance(state, Queued):
        return QUEUED
    if state is None:
        return "-"
    until = "" if state.until is None else str(state.until)
    return f"{state.colour}|{state.rule_ref}|{until}|{state.changed_at}"


def decode(value: str) -> Viewed | None:
    """None: the database answers (queued, or a value this version cannot read)."""
    if value == "-":
        return Viewed(None)
    parts = value.split("|")
    if len(parts) != 4 or not parts[0] or not parts[1]:
        return None
    colour, rule_ref, until, changed_at = parts
    try:
        return Viewed(ShownStatus(colour, rule_ref, int(until) if until else None, int(changed_at)))
    except ValueError:
        return None


def _client(url: str, timeout: float = TIMEOUT_SECONDS) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=TIMEOUT_SECONDS,
        decode_responses=True,
    )


class RedisStatusView:
    """The read model over one Redis primary, and the replicas of it that readers ask (see
    the module)."""

    def __init__(
        self,
        url: str,
        namespace: str,
        secret: Callable[[], bytes],
        replicas: Sequence[str] = (),
        wait_ms: int = WAIT_MILLISECONDS,
    ) -> None:
        self.prefix = f"healthcode:{namespace}:status:"
        self.counter = self.prefix + "generation"  # the namespace's generation numbers
        self.closed = self.prefix + "closed"  # set at the sunset
        self._secret_of = secret  # asked at first use: the key store may not exist yet
        self._secret: bytes | None = None
        self.url = url
        self.wait_ms = wait_ms  # for every replica to hold a mark
        # A mark's WAIT is on this connection: its reads wait for the WAIT's answer.
        longest = wait_ms / 1000
        self.client = _client(url, TIMEOUT_SECONDS if longest < TIMEOUT_SECONDS else
                              longest + TIMEOUT_SECONDS)  # fmt: skip
        self.replicas = [_client(u) for u in replicas]
        self._mark = self.client.register_script(_MARK)
        self._release = self.client.register_script(_RELEASE)
        self._publish = self.client.register_script(_PUBLISH)
        self._fill = self.client.register_script(_FILL)
        self._drop = self.client.register_script(_DROP)
        self._breaker = Breaker(
            log, "status read model unreachable, reading the database meanwhile", RETRY_SECONDS
        )

    def key(self, subject_id: str) -> str:
        if self._secret is None:
            self._secret = self._secret_of()
        tag = hmac.new(self._secret, subject_id.encode(), hashlib.sha256).hexdigest()[:32]
        return self.prefix + tag

    # -- readers ----------------------------------------------------------------------------

    def get(self, subject_id: str) -> tuple[Viewed | None, int]:
        """The person's status as held, or None (the database answers); and the generation
        seen, which a reader that then reads the database hands back to `fill`. -1: do not
        fill (Redis does not answer)."""
        if self._breaker.open():
            return None, -1
        source = random.choice(self.replicas) if self.replicas else self.client  # noqa: S311
        try:
            value, busy, gen = source.hmget(self.key(subject_id), ["v", "n", "g"])
        except redis.RedisError as error:
            self._failed(error)
            return None, -1
        seen = int(gen) if gen is not None else 0
        if value is None or (busy is not None and int(busy) > 0):
            return None, seen
        return decode(str(value)), seen

    def fill(self, subject_id: str, status: ShownStatus | None, seen: int) -> None:
        """What a reader read from the database after `get` saw generation `seen`, for the next
        readers (see the module)."""
        if seen < 0 or self._breaker.open():
            return
        try:
            self._fill(
                keys=[self.closed, self.key(subject_id)],
                args=[encode(status), VALUE_SECONDS, seen],
            )
        except redis.RedisError as error:
            self._failed(error)

    def drop(self, subject_id: str, seen: int) -> None:
        """Take away a value found behind the database (a change the read model did not hear
        of), if nothing moved since the reader saw generation `seen`; the reader then fills it
        from the primary."""
        if seen < 0 or self._breaker.open():
            return
        try:
            self._drop(keys=[self.key(subject_id)], args=[seen])
        except redis.RedisError as error:
            self._failed(error)

    # -- writers (the unit of work) ---------------------------------------------------------

    def mark(self, subject_ids: Sequence[str]) -> None:
        """Before a commit that touches these people: raises Unavailable if Redis does not
        answer (the commit must not happen)."""
        marked: list[str] = []
        try:
            for start in range(0, len(subject_ids), BATCH):
                keys = [self.key(s) for s in subject_ids[start : start + BATCH]]
                if not self.replicas:
                    self._mark(keys=[self.counter, *keys], args=[PENDING_SECONDS])
                    marked += keys
                    continue
                # The script and WAIT on one connection: WAIT counts this connection's writes.
                pipe = self.client.pipeline(transaction=False)
                self._mark(keys=[self.counter, *keys], args=[PENDING_SECONDS], client=pipe)
                pipe.execute_command("WAIT", len(self.replicas), self.wait_ms)
                _, held = pipe.execute()
                marked += keys
                if int(held) < len(self.replicas):
                    raise redis.TimeoutError(
                        f"{held} of {len(self.replicas)} replicas took the mark in time"
                    )
        except redis.RedisError as error:
            self._failed(error)
            with contextlib.suppress(redis.RedisError):  # undo what was marked, if it can be
                for start in range(0, len(marked), BATCH):
                    chunk = marked[start : start + BATCH]
                    self._release(keys=[self.counter, *chunk], args=[PENDING_SECONDS])
            raise Unavailable("the status read model does not answer: try again") from error

    def release(
        self,
        subject_ids: Sequence[str],
        current: Callable[[list[str]], dict[str, State]],
    ) -> None:
        """After the commit (or the rollback) of a marked transaction: the last writer out
        publishes what the database holds now (`current`, read after the commit). A failure is
        logged; the marks then expire and readers go to the database meanwhile."""
        try:
            for start in range(0, len(subject_ids), BATCH):
                chunk = list(subject_ids[start : start + BATCH])
                keys = [self.key(s) for s in chunk]
                gens = self._release(keys=[self.counter, *keys], args=[PENDING_SECONDS])
                last = [(s, k, g) for s, k, g in zip(chunk, keys, gens, strict=True) if g >= 0]
                if not last:
                    continue
                states = current([s for s, _, _ in last])
                args: list[str | int] = [VALUE_SECONDS]
                for s, _, g in last:
                    args += [g, encode(states.get(s))]
                self._publish(keys=[self.closed, *[k for _, k, _ in last]], args=args)
        except redis.RedisError as error:  # the commit stands; readers use the database
            self._failed(error)
        except Exception:  # the read after the commit failed: the same, Redis being fine
            log.exception("publishing statuses after a commit failed; readers use the database")

    # -- the whole namespace ----------------------------------------------------------------

    def forget_all(self) -> int:
        """Delete every status this city's read model holds (the sunset), and close it: no
        reader fills it and no writer publishes to it any more. Raises if Redis does not answer:
        the sunset reports it and is run again."""
        self.client.set(self.closed, "1")
        deleted = 0
        batch: list[str] = []
        for key in self.client.scan_iter(match=self.prefix + "*", count=1000):
            if key in (self.closed, self.counter):
                continue
            batch.append(key)
            if len(batch) >= BATCH:
                deleted += int(self.client.unlink(*batch))
                batch = []
        if batch:
            deleted += int(self.client.unlink(*batch))
        if self.replicas:  # every replica empty before the sunset says it is done
            # WAIT counts its own connection's writes: one more, on the same connection, after
            # all the deletions (a replica applies the primary's writes in order). A connection
            # of its own, whose reads wait longer than the WAIT: the readers' connection gives
            # up on an answer after TIMEOUT_SECONDS.
            longest = SUNSET_WAITS * self.wait_ms
            with _client(self.url, longest / 1000 + TIMEOUT_SECONDS) as waiter:
                pipe = waiter.pipeline(transaction=False)
                pipe.set(self.closed, "1")
                pipe.execute_command("WAIT", len(self.replicas), longest)
                _, held = pipe.execute()
            if int(held) < len(self.replicas):
                raise redis.TimeoutError(f"{held} of {len(self.replicas)} replicas emptied")
        return deleted

    def close(self) -> None:
        self.client.close()
        for replica in self.replicas:
            replica.close()

    def _failed(self, error: BaseException) -> None:
        self._breaker.failed(error)
