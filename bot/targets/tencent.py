"""Tencent TRTC stream ingest (`UpdateStreamIngest`), as a target.

What sets it apart: Describe reports only whether the ingest exists, never its settings, so the baseline is
the last configuration applied through rtcops (or stated at registration); Update sets absolute values and
takes only the fields it is given, so it is sent only what changes; there is no SequenceNumber; and the
site (international or China) decides the host, the Volume range and two extra fields.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from bot.domain import BaselineSource, ChangeKind, Condition, Provider, Touch
from bot.providers import tencent_events as callbacks
from bot.providers.errors import InvalidRequest, ProviderError, validation_problems
from bot.providers.tencent_models import (
    PAUSED_TASK_DESTROYED_AFTER_HOURS,
    VOLUME_MAX,
    Site,
    UpdateStreamIngest,
    update_regions,
)
from bot.providers.tencent_models import TaskRef as TencentTaskRef
from bot.targets.base import (
    Applied,
    ChangeSyntax,
    Choice,
    Config,
    Editor,
    Errors,
    EventDelivery,
    EventRefused,
    Field,
    Health,
    ProviderState,
    Refused,
    Registered,
    Registration,
    RegistrationError,
    Sent,
    TargetChange,
    TaskEvent,
    TaskRef,
    Verb,
)
from bot.targets.config_json import canonical_json, merge_patch
from bot.targets.outcome import describe_error, from_error

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.providers.registry import ProviderRegistry

VERB = "ingest"
NOT_EXIST = "NotExist"
"""Tencent's status for an ingest that is gone (or never was); FailedOperation.TaskNotExist means the same."""
GONE_CODES = frozenset({"FailedOperation.TaskNotExist"})
DEFAULTS: dict[str, Any] = {"Volume": 100, "IsPause": False, "EnableProgress": False, "Tempo": 1.0}
"""What an ingest runs with for a field rtcops never set (Describe cannot tell)."""
FIELDS = ("StreamUrl", "Volume", "IsPause", "EnableProgress", "Tempo")
PAUSE_LIMIT = f"Tencent destroys an ingest paused for more than {PAUSED_TASK_DESTROYED_AFTER_HOURS} hours: resume it before then"
_TOUCHES = {"StreamUrl": Touch.URL, "Volume": Touch.VOLUME, "IsPause": Touch.PAUSE}
_STATES = {"paused": True, "running": False}
CALLBACK_WINDOW = timedelta(minutes=5)
"""A callback stamped (CallbackMsTs) further than this from our clock is refused as a replay. TRTC stamps every
sending afresh, retries included, so a genuine one is always seconds old; Slack's request window is the same."""
_EXISTS = Health(Condition.OK, "the ingest exists (DescribeStreamIngest: InProgress)", definite=False)
_GONE = Health(Condition.ENDED, "the ingest no longer exists (DescribeStreamIngest: NotExist)")


def _unknown(error: str) -> Health:
    return Health(Condition.UNKNOWN, f"the provider could not be asked: {error}"[:300])


def _callback_health(event_type: int, status: int | None) -> Health | None:
    if event_type == callbacks.STREAM_INGEST_STOP:
        return Health(Condition.ENDED, "the ingest stopped (callback 702)")
    if status == callbacks.START_SUCCEEDED:
        return Health(Condition.OK, "the ingest started (callback 701, Status 0)")
    if status == callbacks.START_FAILED:
        return Health(Condition.FAILED, "the ingest failed to start (callback 701, Status 1)")
    if status == callbacks.START_RETRYING:
        return Health(Condition.RECONNECTING, "the ingest is starting again (callback 701, Status 2)")
    return None


def site_of(task: TaskRef) -> Site:
    return "china" if task.ids.get("Site") == "china" else "intl"


@dataclass(frozen=True)
class IngestChange:
    """Whatever is not given keeps its last applied value; `extra` carries China-only fields."""

    url: str | None = None
    volume: int | None = None
    pause: bool | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    verb: str = VERB

    def patch(self) -> Config:
        found: Config = dict(self.extra)
        for key, value in (("StreamUrl", self.url), ("Volume", self.volume), ("IsPause", self.pause)):
            if value is not None:
                found[key] = value
        return found

    @property
    def summary(self) -> str:
        words = [f"url={self.url}" if self.url else "", f"volume={self.volume}" if self.volume is not None else ""]
        words.append({True: "pause", False: "resume", None: ""}[self.pause])
        words += [f"{k}={v}" for k, v in self.extra.items()]
        return "ingest " + " ".join(w for w in words if w)


def _value(config: Mapping[str, Any], key: str) -> tuple[Any, bool]:
    if key in config:
        return config[key], False
    return DEFAULTS.get(key), True


def ingest_changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[str]:
    """In the words an operator uses ("volume 100 (default) → 40", "paused"); a field rtcops never set is in
    force at the provider's default, which the words say instead of "unset"."""
    a, b = before or {}, after or {}
    lines: list[str] = []
    for key in sorted(set(a) | set(b), key=lambda k: (k != "StreamUrl", k)):
        old, old_default = _value(a, key)
        new, _ = _value(b, key)
        if old == new:
            continue
        if key == "StreamUrl":
            lines.append(f"source {old} → {new}" if old is not None else f"source set to {new}")
        elif key == "IsPause":
            lines.append(f"paused ({PAUSE_LIMIT})" if new else "resumed")
        elif key == "Volume":
            lines.append(f"volume {old}{' (default)' if old_default else ''} → {new}")
        elif key == "Tempo":
            lines.append(f"tempo {old}× → {new}×")
        elif key == "EnableProgress":
            lines.append("progress reporting " + ("on" if new else "off"))
        else:
            lines.append(f"{key}: {canonical_json(old)} → {canonical_json(new)}")
    return lines


def _volume(text: str) -> int:
    if not text.isdigit() or len(text) > 6:
        raise ValueError(f"volume must be a whole number, got {text!r}")
    return int(text)


class TencentTarget:
    name: str = Provider.TENCENT.value
    title: str = "Tencent TRTC stream ingest"
    uses_sequence_number: bool = False
    reads_configuration: bool = False
    registration_usage: str = (
        "<SdkAppId> <TaskId> [region=ap-singapore] [site=intl|china] [url=<URL>] [volume=<n>] [state=paused|running]"
    )
    registration_options: frozenset[str] = frozenset({"region", "site", "url", "volume", "state"})
    verbs: tuple[Verb, ...] = (
        Verb(
            VERB,
            ChangeKind.INGEST,
            (
                "/rtc ingest <alias>                                     opens the ingest editor",
                "/rtc ingest <alias> [url=<URL>] [volume=<n>] [pause|resume]",
            ),
        ),
    )

    # --- registration -------------------------------------------------------------------------------

    def parse_registration(self, ids: Sequence[str], options: Mapping[str, str], settings: Settings) -> Registration:
        if len(ids) != 2:
            raise RegistrationError("a Tencent ingest needs its SdkAppId and TaskId")
        sdk_app_id, task_id = ids
        if not sdk_app_id.isdigit():
            raise RegistrationError(f"SdkAppId must be a positive whole number, got {sdk_app_id!r}")
        site = options.get("site") or settings.tencent_site
        if site not in ("intl", "china"):
            raise RegistrationError(f"site must be intl or china, got {site!r}")
        region = options.get("region") or settings.tencentcloud_region
        if region not in update_regions(site):
            allowed = ", ".join(update_regions(site))
            raise RegistrationError(f"region {region!r} is not valid for ingest updates on the {site} site: use one of {allowed}")
        stated: Config = {}
        if options.get("url"):
            stated["StreamUrl"] = options["url"]
        try:
            if options.get("volume") is not None:
                stated["Volume"] = _volume(options["volume"])
        except ValueError as exc:
            raise RegistrationError(str(exc)) from None
        if options.get("state") is not None:
            if options["state"] not in _STATES:
                raise RegistrationError(f"state must be paused or running, got {options['state']!r}")
            stated["IsPause"] = _STATES[options["state"]]
        try:
            TencentTaskRef.model_validate({"SdkAppId": int(sdk_app_id), "TaskId": task_id})
            if stated:
                UpdateStreamIngest.model_validate(
                    {"SdkAppId": int(sdk_app_id), "TaskId": task_id, **stated}, context={"site": site}
                )
        except ValidationError as exc:
            raise RegistrationError("; ".join(validation_problems(exc))) from None
        found = {"SdkAppId": int(sdk_app_id), "TaskId": task_id, "Region": region, "Site": site}
        return Registration(ids=found, configuration=stated or None)

    async def check_registration(self, providers: ProviderRegistry, alias: str, registration: Registration) -> Registered:
        """An ingest Describe calls NotExist is most likely a typo: refused unless forced. Its settings cannot
        be read, so what the admin stated (if anything) becomes version 1."""
        task = TaskRef(alias, self.name, registration.ids)
        state = await self.read(providers, task)
        ids = registration.ids
        missing = None
        if state.gone:
            missing = (
                f"Tencent says task {ids['TaskId']} of SdkAppId {ids['SdkAppId']} does not exist in {ids['Region']} "
                "(DescribeStreamIngest: NotExist); check the ids and the region"
            )
        warnings = (f"the provider could not be asked about the task: {state.error}",) if state.error else ()
        if registration.configuration:
            return Registered(ids, {}, state, dict(registration.configuration), BaselineSource.GIVEN, warnings, missing)
        return Registered(ids, {}, state, None, BaselineSource.NONE, warnings, missing)

    # --- reading ------------------------------------------------------------------------------------

    async def read(self, providers: ProviderRegistry, task: TaskRef) -> ProviderState:
        """Describe says only whether the ingest runs; its settings are never reported."""
        body = {"SdkAppId": task.ids.get("SdkAppId"), "TaskId": task.ids.get("TaskId")}
        try:
            reply = await providers.tencent(site_of(task)).describe_stream_ingest(body, region=task.ids.get("Region"))
        except ProviderError as exc:
            if exc.code in GONE_CODES:
                return ProviderState(NOT_EXIST, False, None, exc.request_id, gone=True, health=_GONE)
            error = describe_error(exc)
            return ProviderState("unavailable", None, None, exc.request_id, error, health=_unknown(error))
        except InvalidRequest as exc:
            error = describe_error(exc)
            return ProviderState("unavailable", None, None, None, error, health=_unknown(error))
        status = reply.result.status or "unknown"
        exists = reply.result.exists
        return ProviderState(status, exists, None, reply.request_id, gone=not exists, health=_EXISTS if exists else _GONE)

    # --- events: stream-ingest callbacks ------------------------------------------------------------------

    def read_events(self, settings: Settings, headers: Mapping[str, Sequence[str]], body: bytes, now: datetime) -> EventDelivery:
        """One TRTC callback, verified: the `Sign` header is the HMAC of these exact bytes under
        RTCOPS_TENCENT_CALLBACK_KEY (constant-time), the body is an ingest event, and its CallbackMsTs is within
        CALLBACK_WINDOW of now. Health: 701 Status 0 started (healthy again), 1 failed, 2 retrying its source;
        702 stopped (ended)."""
        key = settings.tencent_callback_key.get_secret_value() if settings.tencent_callback_key is not None else ""
        if not key:
            raise EventRefused(404, "Tencent callbacks are not configured (RTCOPS_TENCENT_CALLBACK_KEY is unset)")
        signs, apps = headers.get("sign", ()), headers.get("sdkappid", ())
        if len(signs) != 1 or len(apps) != 1:
            raise EventRefused(401, "unsigned: not exactly one Sign and one SdkAppId header")
        if not callbacks.signature_matches(key, body, signs[0]):
            raise EventRefused(401, "Sign does not match the body")
        app = apps[0]
        if not (app.isascii() and app.isdigit() and len(app) <= 20):
            raise EventRefused(400, "SdkAppId header is not a whole number")
        try:
            callback = callbacks.IngestCallback.model_validate(json.loads(body))
        except (ValueError, ValidationError):
            raise EventRefused(400, "signed body is not a TRTC callback") from None
        sent = datetime.fromtimestamp(callback.callback_ms_ts / 1000, UTC)
        if abs(now - sent) > CALLBACK_WINDOW:
            skew = abs((now - sent).total_seconds())
            raise EventRefused(401, f"CallbackMsTs is {skew:.0f} s from now, outside the replay window")
        fingerprint = "tencent-callback:" + hashlib.sha256(body).hexdigest()
        if not callback.stream_ingest:
            return EventDelivery(fingerprint, ())
        try:
            info = callbacks.IngestEventInfo.model_validate(callback.event_info)
        except ValidationError:
            raise EventRefused(400, "signed stream-ingest callback without EventMsTs and TaskId") from None
        health = _callback_health(callback.event_type, info.status)
        if health is None:
            return EventDelivery(fingerprint, ())
        at = datetime.fromtimestamp(info.event_ms_ts / 1000, UTC)
        key_parts = (app, info.task_id, callback.event_type, info.status, info.event_ms_ts)
        event_key = "tencent-event:" + hashlib.sha256(repr(key_parts).encode()).hexdigest()
        event = TaskEvent({"SdkAppId": int(app), "TaskId": info.task_id}, health, at, event_key)
        return EventDelivery(fingerprint, (event,))

    # --- changing -----------------------------------------------------------------------------------

    def parse_change(self, verb: str, args: Sequence[str]) -> TargetChange:
        """`[url=<URL>] [volume=<n>] [pause|resume]`, the words after `/rtc ingest <alias>`."""
        url: str | None = None
        volume: int | None = None
        pause: bool | None = None
        for token in args:
            low = token.lower()
            if low in ("pause", "resume"):
                if pause is not None:
                    raise ChangeSyntax("say pause or resume once")
                pause = low == "pause"
            elif low.startswith("url=") and url is None and len(token) > 4:
                url = token[4:]
            elif low.startswith("volume=") and volume is None:
                try:
                    volume = _volume(token[7:])
                except ValueError as exc:
                    raise ChangeSyntax(str(exc)) from None
            else:
                raise ChangeSyntax(f"unexpected {token!r}")
        if url is None and volume is None and pause is None:
            raise ChangeSyntax("nothing to change: give url=, volume=, pause or resume")
        return IngestChange(url, volume, pause)

    def build(self, change: TargetChange, baseline: Config, task: TaskRef) -> tuple[Config, Config]:
        if not isinstance(change, IngestChange):
            raise ChangeSyntax(f"{type(change).__name__} is not an ingest change")
        patch = change.patch()
        if not patch:
            raise ChangeSyntax("nothing to change: give url=, volume=, pause or resume")
        return patch, merge_patch(baseline, patch)

    def body(self, task: TaskRef, desired: Config, baseline: Config) -> UpdateStreamIngest:
        """Only the fields that change (T6: what Tencent does with a repeated StreamUrl is undocumented, and it
        may restart the source); every field is absolute, so sending the same body twice sets the same."""
        changed = {k: v for k, v in desired.items() if k not in baseline or baseline[k] != v}
        data = {"SdkAppId": task.ids.get("SdkAppId"), "TaskId": task.ids.get("TaskId"), **changed}
        return UpdateStreamIngest.model_validate(data, context={"site": site_of(task)})

    def validate(self, task: TaskRef, desired: Config) -> list[str]:
        unknown = sorted(set(desired) - set(FIELDS))
        if unknown:
            return [f"{', '.join(unknown)}: not part of an ingest's configuration"]
        try:
            UpdateStreamIngest.model_validate(
                {"SdkAppId": task.ids.get("SdkAppId"), "TaskId": task.ids.get("TaskId"), **desired},
                context={"site": site_of(task)},
            )
        except ValidationError as exc:
            return validation_problems(exc)
        return []

    def touched(self, before: Config, after: Config) -> list[Touch]:
        found: list[Touch] = []
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):  # an unknown value may be anything: setting it is a change
                touch = _TOUCHES.get(key, Touch.PLAYBACK)
                if touch not in found:
                    found.append(touch)
        return found

    def describe(self, before: Config | None, after: Config | None) -> list[str]:
        return ingest_changes(before, after)

    def summarize(self, task: TaskRef, config: Config) -> list[str]:
        """What rtcops last applied (Tencent cannot report the settings in force)."""
        lines = [f"source {config['StreamUrl']}" if config.get("StreamUrl") else "source: not known to rtcops"]
        volume, default = _value(config, "Volume")
        lines.append(f"volume {volume}" + (" (default)" if default else ""))
        paused = config.get("IsPause")
        lines.append("state: not known to rtcops" if paused is None else (f"paused ({PAUSE_LIMIT})" if paused else "running"))
        for key in ("Tempo", "EnableProgress"):
            if key in config:
                lines.append(f"{key} {config[key]}")
        lines.append(f"{task.ids.get('Site', 'intl')} site, region {task.ids.get('Region', '?')}")
        return lines

    def preview(self, task: TaskRef, before: Config, after: Config, touched: Sequence[Touch]) -> bytes | None:
        return None

    async def send(
        self, providers: ProviderRegistry, task: TaskRef, desired: Config, baseline: Config, sequence_number: int | None
    ) -> Sent:
        """NotExist in a successful answer means the ingest is gone: a refusal, nothing was changed."""
        try:
            body = self.body(task, desired, baseline)
            reply = await providers.tencent(site_of(task)).update_stream_ingest(body, region=task.ids.get("Region"))
        except (ProviderError, InvalidRequest) as exc:
            return from_error(exc, GONE_CODES)
        except ValidationError as exc:
            return from_error(InvalidRequest(validation_problems(exc)), GONE_CODES)
        if not reply.result.exists:
            return Refused(NOT_EXIST, "the ingest does not exist at Tencent (Status NotExist)", reply.request_id, gone=True)
        return Applied(reply.request_id)

    # --- the editor ----------------------------------------------------------------------------------

    def editor(self, verb: str, task: TaskRef, state: ProviderState) -> Editor:
        """The last applied settings: Tencent cannot report the ones in force."""
        site = site_of(task)
        config = task.configuration or {}
        volume_max = VOLUME_MAX.get(site, 100)
        paused = config.get("IsPause")
        return Editor(
            verb=VERB,
            title="Ingest editor",
            intro=f"Editing {task.alias} ({site} site). Fields left as they are keep their value.",
            items=(
                Field("url", "Source URL", initial=config.get("StreamUrl"), placeholder="rtmp://… or https://…"),
                Field(
                    "volume",
                    f"Volume (0–{volume_max})",
                    initial=None if config.get("Volume") is None else str(config["Volume"]),
                    hint=f"100 is the source's own volume; this site allows 0 to {volume_max}",
                ),
                Field(
                    "state",
                    "State",
                    "radio",
                    initial=None if paused is None else ("paused" if paused else "running"),
                    choices=(Choice("running", "Running"), Choice("paused", "Paused")),
                ),
            ),
            context={"site": site},
        )

    def read_editor(
        self, verb: str, values: Mapping[str, str], initial: Mapping[str, str], context: Mapping[str, str]
    ) -> tuple[TargetChange | None, Errors]:
        """Only the fields the user changed count; each is checked through the model with the task's site."""
        errors = Errors()
        change: dict[str, Any] = {}
        url, volume, state = (values.get(k, "") for k in ("url", "volume", "state"))
        if url != initial.get("url", ""):
            if not url:
                errors["url"] = "the source URL cannot be removed; give a new one"
            change["url"] = url or None
        if volume != initial.get("volume", ""):
            if not volume.isdigit():
                errors["volume"] = f"must be a whole number, got {volume!r}"
            else:
                change["volume"] = int(volume)
        if state and state != initial.get("state", ""):
            change["pause"] = state == "paused"
        if errors:
            return None, errors
        proposed = IngestChange(**change)
        body = {"SdkAppId": 1, "TaskId": "check", **proposed.patch()}
        try:
            UpdateStreamIngest.model_validate(body, context={"site": context.get("site", "intl")})
        except ValidationError as exc:
            names = {"StreamUrl": "url", "Volume": "volume", "IsPause": "state"}
            for problem in validation_problems(exc):
                key = next((f for f in names if problem.startswith(f)), "Volume")
                errors.setdefault(names[key], problem)
            return None, errors
        if not proposed.patch():
            return None, {"url": "nothing changed: edit the URL, the volume or the state"}
        return proposed, errors
