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
    cache.add(until_key, time.time() + WINDOW_S, WINDOW_S)
    cache.add(count_key, 0, WINDOW_S)
    try:
        cache.incr(count_key)
    except ValueError:  # expired between the two calls
        cache.set(count_key, 1, WINDOW_S)


def seconds_locked(username: str) -> int:
    """How long the account takes no sign-in; 0 when it may sign in now."""
    count_key, until_key = _keys(username)
    if cache.get(count_key, 0) < settings.SIGN_IN_FAILURES_PER_ACCOUNT:
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
