"""Settings: the environment names of design.md, their defaults, missing or empty secrets, unusable values
reported in one line that names the variable, and secrets kept out of every rendering."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import AliasChoices, SecretStr

from bot.config import InvalidSetting, MissingSetting, Settings, load_settings

SECRET = "s3cr3t-value-that-must-not-leak"

# design.md's settings table: variable -> (field, default)
DOCUMENTED: dict[str, tuple[str, object]] = {
    "SLACK_BOT_TOKEN": ("slack_bot_token", None),
    "SLACK_SIGNING_SECRET": ("slack_signing_secret", None),
    "SLACK_APP_TOKEN": ("slack_app_token", None),
    "SLACK_API_URL": ("slack_api_url", "https://slack.com/api/"),
    "DATABASE_URL": ("database_url", "sqlite+aiosqlite:///./rtcops.db"),
    "RTCOPS_ADMIN_USERS": ("admin_users", ""),
    "RTCOPS_NOTIFY_CHANNEL": ("notify_channel", None),
    "VOLC_ACCESSKEY": ("volc_accesskey", None),
    "VOLC_SECRETKEY": ("volc_secretkey", None),
    "VOLC_SESSION_TOKEN": ("volc_session_token", None),
    "RTCOPS_VOLCENGINE_ENDPOINT": ("volcengine_endpoint", "https://rtc.volcengineapi.com"),
    "RTCOPS_VOLCENGINE_REGION": ("volcengine_region", "cn-north-1"),
    "TENCENTCLOUD_SECRET_ID": ("tencentcloud_secret_id", None),
    "TENCENTCLOUD_SECRET_KEY": ("tencentcloud_secret_key", None),
    "TENCENTCLOUD_SESSION_TOKEN": ("tencentcloud_session_token", None),
    "RTCOPS_TENCENT_ENDPOINT": ("tencent_endpoint", None),
    "TENCENTCLOUD_REGION": ("tencentcloud_region", "ap-singapore"),
    "RTCOPS_TENCENT_SITE": ("tencent_site", "intl"),
    "RTCOPS_TENCENT_CALLBACK_KEY": ("tencent_callback_key", None),
    "RTCOPS_WATCH_READ_SHARE": ("watch_read_share", 0.5),
    "RTCOPS_WATCH_INTERVAL": ("watch_interval_seconds", 5.0),
    "RTCOPS_WATCH_RECONNECTING_SECONDS": ("watch_reconnecting_seconds", 30.0),
    "RTCOPS_WATCH_FLAP_SECONDS": ("watch_flap_seconds", 600.0),
}
SECRETS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "VOLC_SECRETKEY", "VOLC_SESSION_TOKEN",
           "TENCENTCLOUD_SECRET_KEY", "TENCENTCLOUD_SESSION_TOKEN", "RTCOPS_TENCENT_CALLBACK_KEY")  # fmt: skip


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No variable of ours from the developer's shell, and no .env in the working directory."""
    for info in Settings.model_fields.values():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            for name in alias.choices:
                monkeypatch.delenv(str(name), raising=False)
    monkeypatch.chdir(tmp_path)


def test_every_documented_variable_has_its_default() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    for variable, (field, default) in DOCUMENTED.items():
        assert getattr(settings, field) == default, variable
    assert settings.admin_user_ids == frozenset()


def test_every_documented_variable_is_read_by_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "SLACK_API_URL": "http://127.0.0.1:1/api/",
        "DATABASE_URL": "postgresql+asyncpg://rtcops@db/rtcops",
        "RTCOPS_ADMIN_USERS": "U0ADMIN1, U0ADMIN2;U0ADMIN3",
        "RTCOPS_NOTIFY_CHANNEL": "C0NOTIFY",
        "VOLC_ACCESSKEY": "AKLTreal",
        "RTCOPS_VOLCENGINE_ENDPOINT": "http://127.0.0.1:2",
        "RTCOPS_VOLCENGINE_REGION": "ap-singapore-1",
        "TENCENTCLOUD_SECRET_ID": "AKIDreal",
        "RTCOPS_TENCENT_ENDPOINT": "http://127.0.0.1:3",
        "TENCENTCLOUD_REGION": "ap-tokyo",
        "RTCOPS_TENCENT_SITE": "china",
        **{name: f"{SECRET}-{name}" for name in SECRETS},
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    for variable, value in values.items():
        got = getattr(settings, DOCUMENTED[variable][0])
        assert (got.get_secret_value() if isinstance(got, SecretStr) else got) == value, variable
    assert settings.admin_user_ids == {"U0ADMIN1", "U0ADMIN2", "U0ADMIN3"}


def test_log_level_is_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RTCOPS_LOG_LEVEL", "debug")
    assert Settings(_env_file=None).log_level == "DEBUG"  # type: ignore[call-arg]


def test_dot_env_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("VOLC_ACCESSKEY=AKLTfromfile\nRTCOPS_TENCENT_SITE=china\n", encoding="utf-8")
    settings = load_settings()
    assert settings.volc_accesskey == "AKLTfromfile" and settings.tencent_site == "china"


@pytest.mark.parametrize("value", [None, "", "   "])
@pytest.mark.parametrize(("variable", "field"), [("VOLC_SECRETKEY", "volc_secretkey"), ("SLACK_BOT_TOKEN", "slack_bot_token"),
                                                 ("VOLC_ACCESSKEY", "volc_accesskey")])  # fmt: skip
def test_missing_or_empty_required_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, field: str, value: str | None
) -> None:
    if value is not None:
        monkeypatch.setenv(variable, value)
    with pytest.raises(MissingSetting) as caught:
        Settings(_env_file=None).require(field, "to call Volcengine")  # type: ignore[call-arg]
    assert caught.value.variable == variable
    assert str(caught.value) == f"{variable} is not set: it is required to call Volcengine."


def test_present_secret_is_returned_by_require(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOLC_SECRETKEY", SECRET)
    assert Settings(_env_file=None).require("volc_secretkey", "to call Volcengine") == SECRET  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("variable", "value", "rule"),
    [
        ("RTCOPS_VOLCENGINE_ENDPOINT", f"ftp://user:{SECRET}@host", "must start with https:// or http://"),
        ("RTCOPS_TENCENT_ENDPOINT", "trtc.example.com", "must start with https:// or http://"),
        ("SLACK_API_URL", "", "must start with https:// or http://"),
        ("RTCOPS_TENCENT_SITE", "mars", "'intl' or 'china'"),
        ("RTCOPS_REQUEST_TTL_MINUTES", "soon", "valid integer"),
        ("RTCOPS_REQUEST_TTL_MINUTES", "0", "greater than or equal to 1"),
        ("RTCOPS_VOLCENGINE_UPDATE_QPS", "-1", "greater than 0"),
        ("RTCOPS_PROVIDER_MAX_ATTEMPTS", "99", "less than or equal to 10"),
        ("RTCOPS_LOG_LEVEL", "loud", "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ],
)
def test_unusable_value_is_one_line_naming_the_variable_never_the_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, rule: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidSetting) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"invalid setting {variable}: ") and rule in message
    assert caught.value.variable == variable
    if value:
        assert value not in message
    assert isinstance(caught.value, MissingSetting), "the CLI reports settings problems through MissingSetting"


def test_several_unusable_values_are_all_named_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RTCOPS_TENCENT_SITE", "mars")
    monkeypatch.setenv("SLACK_API_URL", "slack.com")
    with pytest.raises(InvalidSetting) as caught:
        load_settings()
    assert "\n" not in str(caught.value)
    assert {name for name, _ in caught.value.problems} == {"RTCOPS_TENCENT_SITE", "SLACK_API_URL"}


def test_secrets_never_appear_in_repr_str_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRETS:
        monkeypatch.setenv(name, f"{SECRET}-{name}")
    monkeypatch.setenv("DATABASE_URL", f"postgresql+asyncpg://rtcops:{SECRET}-db@db.internal/rtcops")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    for rendering in (repr(settings), str(settings), f"{settings!r}"):
        assert SECRET not in rendering
    for rendering in (settings.model_dump_json(), repr(settings.model_dump())):
        assert all(f"{SECRET}-{name}" not in rendering for name in SECRETS)
    assert settings.database_url.endswith("@db.internal/rtcops")  # still usable by the code that needs it
