"""The search API's answers to many queries, as bytes: to show that a change to how a search is computed leaves
its rankings, scores and bodies byte for byte the same (issue 16).

    .venv/bin/python benchmarks/search_answers.py --out /tmp/after.jsonl [--queries 300] [--paths DIR]
    .venv/bin/python benchmarks/search_answers.py --root /path/to/other/checkout --out /tmp/before.jsonl
    cmp /tmp/before.jsonl /tmp/after.jsonl

`--queries` of benchmarks/serve_load.py's search paths (a fixed random sample of `search.txt`), each asked in
every mode (keyword, semantic, hybrid) and once more on its second page (`offset=20`), through the WSGI
application as a client would, never from kept answers (nothing is written); with `--html`, the site's search
page of the same queries (with DEBUG on, for the static files without a manifest). One line per answer: the path and
the body. Read-only, so it may run on the shared benchmark catalog.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import urllib.parse
from pathlib import Path

# This script's folder (benchmarks/) is first on sys.path.
from request_cost import never_keep_answers, production_application, wsgi_get

MODES = ("keyword", "semantic", "hybrid")


def variants(path: str) -> list[str]:
    """`path` in every mode, and the hybrid one's second page."""
    route, _, query = path.partition("?")
    params = [(name, value) for name, value in urllib.parse.parse_qsl(query) if name != "mode"]
    asked = [f"{route}?{urllib.parse.urlencode([*params, ('mode', mode)])}" for mode in MODES]
    return [*asked, f"{route}?{urllib.parse.urlencode([*params, ('mode', 'hybrid'), ('offset', '20')])}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[1]), help="the checkout to run")
    parser.add_argument("--database", default="bench_serve_this")
    parser.add_argument("--paths", default=str(Path.cwd() / "benchmarks" / ".cache" / "serve_load" / "this"))
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--html", action="store_true", help="the site's search page (/?q=...) instead of the API")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    # DEBUG on for --html: static files from the finders, no collectstatic manifest needed
    application = production_application(args.database, root=args.root, **({"DEBUG": "1"} if args.html else {}))
    never_keep_answers()

    paths = [line for line in Path(args.paths, "search.txt").read_text().splitlines() if line]
    sample = random.Random(16).sample(paths, min(args.queries, len(paths)))
    lines, digest = [], hashlib.sha256()
    for path in (variant for asked in sample for variant in variants(asked)):
        if args.html:
            path = "/?" + path.partition("?")[2]
        status, body = wsgi_get(application, path, accept="text/html" if args.html else "application/json")
        if not status.startswith("200"):
            raise SystemExit(f"{path}: {status} {body[:300]!r}")
        digest.update(body)
        lines.append(path.encode() + b" " + body + b"\n")
    Path(args.out).write_bytes(b"".join(lines))
    print(f"{len(sample)} queries x {len(MODES) + 1} requests; sha256 {digest.hexdigest()[:16]}")


if __name__ == "__main__":
    main()
