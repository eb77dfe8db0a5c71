"""The admin token a server makes for itself when the operator set none.

Trusting loopback clients is not safe: every local user, and every web page the user
opens (through the browser), can reach 127.0.0.1. So, as Jupyter does, a server without
``admin_token`` makes a random one at start and saves it in a file only the user who
started it can read; ``modelport`` commands run by that user find it there, by port.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from pathlib import Path

__all__ = ["forget_token", "new_token", "read_token", "save_token", "token_file"]

log = logging.getLogger(__name__)


def token_file(port: int) -> Path:
    """Where the token of the server on ``port`` is kept for the local user."""
    base = os.environ.get("XDG_RUNTIME_DIR") or str(Path.home() / ".cache")
    return Path(base) / "modelport" / f"admin-token-{port}"


def new_token() -> str:
    return "mpl_" + secrets.token_urlsafe(32)


def save_token(port: int, token: str) -> Path | None:
    """Write the token for the local user only (0600 in a 0700 folder); None if we can't."""
    path = token_file(port)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)  # also when it was there before, made looser
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        # O_EXCL + 0600: the secret is never readable by others, not even for a moment.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token + "\n")
        os.replace(temporary, path)
    except OSError as exc:
        log.warning("could not save the admin token in %s: %s", path, exc)
        return None
    return path


def read_token(port: int) -> str | None:
    """The saved token of the local server on ``port``, if this user can read one."""
    with contextlib.suppress(OSError):
        text = token_file(port).read_text().strip()
        return text or None
    return None


def forget_token(port: int, token: str) -> None:
    """Remove the saved token when the server stops, unless another one replaced it."""
    if read_token(port) == token:
        with contextlib.suppress(OSError):
            token_file(port).unlink()
