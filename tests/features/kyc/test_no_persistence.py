"""In memory only (issue 14 §2): during the whole upload flow (page, a verified upload, a
refused one, a 1.5 MB one; then the same through the org API) nothing is written to a file,
a temporary file or a log line that carries the XML, the photo, the full reference id or the
name; no file is opened for writing at all, no temporary file is made. On SQLite the
database file itself is searched too.

The spy is proven able to fail: Starlette's own ``request.form()`` on a 1.5 MB upload spools
to a temporary file, and the spy catches it.
"""

from __future__ import annotations

import base64
import builtins
import logging
import os
import pathlib
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from starlette.requests import Request

from namoid.services import Services
from namoid.storage.models import Organization
from tests import kyc_fixtures as fx
from tests.conftest import Backend
from tests.features.authorize.conftest import Flow
from tests.features.kyc.test_api import api_upload, kyc_token
from tests.features.kyc.test_upload_page import records, upload

_WRITE_MODES = set("wax+")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class Spy(logging.Handler):
    """Records file-system writes and every log record while active."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.writes: list[str] = []
        self.written: list[bytes] = []
        self.logs: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.logs.append(text)


@contextmanager
def spy_on_writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spy]:
    spy = Spy()
    real_open, real_os_open, real_write = builtins.open, os.open, os.write

    def open_(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if _WRITE_MODES & set(mode):
            spy.writes.append(f"open({file!r}, {mode!r})")
        return real_open(file, mode, *args, **kwargs)

    def os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & _WRITE_FLAGS:
            spy.writes.append(f"os.open({path!r})")
        return real_os_open(path, flags, *args, **kwargs)

    def os_write(fd: int, data: bytes) -> int:
        spy.written.append(bytes(data))
        return real_write(fd, data)

    def refuse(name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> Any:
            spy.writes.append(name)
            raise OSError(f"{name} is not allowed during the KYC flow")

        return record

    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(os, "write", os_write)
    for name in ("TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile", "mkstemp", "mkdtemp"):
        monkeypatch.setattr(tempfile, name, refuse(f"tempfile.{name}"))
    for name in ("write_bytes", "write_text", "touch"):
        monkeypatch.setattr(pathlib.Path, name, refuse(f"Path.{name}"))
    for name in ("copy", "copy2", "copyfile", "copyfileobj", "move"):
        monkeypatch.setattr(shutil, name, refuse(f"shutil.{name}"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(spy)
    root.setLevel(logging.DEBUG)
    try:
        yield spy
    finally:
        root.removeHandler(spy)
        root.setLevel(level)


def _sensitive(person: fx.Person) -> list[bytes]:
    photo_b64 = base64.b64encode(person.photo)
    return [
        person.name.encode(), person.name.casefold().encode(), person.reference_id.encode(),
        person.photo[:64], photo_b64[:64], b"OfflinePaperlessKyc", b"UidData",
    ]  # fmt: skip


async def test_the_upload_flow_writes_and_logs_nothing_of_the_file(
    signed_in: Flow, services: Services, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = fx.Person()
    verified, tampered = fx.upload(person), fx.zipcrypto(fx.signed_xml(person).replace(b"Kumari", b"Kumaro"))
    large = fx.upload(fx.Person(photo=fx.PHOTO + os.urandom(1500 * 1024)))  # above the 1 MiB spool size
    with spy_on_writes(monkeypatch) as spy:
        assert (await upload(signed_in, verified)).status_code == 200
        assert (await upload(signed_in, tampered)).status_code == 400
        assert (await upload(signed_in, verified, share_code="9999")).status_code == 400
        assert (await upload(signed_in, large)).status_code == 400  # too large for a ZIP, parsed in memory
    await _nothing_of_the_file_kept(spy, person, services, signed_in.org, backend)


async def _nothing_of_the_file_kept(
    spy: Spy, person: fx.Person, services: Services, org: Organization, backend: Backend
) -> None:
    """No write and no log line carries the file's data; one masked record; the SQLite file
    holds none of it either."""
    assert spy.writes == []
    assert spy.logs, "the spy saw no log record at all"
    for value in _sensitive(person):
        text = value.decode("utf-8", "replace")
        leaks = [line[:300] for line in spy.logs if text in line]
        assert not leaks, f"{value!r} reached a log line: {leaks}"
        assert not any(value in data for data in spy.written), f"{value!r} reached os.write"
    assert len(await records(services, org)) == 1
    if backend.name == "sqlite":
        database = pathlib.Path(backend.app_url.split("///", 1)[1])
        stored = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
        for value in _sensitive(person)[2:]:  # the name is the user's profile name, stored as such
            assert value not in stored, f"{value!r} is in the database file"


async def test_the_spy_catches_a_spooled_upload(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starlette's form parser spools a 1.5 MB file part to a temporary file: the spy must see it."""
    boundary = "spyproof"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.zip"\r\n'
            "Content-Type: application/zip\r\n\r\n"
        ).encode()
        + os.urandom(1500 * 1024)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    scope = {
        "type": "http", "method": "POST", "path": "/", "headers": [
            (b"content-type", f"multipart/form-data; boundary={boundary}".encode()),
            (b"content-length", str(len(body)).encode()),
        ],
    }  # fmt: skip
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    with spy_on_writes(monkeypatch) as spy, pytest.raises(OSError, match="tempfile"):
        form = await Request(scope, receive).form()
        await form.close()
    assert any(name.startswith("tempfile.") for name in spy.writes)


async def test_the_api_upload_writes_and_logs_nothing_of_the_file(
    user_flow: Flow, services: Services, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same spy over ``POST {issuer}/kyc/offline-ekyc`` (the org API)."""
    person = fx.Person()
    verified, tampered = fx.upload(person), fx.zipcrypto(fx.signed_xml(person).replace(b"Kumari", b"Kumaro"))
    large = fx.upload(fx.Person(photo=fx.PHOTO + os.urandom(1500 * 1024)))  # above the 1 MiB spool size
    token = await kyc_token(user_flow)
    with spy_on_writes(monkeypatch) as spy:
        assert (await api_upload(user_flow, token, verified)).status_code == 201
        assert (await api_upload(user_flow, token, tampered)).status_code == 422
        assert (await api_upload(user_flow, token, verified, share_code="9999")).status_code == 422
        assert (await api_upload(user_flow, token, large)).status_code == 422  # parsed in memory
    await _nothing_of_the_file_kept(spy, person, services, user_flow.org, backend)
