"""`Molecule`: RDKit molecules, SMILES and PDB/SDF/MOL files -> a PDB file (needs RDKit).

A molecule without 3D coordinates gets them from RDKit's EmbedMolecule, as in the official SDK;
that runs in the background encoder, on a copy, so the script's molecule is never changed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from swanlab_client.media._base import Media, check_caption, instance_of, require

_WHAT = "swanlab_client.Molecule"
_FILES = {".pdb": "pdb", ".sdf": "sdf", ".sd": "sdf", ".mol": "mol"}


def _chem() -> Any:
    return require("rdkit.Chem", _WHAT)


class Molecule(Media):
    """A molecule: an rdkit.Chem.Mol, a SMILES string, a path to a .pdb/.sdf/.mol file, or another Molecule."""

    KEY_TYPE: ClassVar[str] = "MOLECULE"
    MEDIUM: ClassVar[str] = "molecule"

    def __init__(self, data: Any, caption: str | None = None) -> None:
        if self._nested(data, caption):
            return
        self.ext = "pdb"
        self.caption = check_caption(caption)
        self._pdb: str | None = None
        self._mol: Any = None
        if instance_of(data, "rdkit.Chem", "Mol"):
            self._mol = _chem().Mol(data)  # a copy: embedding adds a conformer
        elif isinstance(data, (str, os.PathLike)) and os.path.isfile(data):
            self._read(Path(data))
        elif isinstance(data, str):
            chem = _chem()
            self._mol = chem.MolFromSmiles(data)
            if self._mol is None:
                raise ValueError(f"Could not parse SMILES string: {data}")
        else:
            raise TypeError(
                f"Unsupported input type: {type(data)}. Expected rdkit.Chem.Mol, str (SMILES or file path), or Path."
            )

    def _read(self, path: Path) -> None:
        kind = next((k for suffix, k in _FILES.items() if path.name.lower().endswith(suffix)), None)
        if kind is None:
            raise ValueError(f"Unsupported file type: {path.name}. Supported extensions: {', '.join(sorted(_FILES))}")
        chem = _chem()
        if kind == "pdb":
            self._pdb = path.read_text()
            return
        mol = next(iter(chem.SDMolSupplier(str(path))), None) if kind == "sdf" else chem.MolFromMolFile(str(path))
        if mol is None:
            raise ValueError(f"Could not read molecule from {kind.upper()} file: {path}")
        self._mol = mol

    @classmethod
    def from_mol(cls, mol: Any, caption: str | None = None) -> Molecule:
        return cls(mol, caption=caption)

    @classmethod
    def from_smiles(cls, smiles: str, caption: str | None = None) -> Molecule:
        return cls(smiles, caption=caption)

    @classmethod
    def from_pdb(cls, path: str | Path, caption: str | None = None) -> Molecule:
        return cls(path, caption=caption)

    @classmethod
    def from_sdf(cls, path: str | Path, caption: str | None = None) -> Molecule:
        return cls(path, caption=caption)

    @classmethod
    def from_mol_file(cls, path: str | Path, caption: str | None = None) -> Molecule:
        return cls(path, caption=caption)

    @property
    def nbytes(self) -> int:
        return len(self._pdb) if self._pdb is not None else 1024

    def encode(self) -> bytes:
        if self._pdb is not None:
            return self._pdb.encode()
        chem = _chem()
        mol = chem.Mol(self._mol)
        if mol.GetNumConformers() == 0:
            require("rdkit.Chem.AllChem", _WHAT).EmbedMolecule(mol)
        return chem.MolToPDBBlock(mol).encode()
