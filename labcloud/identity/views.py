"""How keystone writes tokens, catalogs and version documents in JSON (v3 and v2.0)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from labcloud.identity.manager import DEFAULT_DOMAIN, TokenInfo
from labcloud.identity.models import Endpoint, Project, Role, Service, User


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def for_project(catalog: list[dict[str, Any]], project_id: str | None) -> list[dict[str, Any]]:
    """Fill keystone's ``$(project_id)s`` endpoint templates (cinder's URL has one)."""
    pid = project_id or ""
    return [
        s
        | {
            "endpoints": [
                e | {"url": e["url"].replace("$(project_id)s", pid).replace("%(project_id)s", pid)}
                for e in s["endpoints"]
            ]
        }
        for s in catalog
    ]


def token_v3(info: TokenInfo, catalog: list[dict[str, Any]] | None) -> dict[str, Any]:
    token: dict[str, Any] = {
        "methods": list(info.methods),
        "user": {
            "id": info.user_id,
            "name": info.user_name,
            "domain": DEFAULT_DOMAIN,
            "password_expires_at": None,
        },
        "audit_ids": list(info.audit_ids or (info.audit_id,)),
        "issued_at": iso(info.issued_at),
        "expires_at": iso(info.expires_at),
    }
    if info.project_id:
        token["project"] = {
            "id": info.project_id,
            "name": info.project_name,
            "domain": DEFAULT_DOMAIN,
        }
        token["is_domain"] = False
        token["roles"] = [{"id": rid, "name": name} for rid, name in info.roles]
        if catalog is not None:
            token["catalog"] = for_project(catalog, info.project_id)
    return {"token": token}


def access_v2(info: TokenInfo, catalog: list[dict[str, Any]]) -> dict[str, Any]:
    """The v2.0 ``access`` document the seed's curl example gets back."""
    service_catalog = []
    for service in for_project(catalog, info.project_id):
        urls = {e["interface"]: e for e in service["endpoints"]}
        public = urls.get("public", {})
        service_catalog.append(
            {
                "type": service["type"],
                "name": service["name"],
                "endpoints_links": [],
                "endpoints": [
                    {
                        "id": public.get("id"),
                        "region": public.get("region"),
                        "publicURL": public.get("url"),
                        "internalURL": urls.get("internal", public).get("url"),
                        "adminURL": urls.get("admin", public).get("url"),
                    }
                ],
            }
        )
    token: dict[str, Any] = {
        "id": info.id,
        "issued_at": iso(info.issued_at),
        "expires": iso(info.expires_at).replace(".000000", ""),
        "audit_ids": list(info.audit_ids or (info.audit_id,)),
    }
    if info.project_id:
        token["tenant"] = {
            "id": info.project_id,
            "name": info.project_name,
            "enabled": True,
            "description": None,
        }
    roles = [{"name": name} for _, name in info.roles]
    return {
        "access": {
            "token": token,
            "serviceCatalog": service_catalog if info.project_id else [],
            "user": {
                "id": info.user_id,
                "name": info.user_name,
                "username": info.user_name,
                "roles": roles,
                "roles_links": [],
            },
            "metadata": {"is_admin": 0, "roles": [rid for rid, _ in info.roles]},
        }
    }


def version(base_url: str, version_id: str, status: str) -> dict[str, Any]:
    path = "v3" if version_id.startswith("v3") else "v2.0"
    media = "application/vnd.openstack.identity-" + ("v3+json" if path == "v3" else "v2.0+json")
    return {
        "id": version_id,
        "status": status,
        "updated": "2024-04-01T00:00:00Z",
        "links": [{"rel": "self", "href": f"{base_url}/{path}/"}],
        "media-types": [{"base": "application/json", "type": media}],
    }


def user(base: str, row: User) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "domain_id": DEFAULT_DOMAIN["id"],
        "enabled": row.enabled,
        "default_project_id": row.default_project_id,
        "password_expires_at": None,
        "options": {},
        "links": {"self": f"{base}/v3/users/{row.id}"},
    }


def project(base: str, row: Project) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "domain_id": DEFAULT_DOMAIN["id"],
        "parent_id": DEFAULT_DOMAIN["id"],
        "enabled": row.enabled,
        "is_domain": False,
        "tags": [],
        "options": {},
        "links": {"self": f"{base}/v3/projects/{row.id}"},
    }


def role(base: str, row: Role) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "domain_id": None,
        "description": None,
        "options": {},
        "links": {"self": f"{base}/v3/roles/{row.id}"},
    }


def assignment(
    base: str, ids: tuple[str, str, str], names: dict[str, str] | None = None
) -> dict[str, Any]:
    """One entry of ``GET /v3/role_assignments`` (with ``include_names``: ``names`` by id)."""
    user_id, project_id, role_id = ids

    def ref(ident: str) -> dict[str, Any]:
        named: dict[str, Any] = {"id": ident}
        if names is not None:
            named["name"] = names.get(ident)
        return named

    scope = ref(project_id)
    if names is not None:
        scope["domain"] = DEFAULT_DOMAIN
    return {
        "role": ref(role_id),
        "user": ref(user_id) | ({"domain": DEFAULT_DOMAIN} if names is not None else {}),
        "scope": {"project": scope},
        "links": {"assignment": f"{base}/v3/projects/{project_id}/users/{user_id}/roles/{role_id}"},
    }


def service(base: str, row: Service) -> dict[str, Any]:
    return {
        "id": row.id,
        "type": row.type,
        "name": row.name,
        "enabled": True,
        "description": "",
        "links": {"self": f"{base}/v3/services/{row.id}"},
    }


def endpoint(base: str, row: Endpoint) -> dict[str, Any]:
    return {
        "id": row.id,
        "service_id": row.service_id,
        "interface": row.interface,
        "region": row.region,
        "region_id": row.region,
        "url": row.url,
        "enabled": True,
        "links": {"self": f"{base}/v3/endpoints/{row.id}"},
    }


def collection(base: str, path: str, name: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {name: items, "links": {"self": f"{base}{path}", "previous": None, "next": None}}
