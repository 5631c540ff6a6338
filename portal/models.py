"""Import every model module so that the metadata is complete (migrations, tests)."""

import importlib

MODEL_MODULES = (
    "portal.core.models",
    "portal.accounts.models",
    "portal.network.models",
    "portal.tables.models",
    "portal.card.models",
    "portal.fund.models",
    "portal.fund.support_models",
    "portal.gaf.models",
    "portal.catalogue.models",
    "portal.proposals.models",
    "portal.voting.models",
)


def import_all() -> None:
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise
