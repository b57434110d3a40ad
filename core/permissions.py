"""API permissions: a role must hold the model permission for what it asks, reads included."""

from __future__ import annotations

from rest_framework.permissions import DjangoModelPermissions


class ModelPermissions(DjangoModelPermissions):
    """DRF's DjangoModelPermissions, with GET/HEAD/OPTIONS requiring ``view_<model>`` too.

    The default for every API view (settings.REST_FRAMEWORK); tenancy narrows the rows further
    (core/tenancy.py).
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }
