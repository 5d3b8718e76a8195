"""Fail-closed audit of a hashed requirements lock against OSV advisories.

Offline (default): every ``name==version`` pin in the lock is checked against a
snapshot of the PyPA advisory database (``DB/vulns/<package>/<id>.yaml``, OSV
format). Anything that prevents a trustworthy answer -- a missing or empty
database, an unparsable advisory, an unparsable lock or pin, a lock without
pins -- is an error (exit 2), never a clean result.

``--online`` additionally runs ``pip-audit --strict`` against the live service.

Exit codes: 0 clean, 1 vulnerable, 2 audit could not be completed.

Usage: python -m tools.cve_audit --lock LOCK [--lock LOCK ...] --db DIR [--online] [--ignore ID ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

EXIT_CLEAN = 0
EXIT_VULNERABLE = 1
EXIT_ERROR = 2

ADVISORY_SUFFIXES = frozenset({".yaml", ".yml", ".json"})
RANGE_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")


class AuditError(Exception):
    """A condition under which the audit cannot give a trustworthy answer."""


def normalize_name(name: str) -> str:
    """Return the PEP 503 normalized form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------
# Lock file
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Pin:
    """One ``name==version`` line of the lock."""

    name: str  # PEP 503 normalized
    version: Version
    raw_version: str
    marker: str | None
    line: int
    lock: str = ""


_COMMENT = re.compile(r"(^|\s)#.*$")
_OPTION_START = re.compile(r"\s(?=--?[A-Za-z])")
_HASH_OPTION = re.compile(r"^--hash[=\s]\s*[A-Za-z0-9]+:[0-9a-fA-F]+$")


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield (first line number, text) of each non-empty logical line."""
    buf: list[str] = []
    start = 0
    for number, physical in enumerate(text.splitlines(), start=1):
        line = _COMMENT.sub("", physical).rstrip()
        if not buf:
            start = number
        if line.endswith("\\"):
            buf.append(line[:-1])
            continue
        buf.append(line)
        joined = " ".join(part.strip() for part in buf).strip()
        buf = []
        if joined:
            yield start, joined
    if buf:
        raise AuditError(f"line {start}: continuation backslash at end of file")


def parse_pin(line: str, number: int) -> Pin:
    """Parse one logical lock line; raise AuditError unless it is a hashed exact pin."""
    if line.startswith("-"):
        raise AuditError(f"line {number}: unsupported lock line (options/includes): {line[:80]!r}")
    requirement_text, *options = _OPTION_START.split(line)
    hashes = [opt for opt in options if _HASH_OPTION.match(opt.strip())]
    if len(hashes) != len(options):
        bad = next(opt for opt in options if not _HASH_OPTION.match(opt.strip()))
        raise AuditError(f"line {number}: unsupported option {bad.strip()[:60]!r}")
    if not hashes:
        raise AuditError(f"line {number}: pin without --hash (lock must use --generate-hashes)")
    try:
        req = Requirement(requirement_text.strip())
    except InvalidRequirement as exc:
        raise AuditError(f"line {number}: cannot parse requirement: {exc}") from exc
    if req.url:
        raise AuditError(f"line {number}: URL requirement cannot be audited: {req.name}")
    specs = list(req.specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or "*" in specs[0].version:
        raise AuditError(f"line {number}: not an exact pin: {requirement_text.strip()!r}")
    raw = specs[0].version
    try:
        version = Version(raw)
    except InvalidVersion as exc:
        raise AuditError(f"line {number}: invalid version {raw!r} for {req.name}") from exc
    marker = str(req.marker) if req.marker is not None else None
    return Pin(normalize_name(req.name), version, raw, marker, number)


def parse_lock(path: Path) -> list[Pin]:
    """Parse every pin in a hashed requirements lock (at least one is required)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditError(f"cannot read lock {path}: {exc}") from exc
    try:
        pins = [replace(parse_pin(line, n), lock=str(path)) for n, line in _logical_lines(text)]
    except AuditError as exc:
        raise AuditError(f"{path}: {exc}") from exc
    if not pins:
        raise AuditError(f"lock {path} contains no pins")
    return pins


# --------------------------------------------------------------------------
# Advisory database
# --------------------------------------------------------------------------


try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


class _Loader(_SafeLoader):
    """Safe YAML loader that keeps int/float-looking scalars as strings (1.10 != 1.1)."""


_NUMERIC_TAGS = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag not in _NUMERIC_TAGS]
    for key, resolvers in _SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class Affected:
    """One ``affected[]`` entry for a PyPI package."""

    name: str  # PEP 503 normalized
    ranges: tuple[tuple[tuple[str, str], ...], ...]  # ECOSYSTEM ranges: (kind, version) events
    versions: tuple[str, ...]


@dataclass(frozen=True)
class Advisory:
    """The parts of an OSV advisory the audit needs."""

    id: str
    aliases: tuple[str, ...]
    withdrawn: bool
    affected: tuple[Affected, ...]
    path: Path


@dataclass(frozen=True)
class Snapshot:
    """Provenance of the advisory database."""

    date: dt.date
    commit: str

    def describe(self, today: dt.date | None = None) -> str:
        """Human-readable provenance, including the snapshot's age."""
        age = ((today or dt.date.today()) - self.date).days
        return (
            f"PyPA advisory-database snapshot {self.date.isoformat()} "
            f"(commit {self.commit[:7]}…, {age} days old)"
        )


def _malformed(path: Path, what: str) -> AuditError:
    return AuditError(f"malformed advisory {path}: {what}")


def _str_list(value: object, path: Path, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _malformed(path, f"{field} is not a list of strings")
    return tuple(value)


def _parse_range(rng: object, path: Path) -> tuple[tuple[str, str], ...] | None:
    """Return an ECOSYSTEM range's events, or None for a GIT range."""
    if not isinstance(rng, dict):
        raise _malformed(path, "range is not a mapping")
    events_raw = rng.get("events")
    if not isinstance(events_raw, list) or not events_raw:
        raise _malformed(path, "range without events")
    events: list[tuple[str, str]] = []
    for event in events_raw:
        if not isinstance(event, dict) or len(event) != 1:
            raise _malformed(path, "range event is not a one-key mapping")
        ((kind, value),) = event.items()
        if kind not in RANGE_EVENT_KINDS or not isinstance(value, str):
            raise _malformed(path, f"bad range event {kind!r}: {value!r}")
        events.append((kind, value))
    if rng.get("type") == "GIT":
        return None  # commit hashes: not comparable with released versions
    if rng.get("type") != "ECOSYSTEM":
        raise _malformed(path, f"unsupported range type {rng.get('type')!r}")
    return tuple(events)


def _parse_affected(entry: object, path: Path) -> Affected | None:
    """Return one affected[] entry, or None if it is not about a PyPI package."""
    if not isinstance(entry, dict):
        raise _malformed(path, "affected entry is not a mapping")
    package = entry.get("package")
    if not isinstance(package, dict):
        raise _malformed(path, "affected entry without package")
    name, ecosystem = package.get("name"), package.get("ecosystem")
    if not isinstance(name, str) or not isinstance(ecosystem, str):
        raise _malformed(path, "package without name or ecosystem")
    ranges_raw = entry.get("ranges") or []
    if not isinstance(ranges_raw, list):
        raise _malformed(path, "ranges is not a list")
    ranges = tuple(r for r in (_parse_range(x, path) for x in ranges_raw) if r is not None)
    versions = _str_list(entry.get("versions"), path, "versions")
    if ecosystem.split(":")[0] != "PyPI":
        return None
    return Affected(normalize_name(name), ranges, versions)


def load_advisory(path: Path) -> Advisory:
    """Read and validate one OSV advisory file."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise AuditError(f"cannot read advisory {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise _malformed(path, "not a mapping")
    adv_id = data.get("id")
    if not isinstance(adv_id, str) or not adv_id:
        raise _malformed(path, "missing id")
    affected_raw = data.get("affected") or []
    if not isinstance(affected_raw, list):
        raise _malformed(path, "affected is not a list")
    affected = tuple(a for a in (_parse_affected(e, path) for e in affected_raw) if a)
    return Advisory(
        id=adv_id,
        aliases=_str_list(data.get("aliases"), path, "aliases"),
        withdrawn=bool(data.get("withdrawn")),
        affected=affected,
        path=path,
    )


def load_database(root: Path) -> dict[str, list[tuple[Advisory, Affected]]]:
    """Index every advisory under ROOT/vulns by normalized package name."""
    vulns = root / "vulns"
    if not vulns.is_dir():
        raise AuditError(f"advisory database not found: {vulns} is not a directory")
    index: dict[str, list[tuple[Advisory, Affected]]] = {}
    count = 0
    for path in sorted(vulns.rglob("*")):
        if path.suffix not in ADVISORY_SUFFIXES or path.is_dir():
            continue
        advisory = load_advisory(path)
        count += 1
        for affected in advisory.affected:
            index.setdefault(affected.name, []).append((advisory, affected))
    if count == 0:
        raise AuditError(f"advisory database {vulns} is empty")
    return index


def read_snapshot(root: Path) -> Snapshot:
    """Read the snapshot's commit and date from SNAPSHOT.md, or from git."""
    meta = root / "SNAPSHOT.md"
    if meta.is_file():
        text = meta.read_text(encoding="utf-8")
        commit = re.search(r"\b([0-9a-f]{40})\b", text)
        date = re.search(r"committed\s+(\d{4}-\d{2}-\d{2})", text)
        if commit and date:
            return Snapshot(dt.date.fromisoformat(date.group(1)), commit.group(1))
        raise AuditError(f"{meta}: cannot find the snapshot's commit and date")
    git = shutil.which("git")
    if git and (root / ".git").exists():
        out = subprocess.run(
            [git, "-C", str(root), "log", "-1", "--format=%H %cs"],
            capture_output=True,
            text=True,
            check=False,
        )
        parts = out.stdout.split()
        if out.returncode == 0 and len(parts) == 2:
            return Snapshot(dt.date.fromisoformat(parts[1]), parts[0])
    raise AuditError(f"cannot tell the advisory database's date: no {meta} and no git history")


# --------------------------------------------------------------------------
# OSV matching
# --------------------------------------------------------------------------


def _event_version(value: str, path: Path) -> Version | None:
    """Parse an event version; ``"0"`` (all versions) is returned as None."""
    if value == "0":
        return None
    try:
        return Version(value)
    except InvalidVersion as exc:
        raise AuditError(f"advisory {path}: invalid version {value!r} in a range") from exc


def in_range(version: Version, events: Sequence[tuple[str, str]], path: Path) -> bool:
    """OSV range evaluation: walk events sorted by version (``0`` first)."""
    parsed = [(kind, _event_version(value, path)) for kind, value in events]
    order = {kind: i for i, kind in enumerate(RANGE_EVENT_KINDS)}
    zero = Version("0")
    parsed.sort(key=lambda e: (e[1] is not None, zero if e[1] is None else e[1], order[e[0]]))
    affected = False
    for kind, at in parsed:
        if at is None or version > at or (version == at and kind != "last_affected"):
            # This event is at or below VERSION: introduced opens, fixed/last_affected close.
            if kind == "introduced":
                affected = True
            elif kind in ("fixed", "last_affected"):
                affected = False
    limits = [at for kind, at in parsed if kind == "limit" and at is not None]
    return affected and not any(version >= at for at in limits)


def in_versions(pin: Pin, versions: Iterable[str]) -> bool:
    """Whether the pin is in an explicit ``versions`` list (invalid entries never match)."""
    for listed in versions:
        if listed == pin.raw_version:
            return True
        try:
            if Version(listed) == pin.version:
                return True
        except InvalidVersion:
            continue
    return False


def is_affected(pin: Pin, affected: Affected, path: Path) -> bool:
    """Whether PIN is affected by one ``affected[]`` entry."""
    if affected.name != pin.name:
        return False
    if not affected.ranges and not affected.versions:  # e.g. GIT ranges only: cannot tell
        raise AuditError(f"advisory {path}: no ECOSYSTEM range or versions for {pin.name}")
    return any(in_range(pin.version, r, path) for r in affected.ranges) or in_versions(pin, affected.versions)


@dataclass(frozen=True)
class Finding:
    """A pin matched by a (non-withdrawn) advisory."""

    pin: Pin
    advisory: Advisory
    fixed: tuple[str, ...]


def audit(
    pins: Sequence[Pin],
    index: Mapping[str, Sequence[tuple[Advisory, Affected]]],
    ignore: frozenset[str] = frozenset(),
) -> tuple[list[Finding], set[str]]:
    """Return (findings, ignored IDs that matched) for the pins."""
    findings: list[Finding] = []
    used: set[str] = set()
    seen: set[tuple[str, str, str, Version]] = set()
    for pin in pins:
        for advisory, affected in index.get(pin.name, ()):
            key = (advisory.id, pin.lock, pin.name, pin.version)
            if advisory.withdrawn or key in seen:
                continue
            hit = ignore.intersection((advisory.id, *advisory.aliases))
            if hit:
                try:
                    matched = is_affected(pin, affected, advisory.path)
                except AuditError:  # an accepted advisory need not be evaluable
                    matched = True
                if matched:
                    used.update(hit)
                continue
            if not is_affected(pin, affected, advisory.path):
                continue
            seen.add(key)
            fixed = sorted({v for r in affected.ranges for k, v in r if k == "fixed"}, key=_sort_key)
            findings.append(Finding(pin, advisory, tuple(fixed)))
    return findings, used


def _sort_key(value: str) -> tuple[int, Version | str]:
    try:
        return (0, Version(value))
    except InvalidVersion:
        return (1, value)


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def run_online(lock: Path) -> int:
    """Run pip-audit against the live service; any failure is a failed audit."""
    exe = shutil.which("pip-audit")
    if exe:
        cmd = [exe]
    elif importlib.util.find_spec("pip_audit") is not None:
        cmd = [sys.executable, "-m", "pip_audit"]
    else:
        print("AUDIT FAILED: --online needs pip-audit, which is not installed", file=sys.stderr)
        return EXIT_ERROR
    # --strict: a package that cannot be looked up fails the audit instead of being skipped.
    cmd += ["--strict", "--require-hashes", "-r", str(lock)]
    print("online audit:", " ".join(cmd), flush=True)
    try:
        rc = subprocess.run(cmd, check=False).returncode
    except OSError as exc:
        print(f"AUDIT FAILED: cannot run pip-audit: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if rc != 0:
        print(f"AUDIT FAILED: pip-audit exited {rc} (a vulnerability, or a failed lookup)", file=sys.stderr)
        return EXIT_VULNERABLE
    print("online audit: pip-audit found no known vulnerabilities")
    return EXIT_CLEAN


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.cve_audit",
        description="Fail-closed audit of a hashed requirements lock against OSV advisories.",
    )
    parser.add_argument(
        "--lock", type=Path, action="append", required=True, help="hashed requirements lock (repeatable)"
    )
    parser.add_argument("--db", type=Path, required=True, help="PyPA advisory-database checkout")
    parser.add_argument("--online", action="store_true", help="also run pip-audit (network)")
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="ID",
        help="advisory id or alias to accept (repeatable; printed in the output)",
    )
    args = parser.parse_args(argv)
    ignore = frozenset(args.ignore)
    try:
        pins = [pin for lock in args.lock for pin in parse_lock(lock)]
        index = load_database(args.db)
        snapshot = read_snapshot(args.db)
        findings, used = audit(pins, index, ignore)
    except AuditError as exc:
        print(f"AUDIT FAILED (no result): {exc}", file=sys.stderr)
        return EXIT_ERROR
    source = snapshot.describe()
    print(f"advisory database: {source}")
    for adv_id in sorted(ignore):
        state = "matched" if adv_id in used else "did not match any pin"
        print(f"ignored by --ignore: {adv_id} ({state})")
    names = {p.name for p in pins}
    audited = _plural(len(names), "package")
    if len(pins) != len(names):
        audited = f"{_plural(len(pins), 'pin')} ({audited})"
    if len(args.lock) > 1:
        audited += f" in {len(args.lock)} locks"
    rc = EXIT_CLEAN
    if findings:
        found = _plural(len(findings), "known vulnerability", "known vulnerabilities")
        print(f"{audited} audited against {source}: {found}")
        for f in findings:
            aliases = ", ".join(f.advisory.aliases) or "no aliases"
            fixed = ", ".join(f.fixed) or "none"
            where = f" ; {f.pin.marker}" if f.pin.marker else ""
            print(
                f"  {f.pin.name}=={f.pin.raw_version}{where} ({f.pin.lock}:{f.pin.line}): "
                f"{f.advisory.id} [{aliases}] fixed in: {fixed}"
            )
        rc = EXIT_VULNERABLE
    else:
        print(f"{audited} audited against {source}: no known vulnerabilities")
    if args.online:
        for lock in args.lock:
            rc = max(rc, run_online(lock))
    return rc


if __name__ == "__main__":
    sys.exit(main())
