"""Where a workspace's local models may be loaded from and written to.

A workspace reads the built-in model (MODELS_DIR/builtin), its own folder
(MODELS_DIR/workspaces/<id>/: what its training runs write) and, when the operator
sets one, a shared read-only models folder. A profile's `model` is a folder name
inside those (own folder first), or an absolute path that lies inside them. The
path is resolved (symlinks and `..`) before it is judged, and a refusal reads the
same whether the path exists or not, so it tells nothing about the worker's disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workers.generation.engine import BUILTIN, InvalidRequest

WORKSPACES = "workspaces"
# One message for every refused path, naming none: it must not tell what exists where.
REFUSED = ("The model is not a folder this workspace may use: name a folder in the "
           "workspace's own models (what its training runs write) or in the shared models "
           "folder, or 'builtin'.")


class ModelPathRefused(InvalidRequest):
    """The model is outside every folder the workspace may read."""


@dataclass(frozen=True)
class ModelRoots:
    builtin_dir: Path  # the built-in model, read only
    workspace_dir: Path  # the workspace's own models
    shared_dir: Path | None = None  # the operator's shared models, read only

    @classmethod
    def of(cls, *, models_dir: Path, workspace_id: int, shared_dir: Path | None = None
           ) -> ModelRoots:
        return cls(builtin_dir=Path(models_dir) / BUILTIN,
                   workspace_dir=Path(models_dir) / WORKSPACES / str(workspace_id),
                   shared_dir=shared_dir)

    def _readable(self) -> list[Path]:
        return [root.resolve() for root in (self.workspace_dir, self.shared_dir) if root]

    def _allows(self, path: Path) -> bool:
        builtin = self.builtin_dir.resolve()
        return path == builtin or path.is_relative_to(builtin) or any(
            path != root and path.is_relative_to(root) for root in self._readable())

    def model_folder(self, model: str) -> Path:
        """The resolved folder of `model` ("" and "builtin" name the built-in model), or
        ModelPathRefused with one message for every path outside the allowed folders."""
        if model in ("", BUILTIN):
            return self.builtin_dir.resolve()
        given = Path(model)
        candidates = [given] if given.is_absolute() else [
            root / given for root in (self.workspace_dir, self.shared_dir) if root]
        allowed = [path for path in (c.resolve() for c in candidates) if self._allows(path)]
        if not allowed:
            raise ModelPathRefused(REFUSED)
        return next((path for path in allowed if path.is_dir()), allowed[0])
