"""A scripted DNS for tests of the guarded outbound client: injected where the system resolver would be."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field

from namoid.outbound.resolver import IPAddress


@dataclass
class ScriptedResolver:
    """``answers[host]`` is the list of successive answers; the last one repeats. Unknown hosts fail."""

    answers: dict[str, list[list[str]]]
    asked: list[str] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> Sequence[IPAddress]:
        self.asked.append(host)
        script = self.answers.get(host)
        if not script:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = script[min(self.asked.count(host), len(script)) - 1]
        return [ipaddress.ip_address(a) for a in answer]


def resolving(hosts: dict[str, str]) -> ScriptedResolver:
    """Each host always resolves to its one address."""
    return ScriptedResolver({name: [[address]] for name, address in hosts.items()})
