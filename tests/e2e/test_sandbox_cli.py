"""`rtcops sandbox providers` as a user runs it: a separate process, real ports, one signed call per
provider with the printed credentials (signed by the official SDKs), then Ctrl-C and a clean exit."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from e2e_support import lines_until
from tencentcloud.common.abstract_client_async import AbstractClient
from volcengine.auth.SignerV4 import SignerV4
from volcengine.auth.SignParam import SignParam
from volcengine.Credentials import Credentials

RTCOPS = Path(sys.executable).with_name("rtcops")


@contextmanager
def sandbox(*args: str) -> Iterator[tuple[subprocess.Popen[str], dict[str, str], list[str]]]:
    """Start the command, read its banner up to the Ctrl-C line, and hand back the pasted settings."""
    proc = subprocess.Popen(
        [str(RTCOPS), "sandbox", "providers", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        lines = [line.rstrip("\n") for line in lines_until(proc, "Press Ctrl-C", what="rtcops sandbox providers")]
        env = dict(line.split("=", 1) for line in lines if re.match(r"[A-Z_]+=", line))
        yield proc, env, lines
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    return proc.returncode, out + err


def volc_get(env: dict[str, str]) -> httpx.Response:
    url = env["RTCOPS_VOLCENGINE_ENDPOINT"]
    host = url.removeprefix("http://")
    query = {"Action": "GetPushMixedStreamToCDNTask", "Version": "2020-12-01", "AppId": "a", "RoomId": "r", "TaskId": "t"}
    param = SignParam()
    param.set_method("GET")
    param.set_host(host)
    param.set_path("/")
    param.set_query(OrderedDict(query))
    param.set_body(b"")
    param.set_date(datetime.now(UTC))
    param.set_header_list(OrderedDict(Host=host))
    creds = Credentials(env["VOLC_ACCESSKEY"], env["VOLC_SECRETKEY"], "rtc", env["RTCOPS_VOLCENGINE_REGION"])
    signed = SignerV4.sign_only(param, creds)
    headers = {"Authorization": signed.authorization, "X-Date": signed.xdate, "X-Content-Sha256": signed.xContextSha256}
    return httpx.get(url + "/", params=query, headers=headers, timeout=10)


def tencent_describe(env: dict[str, str]) -> httpx.Response:
    url = env["RTCOPS_TENCENT_ENDPOINT"]
    raw = json.dumps({"SdkAppId": 1400000001, "TaskId": "t1"}).encode()
    stamp = int(time.time())
    date = datetime.fromtimestamp(stamp, tz=UTC).strftime("%Y-%m-%d")
    headers = {"Content-Type": "application/json", "Host": url.removeprefix("http://"), "X-TC-Timestamp": str(stamp)}
    signature = AbstractClient._get_tc3_signature("POST", "/", "", raw, headers, date, "trtc", env["TENCENTCLOUD_SECRET_KEY"], {})
    headers["Authorization"] = (
        f"TC3-HMAC-SHA256 Credential={env['TENCENTCLOUD_SECRET_ID']}/{date}/trtc/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )
    headers.update({"X-TC-Action": "DescribeStreamIngest", "X-TC-Version": "2019-07-22"})
    headers["X-TC-Region"] = env["TENCENTCLOUD_REGION"]
    return httpx.post(url + "/", content=raw, headers=headers, timeout=10)


def test_serves_until_ctrl_c_and_the_printed_settings_work() -> None:
    with sandbox("--port", "0") as (proc, env, lines):
        assert env["RTCOPS_TENCENT_SITE"] == "intl"
        assert any(line.startswith("Tencent TRTC China simulator http://127.0.0.1:") for line in lines)
        volc = volc_get(env)
        assert volc.status_code == 400, volc.text  # signed correctly, task unknown
        assert volc.json()["ResponseMetadata"]["Error"]["Code"] == "InvalidParameter.ErrorActiveTaskNotFound"
        tencent = tencent_describe(env)
        assert tencent.json()["Response"]["Status"] == "NotExist", tencent.text
        assert any("/_sandbox/tasks/health" in line and "/_sandbox/tasks/drift" in line for line in lines)
        health = httpx.post(f"{env['RTCOPS_VOLCENGINE_ENDPOINT']}/_sandbox/tasks/health",
                            json={"AppId": "a", "RoomId": "r", "TaskId": "t", "Status": 4}, timeout=10)  # fmt: skip
        assert health.status_code == 404 and "no task t" in health.json()["error"]
        hooks = httpx.get(f"{env['RTCOPS_TENCENT_ENDPOINT']}/_sandbox/callbacks", timeout=10)
        assert hooks.json() == {"registrations": [], "attempts": []}
        code, output = stop(proc)
    assert code == 0, output
    assert "Traceback" not in output and "sandbox stopped" in output


def free_port_triple() -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base: int = probe.getsockname()[1]
        if base > 65530:
            continue
        socks = []
        try:
            for offset in range(3):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no three free consecutive ports")


def test_port_n_gives_volcengine_n_intl_n_plus_1_china_n_plus_2() -> None:
    base = free_port_triple()
    with sandbox("--port", str(base), "--no-qps") as (proc, env, lines):
        assert env["RTCOPS_VOLCENGINE_ENDPOINT"] == f"http://127.0.0.1:{base}"
        assert env["RTCOPS_TENCENT_ENDPOINT"] == f"http://127.0.0.1:{base + 1}"
        assert any(f"http://127.0.0.1:{base + 2}" in line for line in lines)
        assert "QPS limits: off" in lines
        code, _ = stop(proc)
    assert code == 0


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(RTCOPS), "sandbox", "providers", "--port", str(port)], capture_output=True, text=True, timeout=30
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1 (ports {port}-{port + 2})" in result.stderr
    assert "Traceback" not in result.stderr
