"""Wrong passwords counted per account, whichever addresses they come from.

The per-address throttle (``THROTTLE_AUTH_RATE``) leaves an account open to guessing spread
over many addresses. Past ``SIGN_IN_FAILURES_PER_ACCOUNT`` wrong passwords within an hour, the
account takes no sign-in until that hour is over, the right password included: answering it
would tell a guesser which guess was right.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import Throttled

WINDOW_S = 3600


def _keys(username: str) -> tuple[str, str]:
    # Names differing only in case are one account (a unique index says so); hashed because
    # a name may hold characters some cache backends refuse in keys.
    digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return f"sign-in-failures:{digest}", f"sign-in-failures-until:{digest}"


def note_failure(username: str) -> None:
    count_key, until_key = _keys(username)
    now = time.time()
    cache.add(until_key, now + WINDOW_S, WINDOW_S)
    remaining = max(1, math.ceil((cache.get(until_key) or now + WINDOW_S) - now))
    cache.add(count_key, 0, remaining)
    try:
        cache.incr(count_key)
    except ValueError:  # expired between the two calls
        cache.set(count_key, 1, remaining)
    # The file cache's incr writes the count back with the default timeout (5 minutes):
    # the count must last as long as its hour.
    cache.touch(count_key, remaining)


def seconds_locked(username: str) -> int:
    """How long the account takes no sign-in; 0 when it may sign in now (always, with a
    limit of 0)."""
    limit = settings.SIGN_IN_FAILURES_PER_ACCOUNT
    count_key, until_key = _keys(username)
    if limit <= 0 or cache.get(count_key, 0) < limit:
        return 0
    until = cache.get(until_key)
    return max(1, math.ceil(until - time.time())) if until else 1


LOCKED = "Too many wrong passwords for this account, from any address."


class AccountLocked(Throttled):
    default_detail = LOCKED
    default_code = "account_locked"


def check_not_locked(username: str) -> None:
    """Raise :class:`AccountLocked` (429 with ``Retry-After``) while the account is locked."""
    wait = seconds_locked(username)
    if wait:
        raise AccountLocked(wait=wait)
