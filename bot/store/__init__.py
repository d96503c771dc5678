"""The SQL store: typed ORM models (`models`), engine set-up for SQLite and PostgreSQL (`engine`), and the
migration helpers (`schema`) that `rtcops db upgrade` and start-up use."""

from bot.store.engine import create_engine, session_factory

__all__ = ["create_engine", "session_factory"]
