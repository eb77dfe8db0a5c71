"""Tell someone when a status changes: one POSTed JSON document, retried with backoff."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
from typing import Any

__all__ = ["ATTEMPTS", "post_with_retries"]

log = logging.getLogger(__name__)

#: Tries per document, and the first pause between two (doubled after each failure).
ATTEMPTS = 4
FIRST_PAUSE = 1.0
TIMEOUT = 10.0


def _post(url: str, body: bytes) -> int:
    request = urllib.request.Request(  # noqa: S310  the URL is checked to be http(s)
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310
        return int(answer.status)


async def post_with_retries(url: str, document: dict[str, Any], pause: float = FIRST_PAUSE) -> bool:
    """POST ``document`` to ``url``; a failure or a non-2xx answer is retried after
    ``pause`` seconds, then twice as long, up to ATTEMPTS tries. True once delivered."""
    body = json.dumps(document).encode()
    for attempt in range(1, ATTEMPTS + 1):
        try:
            status = await asyncio.to_thread(_post, url, body)
            if 200 <= status < 300:
                return True
            reason = f"HTTP {status}"
        except OSError as exc:  # urllib's HTTPError and URLError are OSErrors
            reason = str(exc)
        log.warning(
            "monitor webhook %s: attempt %d of %d failed: %s", url, attempt, ATTEMPTS, reason
        )
        if attempt < ATTEMPTS:
            await asyncio.sleep(pause)
            pause *= 2
    return False
