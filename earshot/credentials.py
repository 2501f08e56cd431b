"""Secrets for listeners, from an Airflow connection or the environment; never from market.yaml."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from earshot.config import RedditSource
    from listeners.reddit import RedditCredentials


def reddit_credentials(source: RedditSource) -> RedditCredentials:
    """The Airflow connection ``source.airflow_conn_id`` (login = client id, password = secret, extra
    ``{"user_agent": ...}``) when named, else ``<credentials_env>_CLIENT_ID`` / ``_CLIENT_SECRET`` /
    ``_USER_AGENT`` from the environment."""
    from listeners.errors import ErrorKind, SourceError
    from listeners.reddit import RedditCredentials, credentials_from_env

    if not source.airflow_conn_id:
        return credentials_from_env(source, os.environ)
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(source.airflow_conn_id)
    except Exception as exc:
        detail = f"Airflow connection {source.airflow_conn_id!r} is not available ({type(exc).__name__})"
        raise SourceError(source.id, ErrorKind.AUTH, detail) from None
    user_agent = (conn.extra_dejson or {}).get("user_agent") or ""
    if not (conn.login and conn.password and user_agent):
        detail = f"Airflow connection {source.airflow_conn_id!r} needs login, password and extra.user_agent"
        raise SourceError(source.id, ErrorKind.AUTH, detail)
    return RedditCredentials(conn.login, conn.password, user_agent)
