"""The similar-films API answers of many films, computed on a first pass, as bytes: to show that a change to
how they are computed leaves them byte for byte the same (issue 16).

    .venv/bin/python benchmarks/similar_answers.py --out /tmp/after.jsonl [--films 200] [--database bench_serve_this]
    .venv/bin/python benchmarks/similar_answers.py --root /path/to/other/checkout --out /tmp/before.jsonl
    cmp /tmp/before.jsonl /tmp/after.jsonl

For each of `--films` films (a fixed random sample) and each method, the kept lists and answers are dropped
first (SimilarList, CachedAnswer: this writes to the database named, so use a copy), then
`/api/movies/{id}/similar/?method=...` is asked through the WSGI application, as a client would; one line per
answer: method, film id and the body. Then every method is asked again (kept lists read back) and compared.
"""

from __future__ import annotations

import argparse
import hashlib
import random
from pathlib import Path

from request_cost import production_application, wsgi_get  # this script's folder (benchmarks/) is first on sys.path

METHODS = ("blend", "knn", "cf", "svm", "tfidf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[1]), help="the checkout to run")
    parser.add_argument("--database", default="bench_serve_this")
    parser.add_argument("--films", type=int, default=200)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    application = production_application(args.database, root=args.root)

    from catalog.models import Movie
    from moviesite.models import CachedAnswer
    from recommender.models import SimilarList

    pks = sorted(Movie.objects.visible().values_list("pk", flat=True))
    films = random.Random(16).sample(pks, min(args.films, len(pks)))

    def ask(pk: int, method: str) -> bytes:
        status, body = wsgi_get(application, f"/api/movies/{pk}/similar/?method={method}")
        if not status.startswith("200"):
            raise SystemExit(f"{pk} {method}: {status} {body[:300]!r}")
        return body

    SimilarList.objects.filter(movie_id__in=films).delete()
    CachedAnswer.objects.all().delete()
    lines, digests = [], {}
    for method in METHODS:
        digest = hashlib.sha256()
        for pk in films:
            body = ask(pk, method)
            digest.update(body)
            lines.append(f"{method} {pk} ".encode() + body + b"\n")
        digests[method] = digest.hexdigest()[:16]
    CachedAnswer.objects.all().delete()
    again = sum(ask(pk, method) != line.split(b" ", 2)[2][:-1] for line, (method, pk) in zip(
        lines, [(m, pk) for m in METHODS for pk in films], strict=True
    ))  # fmt: skip
    Path(args.out).write_bytes(b"".join(lines))
    print(f"{len(films)} films x {len(METHODS)} methods; sha256 per method: {digests}; kept lists read back "
          f"differ in {again} answers")  # fmt: skip


if __name__ == "__main__":
    main()
