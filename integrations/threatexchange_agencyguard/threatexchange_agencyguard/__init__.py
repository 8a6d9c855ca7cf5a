"""python-threatexchange extension: an AgencyGuard agency's bank of confirmed deepfakes.

`threatexchange config extensions add threatexchange_agencyguard` loads TX_MANIFEST."""

from threatexchange.extensions.manifest import ThreatExchangeExtensionManifest

from threatexchange_agencyguard.api import (
    AgencyGuardCheckpoint,
    AgencyGuardCollabConfig,
    AgencyGuardCredentials,
    AgencyGuardFeedError,
    AgencyGuardSignal,
    AgencyGuardSignalExchangeAPI,
    AgencyGuardSignalMetadata,
)

TX_MANIFEST = ThreatExchangeExtensionManifest(apis=(AgencyGuardSignalExchangeAPI,))

__all__ = [
    "TX_MANIFEST",
    "AgencyGuardCheckpoint",
    "AgencyGuardCollabConfig",
    "AgencyGuardCredentials",
    "AgencyGuardFeedError",
    "AgencyGuardSignal",
    "AgencyGuardSignalExchangeAPI",
    "AgencyGuardSignalMetadata",
]
