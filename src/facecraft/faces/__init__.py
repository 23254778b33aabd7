"""facecraft.faces: upload checks, speaking/listening analysis, and the Face bundle (build, load, export).

See DESIGN.md. The bundle format is ``facecraft.face/2``; thresholds of the checks live in
``facecraft.faces.thresholds``.
"""

from facecraft.faces.analyze import AnalysisParams, analyze
from facecraft.faces.build import BUILD_STEPS, BuildContext, ChecksFailed, build_face
from facecraft.faces.bundle import FORMAT, FaceBundle, export_bundle, import_bundle, load_bundle
from facecraft.faces.checks import check_image, check_video
from facecraft.faces.thresholds import Thresholds
from facecraft.faces.types import Analysis, Check, CheckReport

__all__ = [
    "FORMAT",
    "BUILD_STEPS",
    "Analysis",
    "AnalysisParams",
    "BuildContext",
    "ChecksFailed",
    "Check",
    "CheckReport",
    "FaceBundle",
    "Thresholds",
    "analyze",
    "build_face",
    "check_image",
    "check_video",
    "export_bundle",
    "import_bundle",
    "load_bundle",
]
