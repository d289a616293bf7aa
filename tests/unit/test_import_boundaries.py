"""The layers keep to what they may import (`.importlinter`, drawn in docs/development.md#the-map).

import-linter reads the source and builds the import graph (nothing is imported or run), then
checks each contract: the domain and the jobs never import the web layer, notices format with
`storefront.formatting` rather than the web's filters, views get a shopper-facing reason from
billing instead of reading Toss's codes, and the Toss sandbox shares no code with the store.
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest
from importlinter import api  # noqa: F401  (configures import-linter's settings)
from importlinter.application import use_cases

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".importlinter"


def test_every_layer_keeps_to_its_imports():
    # On failure the captured output names each forbidden import and the chain that reaches it.
    # (The application's entry point, not the command's: that one reconfigures logging for the process.)
    assert use_cases.lint_imports(config_filename=str(CONFIG), cache_dir=None, no_logo=True, is_debug_mode=True)


def broken_contracts(graph: grimp.ImportGraph) -> set[str]:
    options = use_cases.read_user_options(str(CONFIG))
    use_cases._register_contract_types(options)
    report = use_cases._build_report(
        graph=graph,
        graph_building_duration=0,
        user_options=options,
        limit_to_contracts=(),
        show_timings=False,
        verbose=False,
    )
    return {contract.name for contract, check in report.get_contracts_and_checks() if not check.kept}


@pytest.mark.parametrize(
    ("importer", "imported", "contract"),
    [
        ("storefront.billing.recurring.charging", "storefront.web.filters", "The domain never imports the web layer"),
        ("storefront.retention", "storefront.web.admin.views", "The domain never imports the web layer"),
        (
            "storefront.notify.render",
            "storefront.web.filters",
            "Notices never import the web layer (formatting is storefront.formatting)",
        ),
        ("storefront.jobs.charging", "storefront.web.webhooks", "Jobs never import the web layer"),
        (
            "storefront.web.checkout.views",
            "storefront.toss.errors",
            "The web layer asks the domain, never Toss (reasons come from billing)",
        ),
        (
            "storefront.web.account.queries",
            "storefront.toss",
            "The web layer asks the domain, never Toss (reasons come from billing)",
        ),
        ("storefront.toss.sandbox.clock", "storefront.clock", "The Toss sandbox shares no code with the store"),
        ("storefront.toss.sandbox.settings", "storefront.config", "The Toss sandbox shares no code with the store"),
        ("storefront.toss.sandbox.api", "storefront.toss.errors", "The Toss sandbox shares no code with the store"),
        ("storefront.toss.sandbox.api", "storefront", "The Toss sandbox shares no code with the store"),
    ],
)
def test_a_crossing_import_breaks_its_contract(importer, imported, contract):
    graph = grimp.build_graph("storefront", cache_dir=None)
    assert broken_contracts(graph) == set()
    graph.add_import(importer=importer, imported=imported, line_number=1, line_contents=f"import {imported}")
    assert contract in broken_contracts(graph)
