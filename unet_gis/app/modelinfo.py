"""How the Run dialog describes a model (its spec is read without torch by
:func:`unet_gis.model.metadata.load_spec`)."""

from __future__ import annotations

from unet_gis.model.spec import ModelSpec


def describe(spec: ModelSpec) -> str:
    classes = ", ".join(c.name for c in spec.classes)
    return (f"{spec.name}: classes {classes}; bands {', '.join(spec.bands)}; "
            f"GSD {spec.gsd_m:g} m; tile {spec.tile} px, halo {spec.halo} px")
