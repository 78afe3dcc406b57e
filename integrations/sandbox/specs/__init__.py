"""The official OpenAPI documents the sandboxes validate request bodies against."""

from pathlib import Path

SPECS_DIR = Path(__file__).resolve().parent
