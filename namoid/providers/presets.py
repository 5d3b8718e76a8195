"""What NamoID knows about each kind of upstream provider (``providers add --preset``).

``oidc`` is any OpenID Connect provider, driven by its discovery document
(OpenID Connect Discovery 1.0 §4). Google, Microsoft and Apple are OpenID Connect with a
known issuer. Microsoft's multi-tenant endpoints issue tokens whose ``iss`` names the
user's tenant: the expected issuer is a template, filled from the token's ``tid``. GitHub
is plain OAuth 2.0 (RFC 6749): fixed endpoints, the identity from its user API and the
email from its emails API (only the primary address, and only if GitHub verified it). Apple
posts the response (``response_mode=form_post``) and takes a client secret that is a
JWT signed with the team's key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

OIDC_SCOPES: Final = ("openid", "email", "profile")
#: GitHub scopes that let ``GET /user/emails`` answer.
GITHUB_EMAIL_SCOPES: Final = frozenset({"user:email", "user"})
MICROSOFT_TENANT: Final = "{tenantid}"


@dataclass(frozen=True, slots=True)
class Preset:
    #: The expected ``iss``; None: the operator gives it (``--issuer``), or plain OAuth 2.0.
    issuer: str | None
    scopes: tuple[str, ...]
    #: Where the discovery document is, if not at ``{issuer}/.well-known/openid-configuration``.
    discovery_url: str | None = None
    #: Fixed endpoints of a plain OAuth 2.0 provider (no discovery, no ID token).
    endpoints: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    response_mode: str | None = None
    #: May ``--issuer`` replace the preset's (e.g. one Entra tenant instead of any)?
    issuer_configurable: bool = False
    #: Does the client secret come as a private key (Apple), not a shared secret?
    secret_is_private_key: bool = False
    #: The provider's name as people know it; None for any OpenID Connect provider.
    label: str | None = None

    @property
    def is_oidc(self) -> bool:
        return not self.endpoints


PRESETS: Final[Mapping[str, Preset]] = MappingProxyType(
    {
        "oidc": Preset(issuer=None, scopes=OIDC_SCOPES, issuer_configurable=True),
        "google": Preset(issuer="https://accounts.google.com", scopes=OIDC_SCOPES, label="Google"),
        "microsoft": Preset(
            issuer=f"https://login.microsoftonline.com/{MICROSOFT_TENANT}/v2.0",
            scopes=OIDC_SCOPES,
            discovery_url="https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration",
            issuer_configurable=True,
            label="Microsoft",
        ),
        "github": Preset(
            issuer=None,
            scopes=("read:user", "user:email"),
            endpoints=MappingProxyType(
                {
                    "authorization_endpoint": "https://github.com/login/oauth/authorize",
                    "token_endpoint": "https://github.com/login/oauth/access_token",
                    "userinfo_endpoint": "https://api.github.com/user",
                    # The addresses and whether each is verified (needs ``user:email``).
                    "emails_endpoint": "https://api.github.com/user/emails",
                }
            ),
            label="GitHub",
        ),
        "apple": Preset(
            issuer="https://appleid.apple.com",
            scopes=("openid", "email", "name"),
            response_mode="form_post",
            secret_is_private_key=True,
            label="Apple",
        ),
    }
)


def expected_issuer(template: str, claims: Mapping[str, object]) -> str | None:
    """The ``iss`` a token must carry: ``template`` with Microsoft's ``{tenantid}`` filled from ``tid``.

    None when the template needs a tenant id and the token has no usable ``tid``.
    """
    if MICROSOFT_TENANT not in template:
        return template
    tid = claims.get("tid")
    if not isinstance(tid, str) or not tid or not all(c.isalnum() or c == "-" for c in tid):
        return None
    return template.replace(MICROSOFT_TENANT, tid)
