"""Settings with the nested classes: project, experiment, terminal, probe; merged once, then passed to init()."""

import swanlab

swanlab.merge_settings(swanlab.Settings(probe=swanlab.Settings.Probe(requirements=False)))
settings = swanlab.Settings(
    project=swanlab.Settings.Project(name="settings_nested"),
    experiment=swanlab.Settings.Experiment(
        name="from-settings", description="named by Settings", tags=["baseline", "nested"], group="ablation"
    ),
    terminal=swanlab.Settings.Terminal(proxy_type="stdout"),
)
run = swanlab.init(settings=settings)
print("experiment", run.name)
for step in range(12):
    swanlab.log({"metric": step * 0.5})
swanlab.finish()
