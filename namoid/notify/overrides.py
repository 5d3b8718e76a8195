"""An org's own wording of its one-time-code messages (issue 11 item 7), made safe to render.

An override is one part of one message in one language: ``code_email`` (``subject``, ``text``,
``html``) or ``code_sms`` (``text``), ``en`` or ``hi``. It is a Jinja2 template rendered in the
sandbox (``jinja2.sandbox.SandboxedEnvironment``: no attribute or method of Python objects
beyond the safe ones) with only the message's own variables (``code``, ``org``, ``purpose``,
``minutes``; anything else is refused when the override is set). It may hold only text, those
variables, ``if`` and a few string filters: no loops, calls, arithmetic, macros, ``include``,
``import`` or ``extends``, so rendering costs no more than the text; a strict undefined,
autoescaping for HTML, and bounded size.
It must show ``{{ code }}``. An SMS still ends with the WebOTP line, which no override can
change. What goes into a message is therefore the same as without overrides: the code, the
org's name, the purpose and the lifetime, no other personal data.

For SMS to India, each text must match its DLT registration: an org that rewords ``code_sms``
registers the new text under the same template (``NAMOID_SMS_DLT_TEMPLATES``) first.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import MappingProxyType

from jinja2 import StrictUndefined, TemplateError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from namoid import audit
from namoid.storage.db import Database
from namoid.storage.models import Organization, utcnow
from namoid.storage.repos import message_templates

log = logging.getLogger(__name__)

#: The parts each message has.
PARTS: Mapping[str, tuple[str, ...]] = {"code_email": ("subject", "text", "html"), "code_sms": ("text",)}
LOCALES = ("en", "hi")
VARIABLES = frozenset({"code", "org", "purpose", "minutes"})
#: The longest override of each part, in characters (an SMS is at most a few segments).
MAX_LENGTH: Mapping[tuple[str, str], int] = {
    ("code_email", "subject"): 200,
    ("code_email", "text"): 4000,
    ("code_email", "html"): 20000,
    ("code_sms", "text"): 300,
}
#: More than any part may hold: a file is read up to here, then refused by ``check``.
MAX_FILE = max(MAX_LENGTH.values())
_SAMPLE = {"code": "123456", "org": "Example", "purpose": "sign in", "minutes": 5}
#: What a message template may be made of: text, the variables, conditions and a few filters.
#: No loops, calls, arithmetic, macros, includes or imports: rendering is bounded by the text.
_ALLOWED_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.If,
    nodes.CondExpr, nodes.Compare, nodes.Operand, nodes.And, nodes.Or, nodes.Not, nodes.Filter,
)  # fmt: skip
_ALLOWED_FILTERS = frozenset({"upper", "lower", "title", "capitalize", "trim", "e", "escape"})

Overrides = Mapping[tuple[str, str, str], str]
NO_OVERRIDES: Overrides = MappingProxyType({})


def _environment(part: str) -> SandboxedEnvironment:
    return SandboxedEnvironment(autoescape=part == "html", undefined=StrictUndefined, auto_reload=False)


def _walk(node: nodes.Node) -> list[nodes.Node]:
    found = [node]
    for child in node.iter_child_nodes():
        found.extend(_walk(child))
    return found


def check(template: str, locale: str, part: str, body: str) -> str:
    """``body`` if it is a safe override of that part, else ValueError saying why."""
    if part not in PARTS.get(template, ()):
        raise ValueError(f"--template and --part must be one of {dict(PARTS)}")
    if locale not in LOCALES:
        raise ValueError(f"--lang must be one of {', '.join(LOCALES)}")
    limit = MAX_LENGTH[(template, part)]
    if not body.strip() or len(body) > limit:
        raise ValueError(f"the {template} {part} must be 1-{limit} characters")
    environment = _environment(part)
    try:
        tree = environment.parse(body)
    except TemplateError as exc:
        raise ValueError(f"the template does not parse: {exc}") from None
    for node in _walk(tree):
        if not isinstance(node, _ALLOWED_NODES) or (
            isinstance(node, nodes.Filter) and node.name not in _ALLOWED_FILTERS
        ):
            raise ValueError(
                f"{type(node).__name__} is not allowed in a message template: use text, the variables, "
                f"if, and the filters {', '.join(sorted(_ALLOWED_FILTERS))}"
            )
    unknown = meta.find_undeclared_variables(tree) - VARIABLES
    if unknown:
        raise ValueError(f"unknown variables {sorted(unknown)}: use only {sorted(VARIABLES)}")
    if (template, part) != ("code_email", "subject") and "code" not in meta.find_undeclared_variables(tree):
        raise ValueError("the message must show the code: put {{ code }} in it")
    try:
        environment.from_string(body).render(_SAMPLE)
    except TemplateError as exc:  # the sandbox's SecurityError is one
        raise ValueError(f"the template fails to render: {exc}") from None
    return body


def render(
    overrides: Overrides, template: str, locale: str, part: str, context: Mapping[str, object]
) -> str | None:
    """The org's wording of this part, rendered; None if it has none (or it fails: then the
    built-in wording is used, and the failure is logged without the message)."""
    body = overrides.get((template, locale, part))
    if body is None:
        return None
    try:
        return _environment(part).from_string(body).render(dict(context))[: MAX_LENGTH[(template, part)] * 2]
    except TemplateError as exc:
        log.warning("message template %s.%s.%s failed to render (%s); built-in used", template, locale, part,
                    type(exc).__name__)  # fmt: skip
        return None


async def load(db: Database, org: Organization) -> Overrides:
    async with db.tenant(org.id) as session:
        return await message_templates.all_of(session, org.id)


async def set_override(
    db: Database,
    org: Organization,
    template: str,
    locale: str,
    part: str,
    body: str | None,
    actor: audit.Actor,
) -> None:
    """Set (``body``) or remove (None) one override, audited (``org.template_changed``)."""
    if body is not None:
        check(template, locale, part, body)
    elif part not in PARTS.get(template, ()) or locale not in LOCALES:
        raise ValueError(f"no such message part: {template} {locale} {part}")
    async with db.tenant(org.id) as session:
        if body is None:
            if not await message_templates.remove(session, org.id, template, locale, part):
                raise LookupError(f"{org.slug} has no override of {template} {locale} {part}")
        else:
            await message_templates.put(session, org.id, template, locale, part, body, utcnow())
        await audit.record(
            session,
            org.id,
            actor=actor,
            action="org.template_changed",
            target_type="org",
            target_id=org.slug,
            detail={
                "template": template,
                "locale": locale,
                "part": part,
                "change": "reset" if body is None else "set",
            },
        )
