"""PostgreSQL backend that starts the embedded server on the first connection, not at import time.

So `manage.py --help` stays instant, while any command that touches the database (and the test run, which
creates its test database through this same path) finds a running server. A connection that fails because
the server died under a running process starts it again (issue 17): the site recovers by itself.
"""

from __future__ import annotations

import psycopg
from django.db.backends.postgresql import base

from moviesite.embedded_db import ensure_database, ensure_server, revive


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        pgdata = self.settings_dict["PGDATA"]
        address = ensure_server(pgdata)
        params = super().get_connection_params()
        params["host"] = address.host
        params["port"] = address.port
        ensure_database(pgdata, params.get("dbname") or "postgres", user=params.get("user") or "postgres")
        return params

    def get_new_connection(self, conn_params):
        try:
            return super().get_new_connection(conn_params)
        except psycopg.OperationalError as failure:
            try:
                address = revive(self.settings_dict["PGDATA"])
            except Exception as exc:
                raise failure from exc
            return super().get_new_connection({**conn_params, "host": address.host, "port": address.port})
