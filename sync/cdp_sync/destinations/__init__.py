"""Destinations, one module each, behind :class:`cdp_sync.destinations.base.Destination`."""

from __future__ import annotations

from pathlib import Path

from cdp_sync.config import SyncConfig
from cdp_sync.destinations.base import Destination
from cdp_sync.destinations.braze import BrazeDestination
from cdp_sync.destinations.file import FileDestination
from cdp_sync.destinations.hubspot import HubSpotDestination
from cdp_sync.destinations.mailchimp import MailchimpDestination
from cdp_sync.destinations.webhook import WebhookDestination

REGISTRY: dict[str, type[Destination]] = {
    cls.kind: cls
    for cls in (
        FileDestination,
        WebhookDestination,
        HubSpotDestination,
        MailchimpDestination,
        BrazeDestination,
    )
}


def build_destination(sync: SyncConfig, project_dir: Path) -> Destination:
    return REGISTRY[sync.destination.type](sync, project_dir)


__all__ = ["Destination", "REGISTRY", "build_destination"]
