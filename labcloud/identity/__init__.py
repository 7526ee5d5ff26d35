"""Identity, after OpenStack's keystone: users, projects, roles, tokens and the catalog.

labcloud keeps keystone's REST shapes (v3 tokens, and the v2.0 form the seed's curl example
uses) and its token provider: Fernet tokens (fernet.py) encrypted with keys from a key
repository that ``labcloud token rotate`` rotates, no token stored anywhere, and revocation
events (tokens.py) recorded by ``DELETE /v3/auth/tokens`` and by account changes. It leaves
out domains other than ``Default``, groups, federation, trusts and policy files (the rules
are labcloud.policy's).
"""
