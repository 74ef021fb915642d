"""The catalog's index: every DynoSize's status lists the whole catalog, for admission.

The catalog ValidatingAdmissionPolicy (dynoform.api.admission) sees one DynoSize at a time.
Two rules need every size at once (an unknown size; eco and basic never mixed with another
tier), so each DynoSize carries the whole catalog, in catalog order, in `status.catalog`. The
operator writes it when a size is added, changed or removed, and only where it differs: a
steady catalog costs no write. A size added while the operator is down is judged by its own
rules at once and is known to the others' rules once the operator has indexed it.
"""

from __future__ import annotations

import logging

from dynoform.api.sizes import Catalog
from dynoform.operator.cache import Cache
from dynoform.runtime.kube import Kube, NotFound

log = logging.getLogger("dynoform.operator.catalog")

# The work queue's key for the index (Formation keys are (namespace, name), never empty).
CATALOG_KEY = ("", "dynosizes")


async def index_catalog(kube: Kube, cache: Cache) -> None:
    """Write the catalog into the status of every DynoSize whose index is not it."""
    want = [entry.wire() for entry in Catalog(cache.sizes).index()]
    for name, have in sorted(cache.size_indexes.items()):
        if have == want:
            continue
        try:
            await kube.apply_status(name, None, {"catalog": want}, kind="DynoSize")
        except NotFound:
            continue  # Deleted meanwhile: its DELETED event re-queues the index.
        cache.size_indexes[name] = want
        log.info("Indexed the catalog in DynoSize %s: %d sizes", name, len(want))
