"""What ``/security`` promises, and only while the running NamoID keeps the promise.

Every claim on the page is registered here with the capability it depends on and the tests
that attack it. The page shows a claim only when its capability is present in the running
server (``CAPABILITIES``: a predicate of the settings), so it never promises more than the
code does. A capability that is designed but not built yet is listed in ``PLANNED`` (none now): its
claims stay written here, and hidden. A feature that builds one (OTP, connected providers,
data export and erasure, KYC, an email or SMS sender) moves its name from ``PLANNED`` into
``CAPABILITIES`` and names the tests that prove its claims; ``tests/unit/web/test_security_claims.py``
fails when a shown claim names no test, or a test that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from namoid.settings import Settings

Section = Literal["protect", "privacy"]
Capability = Callable[[Settings], bool]


def _always(settings: Settings) -> bool:
    return True


def _row_level_security(settings: Settings) -> bool:
    return settings.is_postgres


def _shared_rate_limits(settings: Settings) -> bool:
    return settings.redis_url is not None


def _ses_email(settings: Settings) -> bool:
    return settings.email_sender == "ses"


def _aws_sms(settings: Settings) -> bool:
    return settings.sms_sender == "end-user-messaging"


#: Capabilities the code has, each with whether this running server has it.
CAPABILITIES: Final[dict[str, Capability]] = {
    "tls": _always,
    "signed_tokens": _always,
    "pkce": _always,
    "refresh_rotation": _always,
    "secrets_at_rest": _always,
    "audit_log": _always,
    "tenant_isolation": _always,
    "row_level_security": _row_level_security,
    "rate_limits": _always,
    "shared_rate_limits": _shared_rate_limits,
    "supply_chain": _always,
    "log_redaction": _always,
    "hosting": _always,
    "email": _ses_email,
    "sms": _aws_sms,
    "aadhaar_kyc": _always,
    "provider_token_vault": _always,
    "provider_consent": _always,
    "client_consent": _always,
    "otp": _always,
    "data_export_erasure": _always,
}
#: Designed, not built: their claims are never shown.
PLANNED: Final[frozenset[str]] = frozenset()


@dataclass(frozen=True, slots=True)
class Claim:
    section: Section
    capability: str
    text: str
    #: pytest node ids (``path::test``) of the tests that attack the claim.
    proofs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SubProcessor:
    capability: str
    name: str
    purpose: str
    region: str


CLAIMS: Final[tuple[Claim, ...]] = (
    Claim(
        "protect",
        "tls",
        "All traffic is served over TLS; plain HTTP is not served at all.",
        ("tests/e2e/test_server.py::test_plain_http_is_not_served",),
    ),
    Claim(
        "protect",
        "signed_tokens",
        "Tokens are signed (RS256 by default) and verifiable via our published JWKS; the private "
        "signing key never leaves our service.",
        (
            "tests/features/token/test_authorization_code.py::test_code_exchange_issues_verifiable_tokens",
            "tests/features/discovery/test_discovery.py::test_jwks_publishes_public_keys_only_for_every_algorithm",
        ),
    ),
    Claim(
        "protect",
        "pkce",
        "PKCE is mandatory on every OAuth flow. There is no implicit flow and no password grant.",
        (
            "tests/features/authorize/test_authorize_errors.py::"
            "test_errors_after_the_redirect_uri_is_trusted_go_back_with_state_and_iss",
            "tests/features/token/test_authorization_code.py::test_pkce_verifier_is_required_well_formed_and_matching",
            "tests/features/token/test_token_endpoint.py::test_unsupported_or_missing_grant_types",
        ),
    ),
    Claim(
        "protect",
        "refresh_rotation",
        "Refresh tokens rotate on every use; a replayed refresh token revokes the entire token chain "
        "and raises a security event. Only the client's own retry within its short reuse window "
        "(at most 60 s, for parallel page loads and lost responses) gets the same successor again, "
        "never a new one.",
        (
            "tests/features/token/test_refresh_reuse.py::test_parallel_page_loads_share_one_successor_and_the_family_lives",
            "tests/features/token/test_refresh_reuse.py::test_nobody_else_gets_the_successor",
            "tests/features/token/test_refresh_token.py::test_rotation_issues_a_new_token_each_time",
            "tests/features/token/test_refresh_token.py::test_replay_revokes_the_family_and_its_access_tokens",
            "tests/features/token/test_replay_events.py::test_concurrent_replays_raise_exactly_one_event",
        ),
    ),
    Claim(
        "protect",
        "secrets_at_rest",
        "Signing keys are encrypted at rest with AES-256-GCM under a rotatable keyring; tokens, secrets "
        "and passwords never appear in logs.",
        (
            "tests/unit/crypto/test_keyring.py::test_value_moved_elsewhere_fails",
            "tests/unit/crypto/test_keyring.py::test_rotation",
            "tests/unit/test_logs.py::test_secrets_never_reach_the_output",
        ),
    ),
    Claim(
        "protect",
        "provider_token_vault",
        "Connected-provider tokens are encrypted at rest with AES-256-GCM, under a rotatable key. "
        "They never appear in logs.",
        (
            "tests/features/providers/test_vault.py::test_tokens_are_stored_encrypted_and_read_back",
            "tests/features/providers/test_vault.py::test_a_ciphertext_moved_to_another_users_row_fails",
            "tests/features/providers/test_vault.py::test_rotation_with_live_tokens_keeps_everything_readable",
            "tests/features/providers/test_never_in_logs.py::test_no_upstream_value_reaches_a_log_line_or_an_audit_row",
        ),
    ),
    Claim(
        "protect",
        "audit_log",
        "Every state-changing action writes to an append-only audit log.",
        (
            "tests/features/audit/test_completeness_http.py::test_a_change_comes_with_its_audit_entry",
            "tests/features/audit/test_completeness_cli.py::test_every_command_is_exercised_and_audits_its_changes",
            "tests/contract/test_audit_append_only.py::test_app_role_cannot_change_audit_rows",
        ),
    ),
    Claim(
        "protect",
        "tenant_isolation",
        "Strict multi-tenant isolation: every query is scoped to your organization.",
        ("tests/contract/test_tenant_isolation.py::test_repo_reads_return_only_the_given_org",),
    ),
    Claim(
        "protect",
        "row_level_security",
        "The database enforces that isolation again (PostgreSQL row-level security): a query that "
        "forgot its organization sees nothing of another's.",
        (
            "tests/contract/test_tenant_isolation.py::test_rls_hides_other_orgs_when_the_filter_is_omitted",
            "tests/contract/test_tenant_isolation.py::test_app_role_cannot_switch_off_rls",
        ),
    ),
    Claim(
        "protect",
        "rate_limits",
        "Sign-in and token endpoints are rate-limited to defend against credential stuffing.",
        ("tests/features/ratelimit/test_stuffing.py::test_credential_stuffing_many_accounts_many_ips",),
    ),
    Claim(
        "protect",
        "shared_rate_limits",
        "Rate limits are Redis-backed, shared by every server node, and never switched off when Redis fails.",
        (
            "tests/unit/ratelimit/test_limiter.py::test_two_limiters_on_one_redis_count_together",
            "tests/features/ratelimit/test_degraded.py::test_redis_down_still_limits_and_is_reported",
        ),
    ),
    Claim(
        "protect",
        "otp",
        "OTP endpoints are rate-limited to defend against OTP-flood abuse.",
        (
            "tests/features/otpflows/test_floods.py::test_one_destination_from_many_ips_gets_three_codes",
            "tests/features/otpflows/test_floods.py::test_many_destinations_from_one_org_stop_at_its_hourly_budget",
            "tests/features/otpflows/test_floods.py::test_guessing_a_code_ends_after_five_tries",
        ),
    ),
    Claim(
        "protect",
        "supply_chain",
        "Dependencies follow a 7-day publish-age cool-off to blunt supply-chain attacks; CI runs "
        "secret-scanning, dependency/CVE audit, and static analysis.",
        (
            "tests/tools/test_supply_chain.py::test_every_lock_honours_the_cool_off",
            "tests/tools/test_secret_scan.py::test_planted_aws_key_fails",
            "tests/tools/test_cve_audit.py::test_repository_locks_pass_against_the_snapshot",
            "tests/tools/test_semgrep_rules.py::test_bad_snippet_is_flagged",
        ),
    ),
    Claim(
        "privacy",
        "log_redaction",
        "Personal data stays out of our logs: access logs keep only the request parameters needed "
        "to operate the service (never a sign-in hint, email address or phone number).",
        (
            "tests/unit/test_logs.py::test_access_log_lines_carry_no_login_hint",
            "tests/e2e/test_server.py::test_access_log_keeps_personal_data_out",
        ),
    ),
    Claim(
        "privacy",
        "aadhaar_kyc",
        "Aadhaar offline KYC, when used, is masked: we store only the last four digits, a keyed hash "
        "of the name, and the signature-verification result. The offline e-KYC file does not contain "
        "your Aadhaar number and we never ask for it; the uploaded file, its XML and photo are "
        "processed in memory and never persisted.",
        (
            "tests/features/kyc/test_service.py::test_a_synthetic_file_is_verified_and_stored_masked",
            "tests/features/kyc/test_service.py::test_bad_input_is_refused_and_nothing_is_stored",
            "tests/features/kyc/test_no_persistence.py::test_the_upload_flow_writes_and_logs_nothing_of_the_file",
            "tests/features/kyc/test_no_persistence.py::test_the_spy_catches_a_spooled_upload",
            "tests/unit/kyc/test_offline_ekyc.py::test_dtds_and_entities_are_refused",
        ),
    ),
    Claim(
        "privacy",
        "data_export_erasure",
        "Data-subject rights: a complete export of a user's data and connected providers is "
        "available; deletion cascades a soft-delete plus a tombstone record.",
        (
            "tests/features/privacy/test_export.py::test_the_export_holds_every_section_validates_and_holds_no_secret",
            "tests/unit/privacy/test_registry.py::test_every_personal_table_is_in_a_section",
            "tests/e2e/test_browser_export.py::test_a_user_exports_their_data_in_a_real_browser",
            "tests/features/erasure/test_erasure.py::test_delete_then_purge_after_the_grace_period",
            "tests/contract/test_tombstones_append_only.py::test_even_the_owner_cannot_change_tombstones",
            "tests/e2e/test_browser_erasure.py::test_delete_from_the_console_then_only_the_tombstone_is_left",
        ),
    ),
    Claim(
        "privacy",
        "provider_consent",
        "Consent for every provider connection is recorded with timestamp, IP, and scope.",
        (
            "tests/features/providers/test_signin_flow.py::test_connect_then_sign_in_with_the_provider",
            "tests/contract/test_consent_ledger_append_only.py::test_even_the_owner_cannot_change_consent_records",
        ),
    ),
    Claim(
        "privacy",
        "client_consent",
        "Every consent given to an application is recorded with the version and hash of the notice "
        "shown, time, IP, scopes and claims; withdrawing it, in one click or through the API, revokes "
        "the application's tokens and notifies it with a signed security event.",
        (
            "tests/features/consent/test_ledger.py::test_a_clicked_grant_is_recorded_with_notice_time_ip_scopes_and_claims",
            "tests/features/consent/test_withdrawal.py::test_withdrawal_revokes_the_rp_and_it_receives_a_signed_set",
            "tests/features/account/test_console_consents.py::test_withdraw_in_one_click",
        ),
    ),
)

SUB_PROCESSORS: Final[tuple[SubProcessor, ...]] = (
    SubProcessor(
        "hosting",
        "Amazon Web Services",
        "Compute, database, and cache (EC2, PostgreSQL, Redis)",
        "ap-south-1",
    ),
    SubProcessor(
        "email", "Amazon SES", "Transactional email (OTP, verification, password reset)", "ap-south-1"
    ),
    SubProcessor("sms", "Amazon End User Messaging", "SMS OTP delivery", "ap-south-1"),
)


def has(settings: Settings, capability: str) -> bool:
    """Whether this running server has ``capability`` (a planned one: never)."""
    present = CAPABILITIES.get(capability)
    return present is not None and present(settings)


def shown(settings: Settings, section: Section) -> list[Claim]:
    """The claims of ``section`` that this running server keeps, in page order."""
    return [claim for claim in CLAIMS if claim.section == section and has(settings, claim.capability)]


def shown_sub_processors(settings: Settings) -> list[SubProcessor]:
    return [entry for entry in SUB_PROCESSORS if has(settings, entry.capability)]
