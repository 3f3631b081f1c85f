"""The fine-tuning recipe: config → model + data + compiled constraint → training loop → run folder.

`trainer.recipe.train` is the loop; `trainer.config` the validated YAML config; `trainer.schedules`
the λ(t) schedules; `trainer.monitor` the collapse monitor; `trainer.demo` the README's main job.
"""
