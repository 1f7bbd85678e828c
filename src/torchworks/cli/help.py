"""``torchworks MODE TASK|RUN --help``: the settings of the task or run, generated from its typed config."""

from __future__ import annotations

from torchworks.cli.arguments import SETTING_NOTE, run_task


def train_help(task_name: str | None) -> list[tuple[str, list[str]]]:
    from torchworks.config.modes import settings_help
    from torchworks.config.schema import TrainConfig

    common = list(TrainConfig.model_fields)
    if task_name is None:
        return [("Settings of every task (key=value; config=FILE.yaml reads them from a file):",
                 settings_help(TrainConfig)),
                ("Each task adds its own: torchworks train TASK --help (tasks: torchworks tasks).", [])]
    from torchworks.tasks import get_task

    task = get_task(task_name)
    own = [name for name in task.config_class.model_fields if name not in common]
    return [(f"Settings of {task.name} (key=value; config=FILE.yaml reads them from a file):",
             settings_help(task.config_class, names=own)),
            ("Settings of every task:", settings_help(task.config_class, names=common))]


def predict_help(run: str | None) -> list[tuple[str, list[str]]]:
    from torchworks.config.modes import PredictSettings, settings_help

    sections = [("Predict settings (key=value):", settings_help(PredictSettings))]
    if run is None:
        return [*sections, ("torchworks predict RUN --help adds the run's prediction options.", []),
                (SETTING_NOTE, [])]
    bundle, task = run_task(run)
    options = settings_help(task.config_class, names=task.prediction_options, values=bundle.config)
    title = (f"Prediction options of this {task.name} run (current values):" if options
             else f"This {task.name} run has no prediction options.")
    return [*sections, (title, options), (SETTING_NOTE, [])]


def explain_help(run: str | None) -> list[tuple[str, list[str]]]:
    from torchworks.config.modes import ExplainSettings, settings_help

    sections = [("Explain settings (key=value):", settings_help(ExplainSettings))]
    if run is None:
        return [*sections, ("torchworks explain RUN --help adds the run's methods and their options.", []),
                (SETTING_NOTE, [])]
    _, task = run_task(run)
    if "explain" not in task.modes:
        return [*sections, (f"{task.name} models cannot be explained.", [])]
    methods = ", ".join(task.explain_methods)
    options = ", ".join(f"{name}=..." for name in task.explain_options) or "none"
    return [*sections, (f"Methods of {task.name} (the first is the default): {methods}", []),
            (f"Options of its methods: {options}", []), (SETTING_NOTE, [])]


def mode_help(title: str, settings_class) -> list[tuple[str, list[str]]]:
    from torchworks.config.modes import settings_help

    return [(f"{title} (key=value; config=FILE.yaml reads them from a file):", settings_help(settings_class))]


def quickstart_help(task_name: str | None) -> list[tuple[str, list[str]]]:
    from torchworks.config.modes import settings_help
    from torchworks.engine.catalog import list_samples
    from torchworks.tasks import get_task, list_tasks

    if task_name is None:
        names = [cls.name for cls in list_tasks()]
        return [("Tasks with a recipe (torchworks quickstart TASK --help shows one): " + ", ".join(names), []),
                (f"Samples they use: {', '.join(sorted(s.name for s in list_samples()))}", [])]
    from torchworks.engine.settings import config_as_dict, task_config

    task = get_task(task_name)
    recipe = task.quickstart_settings()
    resolved = config_as_dict(task_config(task, recipe))  # the sample's own defaults under the recipe
    return [(f"Recipe of {task.name}: " + " ".join(f"{key}={value}" for key, value in recipe.items()), []),
            ("Every setting it trains with (override any as key=value):",
             settings_help(task.config_class, values=resolved))]


def generator_help(name: str | None) -> list[tuple[str, list[str]]]:
    import inspect

    from torchworks.engine.catalog import get_sample, list_samples

    makers = sorted(s.name for s in list_samples() if s.generator is not None)
    sample = get_sample(name) if name else None
    if sample is None or sample.generator is None:
        return [("Samples with a generator (torchworks data make NAME --help): " + ", ".join(makers), [])]
    generator = sample.generator_function()
    lines = []
    for parameter in inspect.signature(generator).parameters.values():
        default = "(required)" if parameter.default is inspect.Parameter.empty else parameter.default
        lines.append(f"  {parameter.name}={default}")
    summary = (inspect.getdoc(generator) or "").split("\n\n")[0].replace("\n", " ")
    return [(f"Settings of the {sample.name} generator (key=value): {summary}", lines)]
