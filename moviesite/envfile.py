"""Write a checkout's local `.env` once: DEBUG on and a fresh SECRET_KEY (run by `make install`).

Plain Python with no Django import, so `make` can run it with the system interpreter before the virtualenv
exists. An existing file is never touched: it may hold the operator's own settings.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

TEMPLATE = """\
# Written once by `make install` for local development; edit freely, it is never overwritten.
# Variables exported in the environment win over this file. Docker and deploys never read it.
DEBUG=1
SECRET_KEY={secret_key}
"""


def write_env_file(path: Path) -> bool:
    """Create ``path`` with local-development settings unless it exists; return whether it was written."""
    # token_urlsafe(50) gives 67 characters of [A-Za-z0-9_-]: safe to quote nowhere, in make or in a shell.
    try:
        with path.open("x", encoding="utf-8") as file:
            file.write(TEMPLATE.format(secret_key=secrets.token_urlsafe(50)))
    except FileExistsError:
        return False
    return True


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".env")
    if write_env_file(target):
        print(f"Wrote {target} for local development (DEBUG=1, a fresh SECRET_KEY).")
