"""A molecule generator's samples: Molecule from SMILES and from a PDB file (needs RDKit)."""

from pathlib import Path

import swanlab

PDB = """HETATM    1  C1  LIG     1       0.000   0.000   0.000  1.00  0.00           C
HETATM    2  O1  LIG     1       1.200   0.000   0.000  1.00  0.00           O
END
"""
Path("ligand.pdb").write_text(PDB)

swanlab.init(project="molecule_smiles", experiment_name="gen")
for step, smiles in enumerate(["CCO", "c1ccccc1"]):
    swanlab.log({"gen/sample": swanlab.Molecule.from_smiles(smiles, caption=smiles), "gen/validity": 1.0}, step=step)
swanlab.log({"ligand": swanlab.Molecule.from_pdb("ligand.pdb", caption="ligand")}, step=2)
swanlab.finish()
