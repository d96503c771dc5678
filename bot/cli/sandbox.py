"""`rtcops sandbox …`: local stand-ins for the providers, so the bot, the CLI and benchmarks can run
end to end without cloud accounts. The printed credentials are the simulators' fixed test accounts,
not secrets, which is why they may be shown."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

import click

from bot.sandbox import tencent_sim, volcengine_sim
from bot.sandbox.serve import BackgroundServer
from bot.sandbox.sim_common import CONTROL_PREFIX


@click.group()
def sandbox() -> None:
    """Local provider simulators for trying the bot and for tests."""


def _env_lines(volc: BackgroundServer, intl: BackgroundServer, china: BackgroundServer, region: str) -> list[str]:
    return [
        f"VOLC_ACCESSKEY={volcengine_sim.DEFAULT_ACCESS_KEY}",
        f"VOLC_SECRETKEY={volcengine_sim.DEFAULT_SECRET_KEY}",
        f"RTCOPS_VOLCENGINE_ENDPOINT={volc.url}",
        f"RTCOPS_VOLCENGINE_REGION={region}",
        f"TENCENTCLOUD_SECRET_ID={tencent_sim.DEFAULT_SECRET_ID}",
        f"TENCENTCLOUD_SECRET_KEY={tencent_sim.DEFAULT_SECRET_KEY}",
        "TENCENTCLOUD_REGION=ap-singapore",
        f"RTCOPS_TENCENT_ENDPOINT={intl.url}",
        "RTCOPS_TENCENT_SITE=intl",
        f"# China site instead: RTCOPS_TENCENT_ENDPOINT={china.url} RTCOPS_TENCENT_SITE=china",
    ]


def _banner(servers: list[BackgroundServer], region: str, no_qps: bool) -> list[str]:
    volc, intl, china = servers
    qps = "off" if no_qps else "on (Volcengine 150/s Start/Update/Stop, 60/s Get; Tencent 20/s per action)"
    p = CONTROL_PREFIX
    return [
        f"Volcengine RTC simulator    {volc.url}   (region {region}, version {volcengine_sim.VERSION})",
        f"Tencent TRTC intl simulator {intl.url}",
        f"Tencent TRTC China simulator {china.url}",
        f"QPS limits: {qps}",
        f"Control: {p}/faults (GET/POST/DELETE), {p}/requests, {p}/tasks, {p}/tasks/end, {p}/qps, {p}/reset on each URL;",
        f"         {p}/tasks/health and {p}/tasks/recover on each, {p}/tasks/drift on Volcengine,",
        f"         {p}/callbacks (GET/POST/DELETE) and {p}/callbacks/send on Tencent (README: The sandbox)",
        "",
        "# sandbox test credentials, ready to paste into your shell or .env:",
        *_env_lines(volc, intl, china, region),
        "",
        "Press Ctrl-C to stop.",
    ]


@contextlib.contextmanager
def _stop_on_signal() -> Iterator[threading.Event]:
    """Catch Ctrl-C and SIGTERM from before the banner is printed, so an early one still stops cleanly."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@sandbox.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65533),
    default=8470,
    show_default=True,
    help="Volcengine on PORT, Tencent intl on PORT+1, Tencent China on PORT+2 (0: any free ports).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--no-qps", is_flag=True, help="Do not enforce the providers' QPS limits.")
def providers(port: int, host: str, no_qps: bool) -> None:
    """Serve the Volcengine and Tencent simulators until Ctrl-C, and print ready-to-paste settings."""
    volc_config = volcengine_sim.VolcengineSimConfig(qps_enabled=not no_qps)
    volc_app, _ = volcengine_sim.create_volcengine_sim(volc_config)
    intl_app, _ = tencent_sim.create_tencent_sim(tencent_sim.TencentSimConfig(qps_enabled=not no_qps), site="intl")
    china_app, _ = tencent_sim.create_tencent_sim(tencent_sim.TencentSimConfig(qps_enabled=not no_qps), site="china")
    servers: list[BackgroundServer] = []
    try:
        for offset, app in enumerate((volc_app, intl_app, china_app)):
            servers.append(BackgroundServer(app, host, port + offset if port else 0))
    except OSError as exc:
        for server in servers:
            server.stop()
        raise click.ClickException(f"cannot listen on {host} (ports {port}-{port + 2}): {exc.strerror or exc}") from None
    with _stop_on_signal() as stop:
        try:
            for server in servers:
                server.start()
            click.echo("\n".join(_banner(servers, volc_config.region, no_qps)))
            while not stop.wait(0.5):
                pass
        finally:
            for server in servers:
                server.stop()
    click.echo("sandbox stopped")
