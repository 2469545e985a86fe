"""Getting a server process ready before its first request."""

from __future__ import annotations

import gc
import importlib


def prepare_for_requests() -> None:
    """Import what requests will need and take every object alive now out of the garbage collector's walks.

    Django's URL conf and views, scikit-learn and SciPy leave ~170k long-lived objects; a full collection
    walks them all, a 100-200 ms pause in the middle of some request (similar films at 34k films: p99 184 ms,
    p50 26 ms, against 30 ms and 22 ms frozen). The embedding model freezes its own objects when it loads.
    """
    from django.urls import get_resolver

    refuse_a_server_without_requirements()
    get_resolver().url_patterns  # noqa: B018 (imports every view module)
    importlib.import_module("recommender.similar")
    # The ONNX query encoder loads in a second (torch took 15); a missing file is built by the first query.
    from recommender.encoders import warm_query_encoder

    warm_query_encoder()
    gc.collect()
    gc.freeze()


def refuse_a_server_without_requirements() -> None:
    """Stop the server process at start-up, with the list, if the database lacks what the app needs.

    A database that cannot be reached now is not refused: it may come back, and requests answer 503 meanwhile.
    """
    from django.core.exceptions import ImproperlyConfigured
    from django.db import DatabaseError

    from moviesite.server_requirements import missing_requirements

    try:
        problems = missing_requirements()
    except DatabaseError:
        return
    if problems:
        raise ImproperlyConfigured("The database server cannot serve moviesite: " + "; ".join(problems) + ".")
