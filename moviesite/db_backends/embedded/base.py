"""PostgreSQL backend that starts the embedded server on the first connection, not at import time.

So `manage.py --help` stays instant, while any command that touches the database (and the test run, which
creates its test database through this same path) finds a running server.
"""

from __future__ import annotations

from django.db.backends.postgresql import base

from moviesite.embedded_db import ensure_database, ensure_server


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        pgdata = self.settings_dict["PGDATA"]
        address = ensure_server(pgdata)
        params = super().get_connection_params()
        params["host"] = address.host
        params["port"] = address.port
        ensure_database(pgdata, params.get("dbname") or "postgres", user=params.get("user") or "postgres")
        return params
