"""Reads a PROV-JSON document with the `prov` package, writes it as PROV-N (which fails on
anything PROV does not allow), and prints the number of records of each kind as JSON."""
import json
import sys

from prov.model import (
    ProvActivity,
    ProvAgent,
    ProvAssociation,
    ProvDerivation,
    ProvDocument,
    ProvEntity,
    ProvGeneration,
    ProvUsage,
)

document = ProvDocument.deserialize(content=sys.stdin.read(), format="json")
provn = document.get_provn()
assert provn.startswith("document"), provn[:100]
kinds = {
    "entity": ProvEntity,
    "activity": ProvActivity,
    "agent": ProvAgent,
    "used": ProvUsage,
    "wasGeneratedBy": ProvGeneration,
    "wasDerivedFrom": ProvDerivation,
    "wasAssociatedWith": ProvAssociation,
}
print(json.dumps({name: len(list(document.get_records(cls))) for name, cls in kinds.items()}, sort_keys=True))
