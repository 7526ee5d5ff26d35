"""Identity, after OpenStack's keystone: users, projects, roles, tokens and the catalog.

labcloud keeps keystone's REST shapes (v3 tokens, and the v2.0 form the seed's curl example
uses) and leaves out domains other than ``Default``, groups, federation, policy files and
fernet: tokens are random ids stored in the identity database, like keystone's old UUID
tokens, so revoking one is a row update.
"""
