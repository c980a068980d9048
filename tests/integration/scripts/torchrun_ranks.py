"""Started by `torchrun --nproc_per_node 2` (CPU, gloo): one of the ways ranks share SwanLab runs.

rank0:    only rank 0 calls init(), logs and finishes.
shared:   every rank calls init(id=RUN_ID, resume="allow"), logs `loss` and `rank<r>/loss` at the
          same steps as the other rank, and finishes, with no barrier between them.
parallel: as shared, with SwanLab's parallel="shared" in place of resume="allow".
Each rank prints "rank <r> <swanlab module>".
"""

import os
import sys

import swanlab
import torch.distributed as dist

pattern, run_id = sys.argv[1], os.environ.get("RUN_ID")
dist.init_process_group("gloo")
rank = dist.get_rank()
os.write(1, f"rank {rank} {swanlab.__name__}\n".encode())  # one write: the ranks share stdout
if pattern == "rank0":
    if rank == 0:
        swanlab.init(experiment_name="rank0", config={"world_size": dist.get_world_size()})
        for step in range(5):
            swanlab.log({"loss": step / 10}, step=step)
        swanlab.finish()
else:
    # No ordering between the ranks: whichever init() reaches swanlabd first makes the run, the
    # others join it as peers, and the run ends at the last finish(), in whatever order they come.
    shared = {"resume": "allow"} if pattern == "shared" else {"parallel": "shared"}
    swanlab.init(experiment_name=pattern, id=run_id, **shared)
    for step in range(5):
        swanlab.log({"loss": rank + step / 10, f"rank{rank}/loss": step / 10}, step=step)
    swanlab.finish()
dist.barrier()  # every rank is done with its run before any exits (torchrun tears the group down)
dist.destroy_process_group()
