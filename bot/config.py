"""The one Settings class: every environment variable the bot reads is declared here and nowhere else.

Provider credentials keep the providers' own variable names (operators already export them for the
providers' CLIs), so those fields carry explicit aliases instead of the RTCOPS_ prefix.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class MissingSetting(Exception):
    """A setting a command needs is absent; the message names the variable and nothing else."""

    def __init__(self, variable: str, purpose: str) -> None:
        super().__init__(f"{variable} is not set: it is required {purpose}.")
        self.variable = variable


class InvalidSetting(MissingSetting):
    """A setting is present but unusable. It subclasses MissingSetting so that the CLI's one handler for
    settings problems reports it as a line, not a traceback. The message names the variable and the rule,
    never the value: the value may be a secret or a URL with a password in it."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        Exception.__init__(self, "; ".join(f"invalid setting {name}: {rule}" for name, rule in problems))
        self.variable = problems[0][0] if problems else ""
        self.problems = problems

    @classmethod
    def from_validation(cls, exc: ValidationError) -> InvalidSetting:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            name = ".".join(str(part) for part in error["loc"]).upper() or "settings"
            problems.append((name, str(error["msg"]).removeprefix("Value error, ")))
        return cls(problems)


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    slack_bot_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(None, validation_alias=_env("SLACK_SIGNING_SECRET"))
    slack_app_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_api_url: str = Field("https://slack.com/api/", validation_alias=_env("SLACK_API_URL"))

    # repr=False: a PostgreSQL URL may carry a password, and a Settings object can end up in a log line.
    database_url: str = Field("sqlite+aiosqlite:///./rtcops.db", validation_alias=_env("DATABASE_URL"), repr=False)
    admin_users: str = Field("", validation_alias=_env("RTCOPS_ADMIN_USERS"))
    notify_channel: str | None = Field(None, validation_alias=_env("RTCOPS_NOTIFY_CHANNEL"))
    request_ttl_minutes: int = Field(30, ge=1, le=24 * 60, validation_alias=_env("RTCOPS_REQUEST_TTL_MINUTES"))

    volc_accesskey: str | None = Field(None, validation_alias=_env("VOLC_ACCESSKEY"))
    volc_secretkey: SecretStr | None = Field(None, validation_alias=_env("VOLC_SECRETKEY"))
    volc_session_token: SecretStr | None = Field(None, validation_alias=_env("VOLC_SESSION_TOKEN"))
    volcengine_endpoint: str = Field(
        "https://rtc.volcengineapi.com", validation_alias=_env("RTCOPS_VOLCENGINE_ENDPOINT")
    )
    volcengine_region: str = Field("cn-north-1", validation_alias=_env("RTCOPS_VOLCENGINE_REGION"))

    tencentcloud_secret_id: str | None = Field(None, validation_alias=_env("TENCENTCLOUD_SECRET_ID"))
    tencentcloud_secret_key: SecretStr | None = Field(None, validation_alias=_env("TENCENTCLOUD_SECRET_KEY"))
    tencentcloud_session_token: SecretStr | None = Field(
        None, validation_alias=_env("TENCENTCLOUD_SESSION_TOKEN")
    )
    tencent_endpoint: str | None = Field(None, validation_alias=_env("RTCOPS_TENCENT_ENDPOINT"))
    tencentcloud_region: str = Field("ap-singapore", validation_alias=_env("TENCENTCLOUD_REGION"))
    tencent_site: Literal["intl", "china"] = Field("intl", validation_alias=_env("RTCOPS_TENCENT_SITE"))

    # Pacing, per provider account and action (requests per second); defaults are the documented limits.
    volcengine_update_qps: float = Field(150.0, gt=0, validation_alias=_env("RTCOPS_VOLCENGINE_UPDATE_QPS"))
    volcengine_get_qps: float = Field(60.0, gt=0, validation_alias=_env("RTCOPS_VOLCENGINE_GET_QPS"))
    tencent_qps: float = Field(20.0, gt=0, validation_alias=_env("RTCOPS_TENCENT_QPS"))
    provider_timeout_seconds: float = Field(10.0, gt=0, validation_alias=_env("RTCOPS_PROVIDER_TIMEOUT"))
    provider_max_attempts: int = Field(4, ge=1, le=10, validation_alias=_env("RTCOPS_PROVIDER_MAX_ATTEMPTS"))
    provider_deadline_seconds: float = Field(30.0, gt=0, validation_alias=_env("RTCOPS_PROVIDER_DEADLINE"))

    log_level: str = Field("INFO", validation_alias=_env("RTCOPS_LOG_LEVEL"))

    @field_validator("volcengine_endpoint", "tencent_endpoint", "slack_api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// or http://")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in _LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(_LOG_LEVELS)}")
        return value.upper()

    @property
    def admin_user_ids(self) -> frozenset[str]:
        return frozenset(u.strip() for u in self.admin_users.replace(";", ",").split(",") if u.strip())

    @property
    def tencent_base_url(self) -> str:
        if self.tencent_endpoint:
            return self.tencent_endpoint
        if self.tencent_site == "china":
            return "https://trtc.tencentcloudapi.com"
        return "https://trtc.intl.tencentcloudapi.com"

    def require(self, field: str, purpose: str) -> str:
        """Return a required setting's value or stop with one line naming its environment variable."""
        value = getattr(self, field)
        text = value.get_secret_value() if isinstance(value, SecretStr) else ("" if value is None else str(value))
        if not text.strip():
            alias = type(self).model_fields[field].validation_alias
            name = alias.choices[0] if isinstance(alias, AliasChoices) else field.upper()
            raise MissingSetting(str(name), purpose)
        return text


def load_settings() -> Settings:
    """Settings from the environment and .env, or InvalidSetting with one line per unusable variable."""
    try:
        return Settings()
    except ValidationError as exc:
        raise InvalidSetting.from_validation(exc) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
